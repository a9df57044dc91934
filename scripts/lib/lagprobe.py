#!/usr/bin/env python3
"""Change-visibility lag between two StableID servers on one database, for scripts/bench-lookup.

Standard library only. Writers unlink identities that scripts/bench-lookup loaded, through server
B (--writer-port), at a fixed rate (open loop: write k is due at start + k / rate; a few writer
threads so one slow answer does not hold back the schedule). For every --probe-every'th unlink,
as soon as B answered 200, a prober thread polls server A's `GET /v1/resolve` (eventual
consistency: A's in-memory read model, fed by the change feed) every --poll-ms, start to start,
until A answers 404, and records the lag from B's 200 to A's first 404. Probers are separate
threads, so the writers' rate does not depend on them.

Afterwards, after --settle seconds with no writes, it compares A's default (eventual) answer with
its `consistency=strong` answer (PostgreSQL) for --check subs: half drawn from the identities
unlinked during the run (where a stale read model would show), half uniformly from all of them.

Prints one JSON object on stdout; problems go to stderr and exit 2.
"""
import argparse
import http.client
import json
import queue
import random
import sys
import threading
import time
import uuid


# The fixture of scripts/bench-lookup: identity i (1…N) is sub 00000000-0000-4000-8000-<i, 12
# digits> of pool us-east-1_Bench, linked to the user whose UUID is made from i as below. Keep the
# two in step: the probe checks a few of them against A before writing anything.
def user_id(i):
    return str(uuid.UUID(int=(0x01A2 << 112) | (0x7 << 76) | (0x8 << 60) | i))


def sub(i):
    return "00000000-0000-4000-8000-%012d" % i


class Client:
    """One keep-alive connection, reopened once when the server closed it."""

    def __init__(self, port, token, timeout):
        self.port = port
        self.timeout = timeout
        self.headers = {"Authorization": "Bearer " + token}
        self.connection = None

    def request(self, method, path):
        for attempt in (0, 1):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, headers=self.headers)
                response = self.connection.getresponse()
                body = response.read()
                if (response.getheader("Connection") or "").lower() == "close":
                    self.close()
                return response.status, body
            except (OSError, http.client.HTTPException):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def ms(seconds):
    """Milliseconds, 2 decimals; a probe that gave up counts as infinitely late: "timeout"."""
    if seconds is None:
        return None
    if seconds == float("inf"):
        return "timeout"
    return round(seconds * 1000, 2)


