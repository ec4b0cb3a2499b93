#!/usr/bin/env bash
# The main job: start the TLS-only local server (a stand-in for TiDB Cloud) and run the same
# app, examples/quickstart.rs, over each path by changing only TIDB_URL:
#   1. direct-public: MySQL over verified TLS (mysql_async);
#   2. the same URL on the crate's own wire client (client=wire), the client Workers run;
#   3. Hyperdrive: hyperdrive://DEMO, the database in CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DEMO
#      as wrangler passes it in local development (text protocol, parameters bound on the client);
#   4. VPC relay: relay+http:// to a tidb-connect-relay started here in front of the server.
# The Workers runtime itself is exercised by scripts/test-workerd.sh (part of scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$PWD/target/local-tidb/demo"
relay_pid=""
cleanup() {
    [ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null || true
    scripts/local-tidb.sh stop --dir "$dir"
}
trap cleanup EXIT

scripts/setup.sh
eval "$(scripts/local-tidb.sh start --dir "$dir")"
server_url=$TIDB_URL
cargo build --quiet --example quickstart
cargo build --quiet --features relay-server --bin tidb-connect-relay

run() {
    echo
    echo "== $1 =="
    TIDB_URL=$2 target/debug/examples/quickstart
}

run "direct-public path: MySQL over verified TLS (mysql_async)" "$server_url"
run "direct-public path on the wire client (as in a Worker)" "$server_url&client=wire"
CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DEMO=$server_url \
    run "hyperdrive path: hyperdrive://DEMO" "hyperdrive://DEMO"

# The relay gets the server without credentials; the app's Basic credentials are the
# database user's, which the relay passes on.
rest=${server_url#mysql://}
userinfo=${rest%%@*}
after_at=${rest#*@}
log="$dir/relay.log"
target/debug/tidb-connect-relay --listen 127.0.0.1:0 --upstream "mysql://$after_at" >"$log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
    grep -q 'listening on 127.0.0.1:' "$log" && break
    sleep 0.1
done
port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2)
[ -n "$port" ] || { cat "$log" >&2; echo "demo: the relay did not start" >&2; exit 1; }
db_and_query=${after_at#*/}
run "vpc-relay path: relay+http:// → tidb-connect-relay → MySQL over TLS" \
    "relay+http://$userinfo@127.0.0.1:$port/${db_and_query%%\?*}"
