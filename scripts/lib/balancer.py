#!/usr/bin/env python3
"""A round-robin HTTP balancer that only sends to ready servers, for scripts/bench-restart.

Standard library only. Polls each backend's /readyz every --check-ms (as a load balancer's health
check does) and forwards each request to the next backend whose last check answered 200. A
backend that refuses the connection or fails mid-request is answered 502 (counted: this is what a
closed port during a deploy costs); with no backend ready the answer is 503 (counted). Connections
to the backends are kept alive (one per handler thread and backend) and dropped when an answer
says `Connection: close`.

GET /balancer/stats answers JSON: per backend the requests forwarded, connection failures, and
readiness transitions with their times; plus the 503s for no ready backend. (Whether a server
answered lookups while warming is its own metric to tell: scripts/bench-restart reads it.)

    balancer.py --port P --backend 127.0.0.1:PORT [--backend …] [--check-ms 100] [--idle-seconds 20]
"""
import argparse
import http.client
import http.server
import json
import threading
import time


class Backend:
    def __init__(self, address):
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self.state = "down"
        self.forwarded = 0
        self.failures = 0
        self.failure_times = []
        self.transitions = []
        self.lock = threading.Lock()

    def check(self):
        try:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=1)
            connection.request("GET", "/readyz")
            response = connection.getresponse()
            body = response.read()
            connection.close()
            if response.status == 200:
                state = "ready"
            else:
                try:
                    state = json.loads(body).get("status", "unready")
                except ValueError:
                    state = "unready"
        except OSError:
            state = "down"
        with self.lock:
            if state != self.state:
                self.transitions.append({"at": time.time(), "state": state})
                self.state = state


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", action="append", required=True)
    parser.add_argument("--check-ms", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=20)
    args = parser.parse_args()
    backends = [Backend(address) for address in args.backend]
    counters = {"no_backend": 0}
    connections = threading.local()
    turn = [0]
    turn_lock = threading.Lock()

    def checker():
        while True:
            for backend in backends:
                backend.check()
            time.sleep(args.check_ms / 1000)

    threading.Thread(target=checker, daemon=True).start()

    def pick():
        with turn_lock:
            for _ in range(len(backends)):
                backend = backends[turn[0] % len(backends)]
                turn[0] += 1
                if backend.state == "ready":
                    return backend
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body, headers=()):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def forward(self):
            if self.path == "/balancer/stats":
                return self.reply(200, {
                    "backends": [{"backend": "%s:%d" % (b.host, b.port), "forwarded": b.forwarded,
                                  "connection_failures": b.failures, "failure_times": b.failure_times,
                                  "transitions": b.transitions} for b in backends],
                    "no_backend": counters["no_backend"]})
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            backend = pick()
            if backend is None:
                counters["no_backend"] += 1
                return self.reply(503, {"code": "no_backend"}, [("Retry-After", "1")])
            with backend.lock:
                backend.forwarded += 1
            headers = {name: value for name, value in self.headers.items() if name.lower() not in ("host", "connection")}
            # Keep-alive to the backends, one connection per handler thread and backend, as a real
            # balancer pools them: a server that closes one under a request costs a 502 here, and
            # `Connection: close` in an answer makes the next request open a new one.
            pool = connections.__dict__.setdefault("pool", {})
            key = (backend.host, backend.port)
            pooled = pool.get(key)
            # Idle longer than --idle-seconds: dropped, never reused, as a balancer whose idle
            # timeout is below its backends' keep-alive timeout does (the server closes its side
            # after STABLEID_HTTP_IDLE_TIMEOUT_S; reusing it then would race that close).
            if pooled and time.monotonic() - pooled[1] > args.idle_seconds:
                pooled[0].close()
                pooled = None
            connection = pooled[0] if pooled else http.client.HTTPConnection(backend.host, backend.port, timeout=30)
            pool[key] = (connection, time.monotonic())
            try:
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                if response.will_close:
                    connection.close()
                    del pool[key]
                else:
                    pool[key] = (connection, time.monotonic())
            except (OSError, http.client.HTTPException):
                connection.close()
                pool.pop(key, None)
                with backend.lock:
                    backend.failures += 1
                    backend.failure_times.append(time.time())
                return self.reply(502, {"code": "bad_gateway"})
            passed = [(n, v) for n, v in response.getheaders() if n.lower() in ("content-type", "retry-after")]
            self.reply(response.status, data, passed)

        do_GET = forward
        do_POST = forward

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
