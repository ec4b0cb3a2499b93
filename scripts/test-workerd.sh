#!/usr/bin/env bash
# test-workerd.sh — the Workers end-to-end tests: install the pinned tools, build the example
# Worker, start a TLS-only local "TiDB Cloud" and a plaintext server for the Hyperdrive stand-in
# (scripts/local-tidb.sh), and run tests/workerd (node --test) against the Worker running in
# workerd through Miniflare. Stops the servers after.
#
#   scripts/test-workerd.sh [node --test arguments…]
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'test-workerd: %s\n' "$*" >&2; }

start=$SECONDS
eval "$(scripts/worker-tools.sh)"
log "tools ready after $((SECONDS - start)) s"

# The relay server, which the relay path's tests start in front of the TLS-only server.
cargo build --quiet --features relay-server --bin tidb-connect-relay

start=$SECONDS
scripts/build-worker.sh
log "worker built after $((SECONDS - start)) s"

# The TLS-only server (own CA, certificate for localhost and 127.0.0.1, free port) for the
# direct path (StartTLS from the Worker), and a plaintext one behind the Hyperdrive binding
# (Miniflare's Hyperdrive stand-in cannot log in to MariaDB over TLS; see tests/workerd/harness.mjs).
tls_dir="$PWD/target/local-tidb/workerd"
plain_dir="$PWD/target/local-tidb/workerd-plain"
cleanup() {
    scripts/local-tidb.sh stop --dir "$tls_dir" >/dev/null 2>&1 || true
    scripts/local-tidb.sh stop --dir "$plain_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$(scripts/local-tidb.sh start --dir "$tls_dir" | sed 's/^TIDB_/TIDB_WORKERD_/')"
eval "$(scripts/local-tidb.sh start --dir "$plain_dir" --no-tls | sed 's/^TIDB_/TIDB_WORKERD_PLAIN_/')"
export TIDB_WORKERD_URL TIDB_WORKERD_CA TIDB_WORKERD_PORT TIDB_WORKERD_PLAIN_URL TIDB_WORKERD_PLAIN_PORT
# workerd reads extra trusted roots from here for the StartTLS upgrade.
export NODE_EXTRA_CA_CERTS="$TIDB_WORKERD_CA"

start=$SECONDS
(cd tests/workerd && node --test "$@")
log "node --test took $((SECONDS - start)) s"
