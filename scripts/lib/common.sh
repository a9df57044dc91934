# Shared by scripts/run, scripts/test and scripts/bench-*: installs what is missing, and runs a
# private PostgreSQL cluster. Source it; do not execute it.
# shellcheck shell=bash

STABLEID_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export STABLEID_ROOT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ensure_apt PKG… — installs the Debian packages that are not installed yet (needs root or sudo).
ensure_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get install ${missing[*]} failed"
}

# ensure_pip_command CMD SPEC — installs SPEC with pip unless CMD is already on PATH.
ensure_pip_command() {
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2 from PyPI"
    python3 -m pip install -q "$2" || die "pip install $2 failed"
    hash -r
    command -v "$1" >/dev/null 2>&1 || die "$1 still not on PATH after installing $2"
}

# The libraries the package links and the PostgreSQL server the scripts run.
ensure_build_dependencies() {
    command -v swift >/dev/null 2>&1 || die "swift is not on PATH (this machine kind ships it at /opt/swift)"
    # openssl (the command): docs/AUDIT.md's checkpoint recipe is run by the tests.
    ensure_apt libpq-dev libcurl4-openssl-dev libssl-dev openssl pkg-config postgresql postgresql-contrib
}

pg_bindir() {
    local dir
    dir="$(pg_config --bindir 2>/dev/null)"
    if [ ! -x "$dir/initdb" ]; then
        dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    fi
    [ -x "$dir/initdb" ] || die "no PostgreSQL server binaries found (initdb)"
    echo "$dir"
}

# free_port — prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

port_is_free() {
    python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.close()' "$1" 2>/dev/null
}

# PostgreSQL refuses to run as root: as root, run its binaries as the unprivileged `postgres` user.
as_pg_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# pg_cluster_start DATADIR PORT [test] — initializes DATADIR if empty and starts a server on
# 127.0.0.1:PORT with its socket inside DATADIR. MODE: "test" trades durability for speed (trust
# on loopback); "run" requires SCRAM passwords for every TCP login; anything else is durable with
# trust on loopback (throwaway fault and fuzz stacks).
pg_cluster_start() {
    local datadir="$1" port="$2" mode="${3:-}" bindir
    bindir="$(pg_bindir)"
    mkdir -p "$datadir"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$datadir"
        as_pg_user test -x "$datadir" || die "the postgres user cannot enter $datadir; set STABLEID_PGDATA elsewhere"
    fi
    chmod 700 "$datadir"
    if [ ! -f "$datadir/PG_VERSION" ]; then
        as_pg_user "$bindir/initdb" -D "$datadir" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null \
            || die "initdb failed in $datadir"
    fi
    if [ "$mode" = run ]; then
        # Passwords (SCRAM) for every TCP login, the service's included; trust only on the unix
        # socket, which lives in the data directory that only the server's OS user can enter.
        as_pg_user sh -c "cat > '$datadir/pg_hba.conf'" <<'HBA'
local   all  all                 trust
host    all  all  127.0.0.1/32   scram-sha-256
host    all  all  ::1/128        scram-sha-256
HBA
    fi
    local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$datadir -c max_connections=200"
    if [ "$mode" = test ]; then
        # The suite runs its tests in parallel, each with a pool of its own (and pg_dump, servers
        # under test): 200 connections ran out once on a busy machine ("too many clients").
        opts="$opts -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_pg_user "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -o "$opts" -w -t 60 start >/dev/null \
        || { tail -n 20 "$datadir/server.log" >&2; die "PostgreSQL did not start (log: $datadir/server.log)"; }
}

# pg_replica_start PRIMARY_PORT DATADIR PORT — a hot standby of the server on 127.0.0.1:PRIMARY_PORT:
# cloned with `pg_basebackup -R` (which writes standby.signal and primary_conninfo) and started on
# 127.0.0.1:PORT, streaming from the primary. The primary's default pg_hba (initdb -A trust)
# accepts replication connections on loopback; its wal_level and max_wal_senders defaults suffice.
pg_replica_start() {
    local primary_port="$1" datadir="$2" port="$3" bindir
    bindir="$(pg_bindir)"
    mkdir -p "$datadir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$datadir"; fi
    chmod 700 "$datadir"
    # (It warns about the primary's socket file, which lives in its data directory: kept in a log.)
    as_pg_user "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$datadir" -R -X stream -c fast \
        >"$datadir.basebackup.log" 2>&1 || { cat "$datadir.basebackup.log" >&2; die "pg_basebackup from 127.0.0.1:$primary_port failed"; }
    local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$datadir -c max_connections=200"
    # A hot standby needs at least the primary's max_connections (400 in test mode).
    opts="$opts -c max_connections=400 -c hot_standby=on -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_pg_user "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -o "$opts" -w -t 60 start >/dev/null \
        || { tail -n 20 "$datadir/server.log" >&2; die "the standby did not start (log: $datadir/server.log)"; }
}