def fail(message):
    print("lagprobe: " + message, file=sys.stderr)
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reader-port", type=int, required=True, help="server A: probed with eventual reads")
    parser.add_argument("--writer-port", type=int, required=True, help="server B: receives the unlinks")
    parser.add_argument("--token", required=True, help="scopes resolve and write")
    parser.add_argument("--pool", default="us-east-1_Bench")
    parser.add_argument("--users", type=int, required=True, help="identities loaded (1…N)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=200, help="unlinks per second")
    parser.add_argument("--probe-every", type=int, default=10)
    parser.add_argument("--poll-ms", type=float, default=2)
    parser.add_argument("--probe-timeout", type=float, default=5, help="seconds before a probe gives up")
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--probers", type=int, default=8)
    parser.add_argument("--check", type=int, default=1000, help="subs compared eventual vs strong afterwards")
    parser.add_argument("--settle", type=float, default=1)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()

    # Hand the GIL over sooner than the default 5 ms, so a prober wakes up promptly after an ack.
    sys.setswitchinterval(0.0005)
    rng = random.Random(args.seed)
    total_writes = int(round(args.rate * args.seconds))
    if total_writes < 1 or total_writes > args.users:
        fail("%d unlinks do not fit %d loaded identities" % (total_writes, args.users))
    plan = rng.sample(range(1, args.users + 1), total_writes)

    reader = Client(args.reader_port, args.token, args.probe_timeout)
    for i in plan[:3]:
        status, body = reader.request("GET", "/v1/resolve?pool=%s&sub=%s" % (args.pool, sub(i)))
        if status != 200:
            fail("A answers %d for loaded identity %d before any write: %s" % (status, i, body[:200]))
        found = json.loads(body).get("user_id")
        if found != user_id(i):
            fail("identity %d belongs to %s, not %s: the fixture and user_id() disagree" % (i, found, user_id(i)))
    reader.close()

    lock = threading.Lock()
    next_slot = [0]
    write_statuses = {}
    write_latencies = []
    unlinked = []
    last_ack = [0.0]
    lags = []
    first_poll_delays = []
    polls_total = [0]
    probe_timeouts = [0]
    probe_statuses = {}
    probes = queue.Queue()
    poll_interval = args.poll_ms / 1000.0
    start = time.monotonic() + 0.05

    def count(table, key):
        with lock:
            table[str(key)] = table.get(str(key), 0) + 1

    def writer():
        client = Client(args.writer_port, args.token, 10)
        while True:
            with lock:
                k = next_slot[0]
                next_slot[0] += 1
            if k >= total_writes:
                client.close()
                return
            delay = start + k / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            i = plan[k]
            path = "/v1/users/%s/identities/%s/%s" % (user_id(i), args.pool, sub(i))
            sent = time.monotonic()
            try:
                status, _ = client.request("DELETE", path)
            except (OSError, http.client.HTTPException):
                status = "connection_failed"
            acked = time.monotonic()
            count(write_statuses, status)
            if status != 200:
                continue
            with lock:
                write_latencies.append(acked - sent)
                unlinked.append(i)
                last_ack[0] = max(last_ack[0], acked)
            if k % args.probe_every == 0:
                probes.put((i, acked))

    def prober():
        client = Client(args.reader_port, args.token, args.probe_timeout)
        while True:
            item = probes.get()
            if item is None:
                client.close()
                return
            i, acked = item
            path = "/v1/resolve?pool=%s&sub=%s" % (args.pool, sub(i))
            first = True
            polls = 0
            while True:
                begun = time.monotonic()
                if begun - acked > args.probe_timeout:
                    with lock:
                        probe_timeouts[0] += 1
                    break
                if first:
                    with lock:
                        first_poll_delays.append(begun - acked)
                    first = False
                try:
                    status, _ = client.request("GET", path)
                except (OSError, http.client.HTTPException):
                    status = "connection_failed"
                polls += 1
                if status == 404:
                    seen = time.monotonic()
                    with lock:
                        lags.append(seen - acked)
                    break
                if status != 200:
                    count(probe_statuses, status)
                pause = begun + poll_interval - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            with lock:
                polls_total[0] += polls

    writers = [threading.Thread(target=writer, daemon=True) for _ in range(args.writers)]
    probers = [threading.Thread(target=prober, daemon=True) for _ in range(args.probers)]
    for thread in writers + probers:
        thread.start()
    for thread in writers:
        thread.join()
    for _ in probers:
        probes.put(None)
    for thread in probers:
        thread.join()

    written = len(unlinked)
    elapsed = (last_ack[0] - start) if written else 0.0
    # Probes that gave up count as the slowest, so they cannot flatter the percentiles.
    lags.sort()
    seen_lags = len(lags)
    lags += [float("inf")] * probe_timeouts[0]
    write_latencies.sort()
    first_poll_delays.sort()

    # Eventual vs strong on A, once nothing is written any more.
    time.sleep(args.settle)
    half = min(len(unlinked), args.check // 2)
    sample = rng.sample(unlinked, half) + [rng.randint(1, args.users) for _ in range(args.check - half)]
    client = Client(args.reader_port, args.token, 10)
    mismatches = 0
    examples = []
    answered = {}

    def answer(path):
        status, body = client.request("GET", path)
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body.decode("utf-8", "replace")

    for i in sample:
        path = "/v1/resolve?pool=%s&sub=%s" % (args.pool, sub(i))
        eventual = answer(path)
        strong = answer(path + "&consistency=strong")
        answered[str(eventual[0])] = answered.get(str(eventual[0]), 0) + 1
        if eventual != strong:
            mismatches += 1
            if len(examples) < 3:
                examples.append({"sub": sub(i), "eventual": eventual, "strong": strong})
    client.close()
    for example in examples:
        print("lagprobe: mismatch %s" % json.dumps(example, sort_keys=True), file=sys.stderr)

    print(json.dumps({
        "writes_planned": total_writes,
        "writes_ok": written,
        "write_statuses": write_statuses,
        "write_rate_achieved": round(written / elapsed, 1) if elapsed > 0 else None,
        "write_p50_ms": ms(percentile(write_latencies, 0.50)),
        "write_p99_ms": ms(percentile(write_latencies, 0.99)),
        "probes": len(lags),
        "probes_seen": seen_lags,
        "probe_timeouts": probe_timeouts[0],
        "probe_timeout_s": args.probe_timeout,
        "probe_unexpected_statuses": probe_statuses,
        "polls": polls_total[0],
        "lag_min_ms": ms(lags[0] if lags else None),
        "lag_p50_ms": ms(percentile(lags, 0.50)),
        "lag_p99_ms": ms(percentile(lags, 0.99)),
        "lag_max_ms": ms(lags[-1] if lags else None),
        "first_poll_delay_max_ms": ms(first_poll_delays[-1] if first_poll_delays else None),
        "check_subs": len(sample),
        "check_from_unlinked": half,
        "check_statuses": answered,
        "check_mismatches": mismatches,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
