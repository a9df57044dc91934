#!/usr/bin/env python3
"""Drives POST /v1/cognito/triggers with the events Cognito sends, for scripts/bench-triggers.

Standard library only. Phase "link": one PostAuthentication event per target user (a fresh sub
whose username matches a backfilled source user, so the campaign's username rule links it).
Phase "token": pre token generation V2 events for the subs linked in phase one (the claim
comes from an existing link). Prints one JSON object with client-side latency percentiles per
phase; the caller adds the server's own histogram from /metrics. With --subs-out, appends the
linked users to that file, one "username sub" line each (scripts/bench-triggers' wrk phase sends
token events and lookups for them).
"""
import argparse, http.client, json, statistics, threading, time, uuid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--pool", required=True)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--offset", type=int, default=0, help="first user number (runs after the first use fresh users)")
    parser.add_argument("--subs-out", help="append the linked users here, one 'username sub' line each")
    parser.add_argument("--links-only", action="store_true", help="only the post-authentication (link) phase")
    args = parser.parse_args()

    def send(connection, event):
        body = json.dumps(event)
        started = time.perf_counter()
        connection.request("POST", "/v1/cognito/triggers", body=body,
                           headers={"Authorization": "Bearer " + args.token, "Content-Type": "application/json"})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            # Counted and reported, never fatal: a SystemExit in a worker thread would end only
            # that thread, silently, and its requests would vanish from the result.
            return elapsed, {"status": response.status, "body": data[:300].decode("utf-8", "replace")}
        return elapsed, json.loads(data)

    def event(source, version, username, sub):
        base = {"version": version, "triggerSource": source, "region": "us-east-1", "userPoolId": args.pool,
                "userName": username, "callerContext": {"awsSdkVersion": "bench", "clientId": "bench"}}
        attributes = {"sub": sub, "email": username + "@example.com", "email_verified": "true"}
        if source.startswith("PostAuthentication"):
            base["request"] = {"userAttributes": attributes, "newDeviceUsed": False}
            base["response"] = {}
        else:
            base["request"] = {"userAttributes": attributes, "groupConfiguration": {}, "scopes": []}
            base["response"] = {"claimsAndScopeOverrideDetails": None}
        return base

    subs = [str(uuid.uuid4()) for _ in range(args.users)]

    def run(phase, make):
        latencies, failures, lock, index = [], [], threading.Lock(), [0]

        def worker():
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            local = []
            while True:
                with lock:
                    i = index[0]
                    index[0] += 1
                if i >= args.users:
                    break
                elapsed, answer = send(connection, make(i))
                local.append(elapsed)
                if "status" in answer:
                    with lock:
                        failures.append(answer)
                    continue
                if phase == "token":
                    claims = answer["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]["claimsToAddOrOverride"]
                    assert "stable_id" in claims
            with lock:
                latencies.extend(local)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
        for t in threads: t.start()
        for t in threads: t.join()
        wall = time.perf_counter() - started
        latencies.sort()
        pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)
        statuses = {}
        for failure in failures:
            statuses[str(failure["status"])] = statuses.get(str(failure["status"]), 0) + 1
        return {"requests": len(latencies), "per_second": round(len(latencies) / wall, 1),
                "non_2xx": statuses, "first_failure": failures[0]["body"] if failures else None,
                "client_p50_ms": pick(0.50), "client_p99_ms": pick(0.99), "client_max_ms": round(latencies[-1] * 1000, 2)}

    linked = run("link", lambda i: event("PostAuthentication_Authentication", "1", "user%d" % (args.offset + i), subs[i]))
    if args.subs_out:
        with open(args.subs_out, "a") as out:
            for i, sub in enumerate(subs):
                out.write("user%d %s\n" % (args.offset + i, sub))
    result = {"link": linked, "concurrency": args.concurrency}
    if not args.links_only:
        result["token"] = run("token", lambda i: event("TokenGeneration_Authentication", "2", "user%d" % (args.offset + i), subs[i]))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
