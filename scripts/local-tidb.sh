#!/usr/bin/env bash
# local-tidb.sh — run a private MariaDB that behaves like TiDB Cloud's public
# endpoint (TLS required, a prefixed "<prefix>.root" user, database `test`),
# for the integration tests and the demo of tidb-connect.
#
#   scripts/local-tidb.sh start [--dir DIR] [--port PORT] [--max-allowed-packet SIZE]
#                               [--wait-timeout SECS] [--san SAN-LIST] [--general-log] [--no-tls]
#   scripts/local-tidb.sh stop  [--dir DIR]
#   scripts/local-tidb.sh env   [--dir DIR]
#
# `start` prints shell-sourceable TIDB_URL, TIDB_CA, TIDB_PORT, TIDB_DIR and
# TIDB_SOCKET lines on stdout (and keeps them in DIR/env); everything else goes
# to stderr, so `eval "$(scripts/local-tidb.sh start)"` is safe.
#
# Each instance lives wholly inside DIR (default: $PWD/.local-tidb/default):
# data/, tls/, tmp/, mysqld.sock, mysqld.pid, mysqld.log, env. It never touches a
# system MariaDB: it reads no config files (--no-defaults) and uses its own
# port, socket, pid file and datadir.

set -euo pipefail

readonly PROG=${0##*/}

# The credentials mimic a TiDB Cloud Serverless user: "<prefix>.root". The
# password deliberately holds URL-reserved characters so that clients must
# percent-decode the userinfo of TIDB_URL correctly.
readonly DB_USER='4zX9Tq1Local.root'
readonly DB_PASSWORD='p@ss:w/rd?#1'
readonly DB_NAME='test'

# Marker file that says "this directory is an instance made by this script".
# We only ever wipe or delete a DIR that carries it (or that is empty), so a
# mistyped --dir cannot destroy unrelated files. It also records the socket
# path, which may live outside DIR (see choose_socket_path).
readonly MARKER='.local-tidb'

# sun_path in struct sockaddr_un is 108 bytes including the trailing NUL.
readonly MAX_SOCKET_PATH=107
readonly START_TIMEOUT=30
readonly STOP_TIMEOUT=30

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat >&2 <<EOF
usage:
  $PROG start [--dir DIR] [--port PORT] [--max-allowed-packet SIZE]
              [--wait-timeout SECS] [--san SAN-LIST] [--general-log] [--no-tls]
  $PROG stop  [--dir DIR]
  $PROG env   [--dir DIR]

DIR defaults to \$PWD/.local-tidb/default. SAN-LIST defaults to
DNS:localhost,IP:127.0.0.1 (openssl subjectAltName syntax). --no-tls starts a
plaintext server instead (no certificates, TLS not offered).
EOF
}

# ---------------------------------------------------------------- helpers

# Quote a value for a POSIX shell: wrap in single quotes, and turn each
# embedded ' into '\'' so that sourcing the env file gives back the value.
shell_quote() {
    local s=$1 q="'\\''"
    printf "'%s'" "${s//\'/$q}"
}

# Percent-encode every byte of $1 that is not in the set of characters given
# by the bracket expression $2. LC_ALL=C makes ${s:i:1} step over bytes, not
# characters, so UTF-8 paths encode correctly.
percent_encode() {
    local LC_ALL=C
    local s=$1 keep=$2 out='' c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        # shellcheck disable=SC2254  # $keep is meant to be a pattern
        case $c in
            $keep) out+=$c ;;
            *) out+=$(printf '%%%02X' "'$c") ;;
        esac
    done
    printf '%s' "$out"
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "cannot install $* automatically: apt-get not found"
    log "installing $* with apt-get"
    # On a fresh machine the package lists may be empty or stale.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >&2
}

# Print the path of the first of the given programs that exists; /usr/sbin is
# searched too because it is not on PATH for ordinary users on Debian.
find_prog() {
    local name dir
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
        for dir in /usr/sbin /usr/local/sbin /usr/libexec; do
            if [[ -x $dir/$name ]]; then
                printf '%s\n' "$dir/$name"
                return 0
            fi
        done
    done
    return 1
}

