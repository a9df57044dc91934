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

# --- wrk: requests, rounds, ratios (bench-lookup, bench-triggers) -------------------------------

# wrk_seed_lua — prints Lua that seeds each wrk thread's generator on its own (wrk loads a script
# once per thread; without this, both threads would draw the same values in the same order).
# Prepend it to a request script; a script that needs an init of its own wraps this one's.
wrk_seed_lua() {
    cat <<'LUA'
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
end
function init(args)
    math.randomseed(os.time() + thread_number * 7919)
    for _ = 1, 10 do math.random() end
end
LUA
}

# wrk_latency_lua — prints Lua that, at the end of a run, appends its latency distribution as 2,000
# quantiles (each standing for an equal share of the run's requests) to $WRK_LATENCY_FILE (when
# set): the rounds of a workload are pooled into one distribution, and its p50 and p99 read from it.
wrk_latency_lua() {
    cat <<'LUA'
done = function(summary, latency, requests)
    local path = os.getenv("WRK_LATENCY_FILE")
    if path == nil or summary.requests == 0 then return end
    local file = io.open(path, "a")
    local points = 2000
    for i = 1, points do
        file:write(summary.requests / points, " ", latency:percentile((i - 0.5) * 100 / points), "\n")
    end
    file:close()
end
LUA
}

# wrk_run CONCURRENCY SCRIPT-OR-EMPTY PATH → "req/s p50 p99 non-2xx" (ms) against 127.0.0.1:$WRK_PORT
# (default $A_PORT) for $WRK_SECONDS (default $DURATION); wrk --latency prints "50%  1.23ms" lines,
# normalised to milliseconds. Socket errors are added to non-2xx as "+Ns".
wrk_run() {
    local c="$1" script="$2" path="$3" out threads port="${WRK_PORT:-${A_PORT:-}}" seconds="${WRK_SECONDS:-${DURATION:-10}}"
    threads=$((c < 2 ? c : 2))  # wrk needs a connection per thread
    if [ -n "$script" ]; then
        out=$(wrk -t"$threads" -c"$c" -d"${seconds}s" --latency -s "$script" "http://127.0.0.1:$port$path") \
            || die "wrk failed (c=$c, ${script:-no script}, $path)"
    else
        out=$(wrk -t"$threads" -c"$c" -d"${seconds}s" --latency "http://127.0.0.1:$port$path") || die "wrk failed (c=$c, $path)"
    fi
    python3 - "$out" <<'PY' || die "cannot read wrk's output"
import re, sys
text = sys.argv[1]
def ms(value):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = errors.group(1) if errors else "0"
sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if sockets and sum(map(int, sockets.groups())):
    errors += "+%ds" % sum(map(int, sockets.groups()))
print(f"{rps:.0f} {p50:.2f} {p99:.2f} {errors}")
PY
}

# summarize_rounds FILE LATENCY-FILE → "req/s p50 p99 non-2xx": the mean of the rounds' req/s (they
# are equally long), p50 and p99 of all the rounds' requests pooled (latency.lua's quantiles,
# each weighted by its round's requests), errors summed.
summarize_rounds() {
    python3 - "$1" "$2" <<'PY' || die "cannot summarise the rounds"
import sys
rows = [line.split() for line in open(sys.argv[1]) if line.strip()]
errors = sockets = 0
for row in rows:
    plain, _, socket = row[3].partition("+")
    errors += int(plain)
    sockets += int(socket.rstrip("s") or 0)
points = sorted((float(value), float(weight)) for weight, value in (line.split() for line in open(sys.argv[2]) if line.strip()))
total = sum(weight for _, weight in points)
if not rows or not total:
    sys.exit(f"no requests or no latencies recorded in {sys.argv[1]} / {sys.argv[2]}")
def quantile(q):
    seen = 0.0
    for value, weight in points:
        seen += weight
        if seen >= q * total:
            return value / 1000  # µs → ms
    return points[-1][0] / 1000
print(f"{sum(float(r[0]) for r in rows) / len(rows):.0f} {quantile(0.50):.2f} {quantile(0.99):.2f} "
      f"{errors}{f'+{sockets}s' if sockets else ''}")
PY
}
# round_ratios A-FILE B-FILE → each round's A/B req/s ratio (wrk_run lines), comma-separated.
round_ratios() {
    paste -d' ' "$1" "$2" | awk '{printf "%s%.2f", (NR > 1 ? ", " : ""), $1 / $5}'
}
