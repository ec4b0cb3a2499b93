#!/usr/bin/env bash
# build-worker.sh — build examples/worker-app with `worker-build --release`, using only the
# pinned local tools from scripts/worker-tools.sh (nothing is downloaded), and measure the
# bundle Cloudflare would receive.
#
#   scripts/build-worker.sh
#
# Output: examples/worker-app/build/ (index.js: the bundled JS entry module with the
# wasm-bindgen glue; index_bg.wasm; worker/shim.mjs, a re-export kept for older configs) and
# examples/worker-app/bundle-size.txt, which the README cites.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'build-worker: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

eval "$(scripts/worker-tools.sh)"
# worker-build falls back to downloading a tool when its variable names no program; refuse to
# start instead.
for var in WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN WORKER_BUILD_BIN; do
    [[ -x ${!var} ]] || die "$var=${!var} is not an executable"
done
export WASM_BINDGEN_BIN ESBUILD_BIN WASM_OPT_BIN

# Panic locations embed source paths: map them to fixed names, so the bundle holds no local
# paths and its size does not depend on where the repository or cargo's cache lives.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="${RUSTFLAGS:-} --remap-path-prefix=$PWD=tidb-connect --remap-path-prefix=$cargo_home=cargo"

app=examples/worker-app
start=$SECONDS
(cd "$app" && "$WORKER_BUILD_BIN" --release) >&2
log "worker-build --release took $((SECONDS - start)) s"

# worker-build 0.8.7 writes the entry module build/index.js, which imports ./index_bg.wasm;
# build/worker/shim.mjs only re-exports it. These files are what Cloudflare receives.
out=$app/build
[[ -f $out/index.js && -f $out/index_bg.wasm ]] || die "$out/index.js or index_bg.wasm was not produced"

# worker-build runs wasm-opt with --debuginfo, which keeps the function-name section (only used
# to name frames in stack traces; panic messages keep their text). Dropping it takes about a
# seventh off the compressed upload.
"$WASM_OPT_BIN" "$out/index_bg.wasm" --strip-debug -o "$out/index_bg.wasm"
mapfile -t files < <(find "$out" -path "$out/.tmp" -prune -o -type f \( -name '*.mjs' -o -name '*.js' -o -name '*.wasm' \) -print | sort)

raw=0
gz=0
report=''
for f in "${files[@]}"; do
    r=$(stat -c %s -- "$f")
    g=$(gzip -9 -c -- "$f" | wc -c)
    raw=$((raw + r))
    gz=$((gz + g))
    report+="  ${f#"$app"/}: $r bytes, $g gzip -9"$'\n'
done
# The upload is compressed as a whole; gzip of a tar of the files is close to that.
total_gz=$(tar -C "$out" -cf - "${files[@]#"$out"/}" | gzip -9 | wc -c)

{
    printf 'bundle of examples/worker-app (worker-build %s, --release, wasm-opt from binaryen)\n' \
        "$("$WORKER_BUILD_BIN" --version 2>/dev/null | awk '{print $NF}')"
    printf '%s' "$report"
    printf 'total: %d bytes raw, %d bytes gzip -9 (files gzipped one by one), %d bytes as one gzip -9 tar\n' \
        "$raw" "$gz" "$total_gz"
} | tee "$app/bundle-size.txt" >&2
