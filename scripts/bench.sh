#!/usr/bin/env bash
# Runs the path harness (bench/) against a private TLS-only server it starts and stops:
#   scripts/bench.sh [--quick] [harness options…]   (scripts/bench.sh --help lists them)
# Builds the relay server binary first when this build has it; without it the relay path is
# skipped and the report says why. Against another server: TIDB_URL=… cargo run --release
# -p tidb-connect-bench -- [options].
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
    if [[ $arg == --help || $arg == -h ]]; then
        exec cargo run --quiet --release -p tidb-connect-bench -- --help
    fi
done

scripts/setup.sh
dir="$PWD/target/local-tidb/bench-run"
trap 'scripts/local-tidb.sh stop --dir "$dir" || true' EXIT
eval "$(scripts/local-tidb.sh start --dir "$dir")"
export TIDB_URL

# The relay binary exists once the relay backend has landed; until then this step fails
# quietly and the harness reports the relay path as skipped.
if cargo build --quiet --release --features relay-server --bin tidb-connect-relay 2>/dev/null; then
    export TIDB_BENCH_RELAY_BIN="$PWD/target/release/tidb-connect-relay"
fi
cargo run --quiet --release -p tidb-connect-bench -- "$@"