# pg_socket_psql DATADIR PORT [psql args…] — psql as the postgres superuser over the private socket.
pg_socket_psql() {
    local datadir="$1" port="$2"
    shift 2
    as_pg_user psql -h "$datadir" -p "$port" -U postgres -v ON_ERROR_STOP=1 "$@"
}

# random_secret — 32 hex characters from the OS's CSPRNG.
random_secret() {
    python3 -c 'import secrets; print(secrets.token_hex(16))'
}

pg_cluster_stop() {
    local datadir="$1"
    [ -f "$datadir/postmaster.pid" ] || return 0
    as_pg_user "$(pg_bindir)/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 2>&1 || true
}

pg_cluster_running() {
    [ -f "$1/postmaster.pid" ] && as_pg_user "$(pg_bindir)/pg_ctl" -D "$1" status >/dev/null 2>&1
}

# moto_start PORT LOGFILE — starts moto_server (the local Cognito) and waits for the port.
# Sets MOTO_PID. The pid of `moto_server &` may be pyenv's shim, so we stop it by process group.
moto_start() {
    local port="$1" logfile="$2"
    setsid moto_server -H 127.0.0.1 -p "$port" >"$logfile" 2>&1 &
    MOTO_PID=$!
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; then return 0; fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2
    die "moto_server did not start on port $port"
}

moto_stop() {
    [ -n "${MOTO_PID:-}" ] || return 0
    kill -- "-$MOTO_PID" 2>/dev/null || kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=""
}

# --- A throwaway stack for fault, fuzz and soak runs -------------------------------------------

# stack_start_database WORKDIR — a throwaway PostgreSQL (durable settings: fault runs check that
# acknowledged writes survive a crash), migrated. Sets PG_PORT, PGDATA_DIR, DATABASE_URL (the
# owner) and SERVICE_URL (a login role holding only stableid_service, as production runs).
stack_start_database() {
    local workdir="$1"
    PGDATA_DIR="$workdir/pg"
    PG_PORT="$(free_port)"
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    pg_cluster_start "$PGDATA_DIR" "$PG_PORT" fault
    export DATABASE_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    "$BIN" db migrate >&2
    psql "$DATABASE_URL" -qc "CREATE ROLE stableid_app LOGIN IN ROLE stableid_service" >/dev/null
    SERVICE_URL="postgresql://stableid_app@127.0.0.1:$PG_PORT/postgres"
}

# stack_start_server LOGFILE — `stableid serve` as the service role on a free port; waits until
# /readyz answers. Sets SERVE_PID and SERVE_PORT (kept across restarts).
stack_start_server() {
    local logfile="$1"
    SERVE_PORT="${SERVE_PORT:-$(free_port)}"
    DATABASE_URL="$SERVICE_URL" STABLEID_LISTEN="127.0.0.1:$SERVE_PORT" STABLEID_LOG_FORMAT=json \
        "$BIN" serve >>"$logfile" 2>&1 &
    SERVE_PID=$!
    # Ready means warm too (the lookup cache is live): allow a minute for a large map.
    for _ in $(seq 1 600); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SERVE_PORT/readyz")" = 200 ]; then return 0; fi
        sleep 0.1
    done
    tail -n 20 "$logfile" >&2
    die "stableid serve did not become ready on port $SERVE_PORT"
}

stack_stop_server() {
    [ -n "${SERVE_PID:-}" ] || return 0
    kill "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}

# stack_binary debug|release — builds (if needed) and sets BIN.
stack_binary() {
    local configuration="${1:-release}"
    swift build -c "$configuration" --product stableid >&2
    BIN="$(swift build -c "$configuration" --show-bin-path)/stableid"
    export STABLEID_SQL_DIR="$STABLEID_ROOT/sql"
}
