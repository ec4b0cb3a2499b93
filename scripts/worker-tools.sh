#!/usr/bin/env bash
# worker-tools.sh — install the pinned tools that build and run the example Worker, without
# letting worker-build download anything at build time.
#
#   scripts/worker-tools.sh          install what is missing, then print the variables
#   eval "$(scripts/worker-tools.sh)"   … and export them into the current shell
#
# Cargo tools go to $TIDB_CONNECT_TOOLS (default ${XDG_CACHE_HOME:-$HOME/.cache}/tidb-connect/tools),
# so reruns, other clones and CI on the same machine reuse them. The npm packages pinned in
# tests/workerd/package-lock.json (miniflare with its workerd, esbuild, binaryen) are installed
# into the same cache under a directory named after the lock file's hash and linked as
# tests/workerd/node_modules.
#
# stdout carries only `export NAME=value` lines; progress and timings go to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

# The CLI must match the wasm-bindgen crate in the Worker's lock file exactly: the two sides of
# the generated bindings are built from the same version.
readonly WASM_BINDGEN_VERSION=0.2.130
readonly WORKER_BUILD_VERSION=0.8.7

readonly TOOLS=${TIDB_CONNECT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/tidb-connect/tools}
readonly NPM_PROJECT=tests/workerd

log() { printf 'worker-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Runs a command, then logs how long it took.
timed() {
    local what=$1 start=$SECONDS
    shift
    "$@" >&2
    log "$what took $((SECONDS - start)) s"
}

# The version of a crate in a lock file (first match).
locked_version() {
    awk -v name="$1" '$0 == "name = \"" name "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$2"
}

check_lock_versions() {
    local lock got
    for lock in examples/worker-app/Cargo.lock Cargo.lock; do
        [[ -f $lock ]] || continue
        got=$(locked_version wasm-bindgen "$lock")
        if [[ -n $got && $got != "$WASM_BINDGEN_VERSION" ]]; then
            die "$lock has wasm-bindgen $got but the CLI is pinned at $WASM_BINDGEN_VERSION; change both together"
        fi
    done
}

# cargo install into its own root, skipped when the binary already reports the version.
cargo_tool() {
    local crate=$1 version=$2 bin=$3 root=$TOOLS/cargo/$1-$2
    shift 3
    if [[ -x $root/bin/$bin ]] && "$root/bin/$bin" --version 2>/dev/null | grep -qF "$version"; then
        log "$crate $version: cached in $root"
        return 0
    fi
    log "$crate $version: installing into $root"
    timed "cargo install $crate $version" \
        cargo install --quiet "$crate" --version "=$version" --root "$root" --force "$@"
    "$root/bin/$bin" --version 2>/dev/null | grep -qF "$version" \
        || die "$root/bin/$bin does not report version $version"
}

npm_tools() {
    local hash dir link=$NPM_PROJECT/node_modules
    command -v node >/dev/null || die "node is not installed (Node 20 or later is needed)"
    command -v npm >/dev/null || die "npm is not installed"
    hash=$(cat "$NPM_PROJECT/package.json" "$NPM_PROJECT/package-lock.json" | sha256sum | cut -c1-16)
    dir=$TOOLS/npm/$hash
    if [[ -f $dir/.installed ]]; then
        log "npm packages: cached in $dir"
    else
        log "npm packages: installing into $dir"
        rm -rf -- "$dir"
        mkdir -p -- "$dir"
        cp -- "$NPM_PROJECT/package.json" "$NPM_PROJECT/package-lock.json" "$dir/"
        # --ignore-scripts is not used: workerd's package checks its platform binary on install.
        timed "npm ci" npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        touch -- "$dir/.installed"
    fi
    if [[ -e $link && ! -L $link ]]; then
        die "$link exists and is not a link into the tool cache; remove it"
    fi
    ln -sfn -- "$dir/node_modules" "$link"
    NPM_BIN=$dir/node_modules
}

check_lock_versions
mkdir -p -- "$TOOLS"
cargo_tool wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build --locked
npm_tools

# The native esbuild binary (not the JS wrapper in esbuild/bin), and binaryen's wasm-opt.
esbuild_bin=$NPM_BIN/@esbuild/linux-x64/bin/esbuild
[[ -x $esbuild_bin ]] || esbuild_bin=$NPM_BIN/esbuild/bin/esbuild
wasm_opt_bin=$NPM_BIN/binaryen/bin/wasm-opt
for bin in "$esbuild_bin" "$wasm_opt_bin"; do
    [[ -x $bin ]] || die "$bin is missing after npm ci"
done

cat <<EOF
export WASM_BINDGEN_BIN=$TOOLS/cargo/wasm-bindgen-cli-$WASM_BINDGEN_VERSION/bin/wasm-bindgen
export WORKER_BUILD_BIN=$TOOLS/cargo/worker-build-$WORKER_BUILD_VERSION/bin/worker-build
export ESBUILD_BIN=$esbuild_bin
export WASM_OPT_BIN=$wasm_opt_bin
EOF
