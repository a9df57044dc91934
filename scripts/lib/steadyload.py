#!/usr/bin/env python3
"""Lookups and batch lookups at a steady rate, for scripts/bench-restart.

Standard library only. Sends GET /v1/resolve for random subs of the bench fixture
(00000000-0000-4000-8000-<n>, n in 1..--users) at --lookups per second and POST /v1/resolve with
--batch-items random items at --batches per second, from a pool of threads, for --seconds. Every
answer is tallied by kind: 200/404 lookups, 503 `overloaded` with Retry-After (shed: the client
retries), any other status (with its code), connection errors, and the slowest answers. Prints one
JSON summary.
"""
import argparse
import concurrent.futures
import http.client
import json
import random
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pool", default="us-east-1_Bench")
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--lookups", type=float, default=200)
    parser.add_argument("--batches", type=float, default=2)
    parser.add_argument("--batch-items", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    tally = {}
    latencies = {"lookup": [], "batch": []}
    lock = threading.Lock()
    local = threading.local()

    def sub():
        return "00000000-0000-4000-8000-%012d" % random.randint(1, args.users)

    def send(kind):
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
        headers = {"Authorization": "Bearer " + args.token}
        if kind == "lookup":
            method, path, body = "GET", "/v1/resolve?pool=%s&sub=%s" % (args.pool, sub()), None
        else:
            items = [{"pool": args.pool, "sub": sub()} for _ in range(args.batch_items)]
            method, path, body = "POST", "/v1/resolve", json.dumps({"items": items})
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        try:
            local.connection.request(method, path, body=body, headers=headers)
            response = local.connection.getresponse()
            data = response.read()
            status = response.status
            if status == 503:
                code = (json.loads(data or b"{}") or {}).get("code", "?")
                retry = response.getheader("Retry-After") is not None
                outcome = "shed" if code == "overloaded" and retry else "503 " + code
            elif status in (200, 404):
                outcome = "ok"
            else:
                try:
                    outcome = "%d %s" % (status, (json.loads(data) or {}).get("code", ""))
                except ValueError:
                    outcome = str(status)
        except (OSError, http.client.HTTPException):
            local.connection.close()
            del local.connection
            outcome = "connection_error"
        elapsed = time.monotonic() - started
        with lock:
            key = kind + " " + outcome
            tally[key] = tally.get(key, 0) + 1
            latencies[kind].append(elapsed)

    def pace(kind, rate, executor):
        interval = 1.0 / rate
        due = time.monotonic()
        end = due + args.seconds
        while due < end:
            executor.submit(send, kind)
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))

    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as executor:
        threads = [threading.Thread(target=pace, args=(k, r, executor)) for k, r in
                   (("lookup", args.lookups), ("batch", args.batches)) if r > 0]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def quantile(values, q):
        if not values:
            return None
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    print(json.dumps({
        "tally": tally,
        "lookup_p50_ms": quantile(latencies["lookup"], 0.5), "lookup_p99_ms": quantile(latencies["lookup"], 0.99),
        "lookup_max_ms": quantile(latencies["lookup"], 1.0),
        "batch_p50_ms": quantile(latencies["batch"], 0.5), "batch_p99_ms": quantile(latencies["batch"], 0.99),
    }))


if __name__ == "__main__":
    main()
