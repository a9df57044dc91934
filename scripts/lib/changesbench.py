#!/usr/bin/env python3
"""The change feed's two measures (scripts/bench-changes), standard library only.

latency: one thread long-polls GET /v1/changes?after=…&wait=30 on a kept-alive connection;
  the main thread creates users (POST /v1/users, one identity each) every --interval seconds
  on another connection and notes when each answer came back (the write is committed then).
  For each written sub, the time from that answer to the long poll's answer that carries the
  sub's `identity.linked` change. Prints the distribution as JSON.
catchup: reads the whole feed from before its first change, --limit changes a page, as fast as
  one consumer can, and prints changes, seconds and changes/s as JSON.
"""
import argparse, http.client, json, threading, time, uuid


def request(connection, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise SystemExit(f"{method} {path}: {response.status} {data[:300]!r}")
    return json.loads(data)


def latency(args):
    feed = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    writes = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    cursor = request(feed, "GET", "/v1/changes", args.changes_token)["next"]
    seen, written, lock = {}, {}, threading.Lock()
    done = threading.Event()

    def follow():
        nonlocal cursor
        while not done.is_set():
            page = request(feed, "GET", f"/v1/changes?after={cursor}&wait=30&limit=1000", args.changes_token)
            now = time.monotonic()
            with lock:
                for change in page["changes"]:
                    if change.get("kind") == "identity.linked" and change.get("sub"):
                        seen.setdefault(change["sub"], now)
            cursor = page["next"]

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.5)
    for i in range(args.writes):
        sub = str(uuid.uuid4())
        body = {"identities": [{"pool": args.pool, "sub": sub, "username": f"feed-{i}-{sub[:8]}"}]}
        request(writes, "POST", "/v1/users", args.write_token, body)
        with lock:
            written[sub] = time.monotonic()
        time.sleep(args.interval)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with lock:
            if all(sub in seen for sub in written):
                break
        time.sleep(0.05)
    done.set()
    with lock:
        missing = [sub for sub in written if sub not in seen]
        delays = sorted(max(0.0, seen[sub] - at) * 1000 for sub, at in written.items() if sub in seen)
    def pick(q):
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 2) if delays else None
    print(json.dumps({"writes": len(written), "missing": len(missing), "p50_ms": pick(0.50), "p90_ms": pick(0.90),
                      "p99_ms": pick(0.99), "max_ms": round(delays[-1], 2) if delays else None}))


def catchup(args):
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=60)
    cursor, changes, pages = args.start, 0, 0
    started = time.monotonic()
    while True:
        page = request(connection, "GET", f"/v1/changes?after={cursor}&limit={args.limit}", args.changes_token)
        changes += len(page["changes"])
        pages += 1
        cursor = page["next"]
        if not page["has_more"]:
            break
    seconds = time.monotonic() - started
    print(json.dumps({"changes": changes, "pages": pages, "seconds": round(seconds, 3),
                      "per_second": round(changes / seconds) if seconds > 0 else None}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["latency", "catchup"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--changes-token", required=True)
    parser.add_argument("--write-token")
    parser.add_argument("--pool")
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--start", default="AQAAAAAAAAAA")  # the cursor before the first change
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    (latency if args.mode == "latency" else catchup)(args)


if __name__ == "__main__":
    main()
