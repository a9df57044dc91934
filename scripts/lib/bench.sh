# Shared by the scripts/bench-* that run `stableid serve` over a generated identity map. Source it
# after common.sh; the caller sets BIN (the release binary), WORKDIR and PROMTEXT.
# shellcheck shell=bash

# alive PID — the process exists and is not a zombie waiting to be reaped.
alive() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID — SIGTERM (servers shut down gracefully), SIGKILL after 10 s, then reap.
stop_pid() {
    local pid="$1"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# load_bench_identities URL N DIR — N users, each with one identity in us-east-1_Bench, loaded with
# COPY. Subs are 00000000-0000-4000-8000-<12-digit n>, so clients can draw random ones without a
# list; the user of identity n has a UUID made from n (scripts/lib/lagprobe.py computes it the
# same way). Then settle_change_log.
load_bench_identities() {
    local url="$1" users="$2" dir="$3"
    python3 - "$users" >"$dir/users.tsv" <<'PY'
import sys, uuid
n = int(sys.argv[1])
out = sys.stdout
for i in range(1, n + 1):
    out.write(f"{uuid.UUID(int=(0x01a2 << 112) | (0x7 << 76) | (0x8 << 60) | i)}\n")
PY
    python3 - "$users" >"$dir/identities.tsv" <<'PY'
import sys, uuid
n = int(sys.argv[1])
out = sys.stdout
for i in range(1, n + 1):
    user = uuid.UUID(int=(0x01a2 << 112) | (0x7 << 76) | (0x8 << 60) | i)
    out.write(f"{user}\tus-east-1_Bench\t00000000-0000-4000-8000-{i:012d}\tuser{i}\tuser{i}@example.com\tuser{i}@example.com\tt\n")
PY
    psql "$url" -q -v ON_ERROR_STOP=1 <<SQL || die "loading the fixture failed"
\copy users (id) FROM '$dir/users.tsv'
\copy identities (user_id, pool_id, sub, username, email, email_normalized, email_verified) FROM '$dir/identities.tsv'
VACUUM ANALYZE users;
VACUUM ANALYZE identities;
SQL
    rm -f "$dir/users.tsv" "$dir/identities.tsv"
    settle_change_log "$url"
}

# settle_change_log URL — the bulk load published a change per identity; a server started later
# than the log's retention would not see them (housekeeping prunes them), so warm-ups are measured
# in that steady state unless a script wants the fresh log on purpose.
settle_change_log() {
    psql "$1" -q <<'SQL'
UPDATE identity_change_horizon SET pruned_through = GREATEST(pruned_through, (SELECT coalesce(max(id), 0) FROM identity_changes));
DELETE FROM identity_changes;
VACUUM ANALYZE identity_changes;
SQL
}

# start_server PIDVAR PORT LOGFILE [VAR=value…] — `stableid serve` on 127.0.0.1:PORT; stores its
# pid in PIDVAR at once (so cleanup stops it even if it never becomes ready) and returns as soon
# as /readyz answers 200.
start_server() {
    local pidvar="$1" port="$2" logfile="$3" pid
    shift 3
    env "$@" STABLEID_LISTEN="127.0.0.1:$port" STABLEID_LOG_LEVEL=warning "$BIN" serve >"$logfile" 2>&1 &
    pid=$!
    printf -v "$pidvar" '%s' "$pid"
    for _ in $(seq 1 1200); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && return 0
        alive "$pid" || break
        sleep 0.05
    done
    tail -n 20 "$logfile" >&2
    die "stableid serve ($pidvar) did not become ready on port $port"
}

scrape() {  # PORT FILE — saves /metrics
    curl -sf "http://127.0.0.1:$1/metrics" >"$2" || die "cannot read /metrics on port $1"
}

promtext() { python3 "$PROMTEXT" "$@"; }

rss_kib() {  # PID — VmRSS in KiB
    local kib
    kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null)" || die "cannot read /proc/$1/status"
    [ -n "$kib" ] || die "no VmRSS for pid $1 (did the server exit?)"
    echo "$kib"
}

# wait_live PORT NAME — until stableid_lookup_cache_state{state="live"} is 1 (at most 120 s).
wait_live() {
    local port="$1" name="$2" deadline=$((SECONDS + 120)) value
    while [ "$SECONDS" -lt "$deadline" ]; do
        scrape "$port" "$WORKDIR/live.prom"
        value="$(promtext value "$WORKDIR/live.prom" stableid_lookup_cache_state state=live)"
        [ "$value" = 1 ] && return 0
        sleep 0.25
    done
    grep '^stableid_lookup_cache' "$WORKDIR/live.prom" >&2 || true
    die "the lookup cache of server $name did not become live within 120 s"
}

calc() { python3 -c "import sys; print(format(eval(sys.argv[1]), sys.argv[2]))" "$1" "$2"; }  # EXPR FORMAT
commas() { calc "round($1)" ","; }

