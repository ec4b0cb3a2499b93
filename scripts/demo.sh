#!/usr/bin/env bash
# The main job: start the TLS-only local server (a stand-in for TiDB Cloud's public endpoint)
# and run the quickstart against it over the direct path, natively.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$PWD/target/local-tidb/demo"
trap 'scripts/local-tidb.sh stop --dir "$dir"' EXIT

scripts/setup.sh
eval "$(scripts/local-tidb.sh start --dir "$dir")"
export TIDB_URL

echo "== direct-public path (MySQL over verified TLS) =="
cargo run --quiet --example quickstart
echo "== hyperdrive and vpc-relay paths: not in this release yet (see README, Limitations) =="