# Locate the MariaDB programs (falling back to the older mysql* names) and the
# openssl CLI, installing them from Debian packages when missing.
find_tools() {
    if ! find_prog mariadbd mysqld >/dev/null || ! find_prog mariadb-install-db mysql_install_db >/dev/null; then
        apt_install mariadb-server mariadb-client
    fi
    if ! find_prog mariadb mysql >/dev/null || ! find_prog mariadb-admin mysqladmin >/dev/null; then
        apt_install mariadb-client
    fi
    if ! command -v openssl >/dev/null 2>&1; then
        apt_install openssl
    fi
    MARIADBD=$(find_prog mariadbd mysqld) || die "mariadbd not found"
    INSTALL_DB=$(find_prog mariadb-install-db mysql_install_db) || die "mariadb-install-db not found"
    CLIENT=$(find_prog mariadb mysql) || die "mariadb client not found"
    ADMIN=$(find_prog mariadb-admin mysqladmin) || die "mariadb-admin not found"
    OPENSSL=$(command -v openssl)
}

# Resolve DIR to an absolute path without requiring it to exist.
resolve_dir() {
    local d=$1
    [[ -n $d ]] || die "--dir must not be empty"
    [[ $d != *$'\n'* ]] || die "--dir must not contain a newline"
    [[ $d == /* ]] || d=$PWD/$d
    if command -v realpath >/dev/null 2>&1; then
        d=$(realpath -m -- "$d")
    fi
    [[ $d != / ]] || die "refusing to use / as DIR"
    printf '%s\n' "$d"
}

# Serialise start/stop on one DIR (parallel test processes may all call
# `start` on the same default DIR). The lock is a flock on the directory
# itself, so no file outside DIR is needed. fd 9 is closed for mariadbd so
# the server does not keep holding the lock after the script exits.
lock_dir() {
    command -v flock >/dev/null 2>&1 || return 0
    exec 9<"$DIR"
    flock -w 120 9 || die "timed out waiting for the lock on $DIR"
}

is_ours() { [[ -f $DIR/$MARKER ]]; }

dir_is_empty() {
    [[ -d $DIR ]] || return 0
    [[ -z $(find "$DIR" -mindepth 1 -maxdepth 1 -print -quit) ]]
}

# The socket path recorded in the marker (empty if unknown).
recorded_socket() {
    local line=''
    if is_ours; then
        IFS= read -r line <"$DIR/$MARKER" || true
    fi
    printf '%s' "${line#socket=}"
}

# Pid of the mariadbd serving DIR, if it is alive. The command line is checked
# so that a recycled pid of an unrelated process is never mistaken for ours.
running_pid() {
    local pid
    [[ -f $DIR/mysqld.pid ]] || return 1
    IFS= read -r pid <"$DIR/mysqld.pid" || true
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    if [[ -r /proc/$pid/cmdline ]]; then
        tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "--datadir=$DIR/data" || return 1
    fi
    printf '%s\n' "$pid"
}

# Remove the socket directory we created under /tmp for a long DIR path.
remove_socket_tmpdir() {
    local sock sockdir
    sock=$(recorded_socket)
    [[ -n $sock ]] || return 0
    sockdir=${sock%/*}
    case $sockdir in
        /tmp/local-tidb.*) rm -rf -- "$sockdir" ;;
    esac
}

# Empty DIR (keeping the directory itself, which we hold the lock on).
wipe_dir() {
    remove_socket_tmpdir
    find "$DIR" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
}

# Unix socket paths are limited to 107 bytes; for a deep DIR put the socket
# in a short private directory under /tmp instead (recorded in the marker and
# in env so that `stop` can clean it up).
choose_socket_path() {
    local sock=$DIR/mysqld.sock
    if ((${#sock} > MAX_SOCKET_PATH)); then
        sock=$(mktemp -d /tmp/local-tidb.XXXXXXXX)/mysqld.sock
        log "DIR is too deep for a unix socket path; using $sock"
    fi
    printf '%s\n' "$sock"
}

# A free TCP port on 127.0.0.1. We pick randomly *below* the kernel's
# ephemeral range, so that outgoing connections (which take their local port
# from that range) cannot grab the port between now and mariadbd binding it,
# and check with ss that nothing uses it in any state. Without ss, ask the
# kernel for a free port via python3. A rare collision with another script
# run is handled by retrying in start (see launch loop).
pick_free_port() {
    local lo=32768 hi port tries
    if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
        read -r lo _ </proc/sys/net/ipv4/ip_local_port_range || true
    fi
    hi=$((lo - 1))
    if command -v ss >/dev/null 2>&1 && ((hi > 20000)); then
        for ((tries = 0; tries < 200; tries++)); do
            port=$((20000 + (RANDOM * 32768 + RANDOM) % (hi - 20000 + 1)))
            if [[ -z $(ss -Htan "( sport = :$port )" 2>/dev/null) ]]; then
                printf '%s\n' "$port"
                return 0
            fi
        done
    fi
    command -v python3 >/dev/null 2>&1 || die "cannot find a free port: neither ss nor python3 is available"
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port_in_use() {
    command -v ss >/dev/null 2>&1 || return 1
    [[ -n $(ss -Hltn "( sport = :$1 )" 2>/dev/null) ]]
}

# --------------------------------------------------------------------- TLS

# Run openssl with its chatter in tls/openssl.log, shown only on failure
# (e.g. for a SAN list that openssl cannot parse).
ossl() {
    local tls=$1
    shift
    if ! "$OPENSSL" "$@" >>"$tls/openssl.log" 2>&1; then
        tail -n 20 -- "$tls/openssl.log" >&2 || true
        die "openssl $1 failed"
    fi
}

# A throwaway CA plus a server certificate signed by it. Both are v3 with the
# extensions rustls/webpki insist on: the CA has a critical basicConstraints
# CA:TRUE and keyCertSign; the server cert is explicitly not a CA, carries
# serverAuth and the SAN list (webpki ignores the CN), and both have key
# identifiers so chain building is unambiguous. RSA 2048 because every TLS
# stack and MariaDB's default TLS 1.2 cipher list accept it.
make_tls() {
    local tls=$1 san=$2 conf
    mkdir -p "$tls"
    conf=$tls/openssl.cnf
    cat >"$conf" <<EOF
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
    # Keys must not be readable by other users.
    (umask 077 && ossl "$tls" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tls/ca-key.pem")
    (umask 077 && ossl "$tls" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tls/server-key.pem")
    ossl "$tls" req -config "$conf" -new -x509 -sha256 -days 30 \
        -key "$tls/ca-key.pem" -subj "/O=local-tidb/CN=local-tidb test CA $$" \
        -extensions ca_ext -out "$tls/ca.pem"
    ossl "$tls" req -config "$conf" -new -sha256 \
        -key "$tls/server-key.pem" -subj "/O=local-tidb/CN=local-tidb server" \
        -out "$tls/server.csr"
    ossl "$tls" x509 -req -sha256 -days 30 -in "$tls/server.csr" \
        -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" -CAcreateserial -CAserial "$tls/ca.srl" \
        -extfile "$conf" -extensions server_ext -out "$tls/server.pem"
    rm -f -- "$tls/server.csr"
}

# ------------------------------------------------------------------ start

print_env() {
    cat -- "$DIR/env"
}

# Whether process $1 is alive. A zombie counts as dead: once mariadbd has
# exited it may linger unreaped by whatever adopted it, and waiting for that
# would only time out.
alive() {
    local state=''
    kill -0 "$1" 2>/dev/null || return 1
    if [[ -r /proc/$1/stat ]]; then
        # Field 3, after the parenthesised command name.
        state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || true
    fi
    [[ $state != Z ]]
}

# Wait up to $2 seconds for process $1 to exit.
wait_exit() {
    local deadline=$((SECONDS + $2))
    while alive "$1"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# Wait until mariadbd answers on its socket. Returns 1 if it died, 2 on
# timeout.
wait_ready() {
    local pid=$1 sock=$2 deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if "$ADMIN" --no-defaults --socket="$sock" --user=root --connect-timeout=1 ping >/dev/null 2>&1; then
            return 0
        fi
        alive "$pid" || return 1
        sleep 0.1
    done
    return 2
}

# Give up on a server that started but could not be set up; DIR stays for
# inspection and the next `start` wipes it.
abort_start() {
    kill -TERM "$1" 2>/dev/null || true
    die "$2 (log: $DIR/mysqld.log)"
}

cmd_start() {
    local port=$1 max_packet=$2 wait_timeout=$3 san=$4 general_log=$5 tls=$6
    local sock auto_port=0 pid rc attempt url ca log_offset

    mkdir -p -- "$DIR"
    lock_dir

    if is_ours && pid=$(running_pid) && [[ -s $DIR/env ]]; then
        log "instance in $DIR is already running (pid $pid); options of this call are ignored"
        print_env
        return 0
    fi
    if is_ours; then
        # Left over from a crash, a failed start or a reboot: start afresh.
        if pid=$(running_pid); then
            log "stopping half-started instance (pid $pid) in $DIR"
            kill -KILL "$pid" 2>/dev/null || true
            wait_exit "$pid" 5 || die "could not stop pid $pid"
        fi
        log "wiping stale instance in $DIR"
        wipe_dir
    elif ! dir_is_empty; then
        die "$DIR is not empty and was not created by $PROG; refusing to use it"
    fi

    find_tools

    if [[ -z $port ]]; then
        auto_port=1
        port=$(pick_free_port)
    elif port_in_use "$port"; then
        die "port $port on 127.0.0.1 is already in use"
    fi

    sock=$(choose_socket_path)
    printf 'socket=%s\n' "$sock" >"$DIR/$MARKER"

    if ((tls)); then
        log "generating TLS certificates (SAN: $san)"
        make_tls "$DIR/tls" "$san"
    fi

    log "initialising datadir $DIR/data"
    local -a common=(--no-defaults)
    if [[ $(id -u) -eq 0 ]]; then
        # mariadbd refuses to run as root unless told to explicitly.
        common+=(--user=root)
    fi
    # Small InnoDB files and no binlog keep initialisation and startup at
    # about a second; durability does not matter for a throwaway test server.
    #
    # A private tmpdir: bootstraps running in parallel in a shared /tmp were
    # seen to fail with "Error on delete of '/tmp/#sql-temptable-...'", and
    # our servers have no business in the system server's temp files either.
    mkdir -p "$DIR/tmp"
    local -a small=(
        --tmpdir="$DIR/tmp"
        --skip-log-bin
        --innodb-buffer-pool-size=64M
        --innodb-log-file-size=16M
        --innodb-flush-log-at-trx-commit=2
    )
    # No --user here even as root: with --user, mariadb-install-db chowns
    # the system-wide auth_pam_tool_dir (changing the system MariaDB's files)
    # and runs an unquoted chown that breaks on DIRs with spaces. Bootstrap
    # mode runs fine as root without it.
    if ! "$INSTALL_DB" --no-defaults --datadir="$DIR/data" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        "${small[@]}" >"$DIR/install.log" 2>&1; then
        tail -n 30 -- "$DIR/install.log" >&2 || true
        die "mariadb-install-db failed (log: $DIR/install.log)"
    fi

    for attempt in 1 2 3 4 5; do
        local -a opts=(
            "${common[@]}"
            --datadir="$DIR/data"
            --socket="$sock"
            --pid-file="$DIR/mysqld.pid"
            --log-error="$DIR/mysqld.log"
            --port="$port"
            --bind-address=127.0.0.1
            --skip-name-resolve
            "${small[@]}"
            --max-allowed-packet="$max_packet"
            # TiDB's defaults: utf8mb4 with the binary collation.
            --character-set-server=utf8mb4
            --collation-server=utf8mb4_bin
            # Tests provoke failed handshakes on purpose (bad CA, wrong SAN);
            # TiDB never blocks a host for that, so neither should we.
            --max-connect-errors=1000000000
        )
        if [[ -n $wait_timeout ]]; then
            # Set both: a client that sets CLIENT_INTERACTIVE (e.g. the
            # mariadb CLI on a terminal) gets interactive_timeout as its
            # session wait_timeout; TiDB has both variables too.
            opts+=(--wait-timeout="$wait_timeout" --interactive-timeout="$wait_timeout")
        fi
        if ((tls)); then
            # TiDB Cloud's public endpoint only accepts TLS connections.
            opts+=(
                --ssl-ca="$DIR/tls/ca.pem"
                --ssl-cert="$DIR/tls/server.pem"
                --ssl-key="$DIR/tls/server-key.pem"
                --require-secure-transport=ON
                "--tls-version=TLSv1.2,TLSv1.3"
            )
        fi
        if ((general_log)); then
            # TABLE output so that tests can read mysql.general_log via SQL.
            opts+=(--general-log=1 --log-output=TABLE)
        fi

        log "starting mariadbd on 127.0.0.1:$port (attempt $attempt)"
        # Only this attempt's part of the log tells why it failed.
        log_offset=1
        if [[ -f $DIR/mysqld.log ]]; then
            log_offset=$(($(wc -c <"$DIR/mysqld.log") + 1))
        fi
        # setsid puts the server in its own session so it survives this script
        # and its terminal; its stdio must not be ours, or a caller capturing
        # our stdout would wait for the server to exit. fd 9 is the DIR lock.
        setsid "$MARIADBD" "${opts[@]}" </dev/null >>"$DIR/mysqld.log" 2>&1 9<&- &
        pid=$!

        rc=0
        wait_ready "$pid" "$sock" || rc=$?
        if ((rc == 0)); then
            break
        fi
        if ((rc == 1)) && ((auto_port)) && ((attempt < 5)) \
            && tail -c "+$log_offset" -- "$DIR/mysqld.log" | grep -qE 'Bind on TCP/IP port|Address already in use'; then
            # Someone took the port between our check and the bind: retry.
            log "port $port was taken meanwhile; trying another"
            port=$(pick_free_port)
            continue
        fi
        if ((rc == 2)); then
            log "mariadbd did not become ready within ${START_TIMEOUT}s"
            kill -KILL "$pid" 2>/dev/null || true
        else
            log "mariadbd exited during startup"
        fi
        tail -n 30 -- "$DIR/mysqld.log" >&2 || true
        die "could not start mariadbd (log: $DIR/mysqld.log)"
    done
    # The pid file is authoritative (setsid may have forked).
    pid=$(running_pid) || die "mariadbd is up but $DIR/mysqld.pid is missing or wrong"

    # Make it look like TiDB Cloud: a prefixed user with full privileges
    # (tests need KILL, SET GLOBAL and reading mysql.general_log) and a `test`
    # database. There are no anonymous accounts, so '%' alone matches both
    # TCP from 127.0.0.1 and the unix socket. Passwordless root is kept only
    # on the socket (for this script); its twins for 127.0.0.1, ::1 and the
    # machine's hostname are dropped.
    local pw_sql=${DB_PASSWORD//\\/\\\\} drop_roots
    pw_sql=${pw_sql//\'/\\\'}
    drop_roots=$("$CLIENT" --no-defaults --socket="$sock" --user=root --batch --skip-column-names \
        -e "SELECT CONCAT(QUOTE(User), '@', QUOTE(Host)) FROM mysql.user WHERE User = 'root' AND Host <> 'localhost'") \
        || abort_start "$pid" "could not list the root accounts"
    drop_roots=${drop_roots//$'\n'/, }
    if ! "$CLIENT" --no-defaults --socket="$sock" --user=root --batch <<EOF >&2; then
${drop_roots:+DROP USER $drop_roots;}
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\`;
CREATE USER '$DB_USER'@'%' IDENTIFIED BY '$pw_sql';
GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
EOF
        abort_start "$pid" "could not create the user and database"
    fi

    # If the certificates were unusable, mariadbd starts without TLS and,
    # with require_secure_transport, would silently refuse every TCP client.
    local have_ssl
    have_ssl=$("$CLIENT" --no-defaults --socket="$sock" --user=root --batch --skip-column-names \
        -e "SELECT @@have_ssl")
    if ((tls)) && [[ $have_ssl != YES ]]; then
        tail -n 30 -- "$DIR/mysqld.log" >&2 || true
        abort_start "$pid" "mariadbd started without TLS (have_ssl=$have_ssl)"
    fi

    url="mysql://$(percent_encode "$DB_USER" '[A-Za-z0-9._~-]'):$(percent_encode "$DB_PASSWORD" '[A-Za-z0-9._~-]')"
    if ((tls)); then
        ca=$DIR/tls/ca.pem
        url+="@127.0.0.1:$port/$DB_NAME?ssl-mode=verify_identity&ssl-ca=$(percent_encode "$ca" '[A-Za-z0-9/._-]')"
    else
        # A plaintext server, for testing what clients do when TLS is not offered.
        ca=''
        url+="@127.0.0.1:$port/$DB_NAME?ssl-mode=disabled"
    fi
    {
        printf 'TIDB_URL=%s\n' "$(shell_quote "$url")"
        printf 'TIDB_CA=%s\n' "$(shell_quote "$ca")"
        printf 'TIDB_PORT=%s\n' "$(shell_quote "$port")"
        printf 'TIDB_DIR=%s\n' "$(shell_quote "$DIR")"
        printf 'TIDB_SOCKET=%s\n' "$(shell_quote "$sock")"
    } >"$DIR/env.tmp"
    mv -f -- "$DIR/env.tmp" "$DIR/env"
    log "ready: mariadbd pid $pid, 127.0.0.1:$port, dir $DIR"
    print_env
}

# ------------------------------------------------------------------- stop

cmd_stop() {
    local pid
    if [[ ! -d $DIR ]]; then
        log "no instance in $DIR; nothing to stop"
        return 0
    fi
    if ! is_ours; then
        if dir_is_empty; then
            rmdir -- "$DIR" 2>/dev/null || true
        else
            log "$DIR was not created by $PROG; leaving it alone"
        fi
        log "no instance in $DIR; nothing to stop"
        return 0
    fi
    lock_dir

    if pid=$(running_pid); then
        log "stopping mariadbd (pid $pid) in $DIR"
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_exit "$pid" "$STOP_TIMEOUT"; then
            log "mariadbd did not exit within ${STOP_TIMEOUT}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait_exit "$pid" 5 || die "could not stop pid $pid"
        fi
    else
        log "no running instance in $DIR"
    fi
    remove_socket_tmpdir
    rm -rf -- "$DIR"
    log "removed $DIR"
}

# -------------------------------------------------------------------- env

cmd_env() {
    if is_ours && running_pid >/dev/null && [[ -s $DIR/env ]]; then
        print_env
    else
        die "no running instance in $DIR"
    fi
}

# ------------------------------------------------------------------- main

main() {
    (($# > 0)) || { usage; exit 2; }
    local cmd=$1
    shift
    case $cmd in
        start | stop | env) ;;
        -h | --help | help) usage; exit 0 ;;
        *) usage; die "unknown command: $cmd" ;;
    esac

    local dir=$PWD/.local-tidb/default port='' max_packet=64M wait_timeout=''
    local san='DNS:localhost,IP:127.0.0.1' general_log=0 tls=1 opt val
    while (($# > 0)); do
        opt=$1
        shift
        case $opt in
            --general-log)
                general_log=1
                continue
                ;;
            --no-tls)
                tls=0
                continue
                ;;
            -h | --help) usage; exit 0 ;;
            --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
            --*)
                (($# > 0)) || die "$opt needs a value"
                val=$1
                shift
                ;;
            *) usage; die "unexpected argument: $opt" ;;
        esac
        case $cmd:$opt in
            *:--dir) dir=$val ;;
            start:--port) port=$val ;;
            start:--max-allowed-packet) max_packet=$val ;;
            start:--wait-timeout) wait_timeout=$val ;;
            start:--san) san=$val ;;
            *) usage; die "unknown option for $cmd: $opt" ;;
        esac
    done
    if [[ $cmd != start ]] && ((general_log || !tls)); then
        die "--general-log and --no-tls are only valid for start"
    fi

    if [[ -n $port ]]; then
        if ! [[ $port =~ ^[0-9]+$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
            die "bad --port: $port"
        fi
        port=$((10#$port))
    fi
    [[ $max_packet =~ ^[0-9]+[KMGkmg]?$ ]] || die "bad --max-allowed-packet: $max_packet (e.g. 4M)"
    if [[ -n $wait_timeout ]]; then
        if ! [[ $wait_timeout =~ ^[0-9]+$ ]] || ((10#$wait_timeout < 1)); then
            die "bad --wait-timeout: $wait_timeout"
        fi
    fi
    # The SAN list goes into an openssl config file; allow only what SAN
    # entries need so nothing else can be injected into it.
    [[ $san =~ ^[A-Za-z0-9:.,*_-]+$ ]] || die "bad --san: $san (e.g. DNS:localhost,IP:127.0.0.1)"

    DIR=$(resolve_dir "$dir")
    readonly DIR

    case $cmd in
        start) cmd_start "$port" "$max_packet" "$wait_timeout" "$san" "$general_log" "$tls" ;;
        stop) cmd_stop ;;
        env) cmd_env ;;
    esac
}

main "$@"
