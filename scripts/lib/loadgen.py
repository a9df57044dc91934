#!/usr/bin/env python3
"""Mixed write + lookup load against a running StableID, for fault and soak runs.

Standard library only. Writers create users with one identity each (a fresh UUID sub) and an
Idempotency-Key, retrying the same request while the service answers 503/409/408 or the
connection fails, so a write counts as acknowledged only once the service said 201 (or replayed
it). Readers resolve subs that were acknowledged. Every answer is tallied by status; a request
that gets no answer within --timeout counts as a hang. Stops by itself after --seconds, or when
the file named by --stop-file appears. Prints one JSON summary on stdout; writes the acknowledged
(user_id, sub) pairs to --acked.
"""
import argparse
import http.client
import json
import os
import random
import threading
import time
import uuid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=6.0)
    parser.add_argument("--write-rate", type=float, default=50, help="writes per second per writer at most")
    parser.add_argument("--stop-file")
    parser.add_argument("--acked", required=True)
    args = parser.parse_args()

    lock = threading.Lock()
    statuses = {}
    acked = []
    hangs = [0]
    problems_without_retry_after = [0]
    max_latency = [0.0]
    deadline = time.monotonic() + args.seconds

    def running():
        if time.monotonic() >= deadline:
            return False
        return not (args.stop_file and os.path.exists(args.stop_file))

    def tally(status, latency, headers):
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
            max_latency[0] = max(max_latency[0], latency)
            if status == 503 and not headers.get("retry-after"):
                problems_without_retry_after[0] += 1

    def request(method, path, body=None, extra=None):
        """(status, body, headers) or (None, None, {}) when the connection failed or hung."""
        headers = {"Authorization": "Bearer " + args.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(extra or {})
        started = time.monotonic()
        connection = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            answer = {k.lower(): v for k, v in response.getheaders()}
            tally(response.status, time.monotonic() - started, answer)
            return response.status, data, answer
        except TimeoutError:
            with lock:
                hangs[0] += 1
            return None, None, {}
        except OSError:
            tally("connection_failed", time.monotonic() - started, {})
            return None, None, {}
        finally:
            connection.close()

    def writer():
        while running():
            sub = str(uuid.uuid4())
            key = "load-" + sub
            body = json.dumps({"identities": [{"pool": args.pool, "sub": sub, "username": "u-" + sub[:13]}]})
            while running():
                status, data, _ = request("POST", "/v1/users", body, {"Idempotency-Key": key})
                if status in (200, 201):
                    user = json.loads(data)["user_id"]
                    with lock:
                        acked.append((user, sub))
                    break
                if status is None or status in (408, 409, 503):
                    time.sleep(0.2)
                    continue
                break  # a 4xx that retrying will not change: recorded in the tally
            time.sleep(1.0 / args.write_rate)

    def reader():
        while running():
            with lock:
                pick = random.choice(acked) if acked else None
            sub = pick[1] if pick else str(uuid.uuid4())
            request("GET", "/v1/resolve?pool=%s&sub=%s" % (args.pool, sub))

    threads = [threading.Thread(target=writer) for _ in range(args.writers)]
    threads += [threading.Thread(target=reader) for _ in range(args.readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(args.acked, "w") as out:
        for user, sub in acked:
            out.write("%s\t%s\n" % (user, sub))
    print(json.dumps({
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0]))},
        "hangs": hangs[0],
        "acknowledged_writes": len(acked),
        "unavailable_without_retry_after": problems_without_retry_after[0],
        "max_latency_ms": round(max_latency[0] * 1000, 1),
    }, sort_keys=True))


if __name__ == "__main__":
    main()
