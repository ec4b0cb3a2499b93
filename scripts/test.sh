#!/usr/bin/env bash
# The whole test suite: starts the local servers the tests use, runs every test (unit,
# conformance over every native backend including the relay, TLS, fault and abuse cases, doc
# tests, the official JavaScript driver against the relay, the Worker in workerd, a quick run
# of the path harness), and stops the servers again.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

main="$PWD/target/local-tidb/test-main"
alt="$PWD/target/local-tidb/test-alt"
plain="$PWD/target/local-tidb/test-plain"
cleanup() {
    for dir in "$main" "$alt" "$plain"; do
        scripts/local-tidb.sh stop --dir "$dir" || true
    done
}
trap cleanup EXIT

# The TLS-only servers: main (certificate for localhost/127.0.0.1, 64M packets, general log)
# and alt (certificate for db.internal only, 4M packets, 3 s idle timeout).
eval "$(scripts/local-tidb.sh start --dir "$main" --general-log | sed 's/^TIDB_/TIDB_TEST_MAIN_/')"
eval "$(scripts/local-tidb.sh start --dir "$alt" --san DNS:db.internal --max-allowed-packet 4M \
    --wait-timeout 3 | sed 's/^TIDB_/TIDB_TEST_ALT_/')"
# And a plaintext one that offers no TLS (for the ssl-mode=preferred fallback).
eval "$(scripts/local-tidb.sh start --dir "$plain" --no-tls | sed 's/^TIDB_/TIDB_TEST_PLAIN_/')"
export TIDB_TEST_MAIN_URL TIDB_TEST_MAIN_CA TIDB_TEST_MAIN_PORT
export TIDB_TEST_ALT_URL TIDB_TEST_ALT_CA TIDB_TEST_ALT_PORT
export TIDB_TEST_PLAIN_URL TIDB_TEST_PLAIN_CA TIDB_TEST_PLAIN_PORT

# With the relay server compiled in, so the relay's tests (which start relays in-process, and
# the binary for the --help check) run too.
cargo test --all-targets --features relay-server
cargo test --doc --features relay-server
# The official @tidbcloud/serverless driver (pinned in package-lock.json) against the relay
# binary, which the test starts on a free port in front of the main server.
(
    cd tests/relay-js
    npm ci --no-audit --no-fund --loglevel=error
    TIDB_RELAY_BIN="$PWD/../../target/debug/tidb-connect-relay" node --test
)
# The quickstart against the TLS-only server, as the demo runs it.
TIDB_URL="$TIDB_TEST_MAIN_URL" cargo run --quiet --example quickstart >/dev/null
# The example Worker in workerd (Miniflare): builds it with the pinned tools and runs
# tests/workerd against its own TLS-only server.
scripts/test-workerd.sh
# The path harness: its unit tests, then a quick run of every path this build has, so it
# cannot rot (the figures are printed, never asserted).
cargo test --quiet -p tidb-connect-bench
cargo run --quiet --release -p tidb-connect-bench -- --quick --url "$TIDB_TEST_MAIN_URL" \
    --json target/tidb-connect-bench-quick.json
echo "all tests passed"
