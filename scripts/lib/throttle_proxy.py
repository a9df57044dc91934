#!/usr/bin/env python3
"""A throttling proxy in front of moto (local Cognito), for scripts/bench-finalize, scripts/bench-stamp
and the stamp tests.

Standard library only. Every POST is forwarded to --upstream as it came (AWS JSON 1.1; moto does
not check signatures) and its answer relayed, except that one operation (--operation, by default
AdminCreateUser) is limited per account by a token bucket (--rate per second, --burst deep;
Cognito's UserCreation quota is 50/s, UserResourceUpdate's 25/s): beyond it the answer is HTTP 400
{"__type": "TooManyRequestsException", ...} with x-amzn-ErrorType, as Cognito answers, and the
request never reaches moto. --throttle-first N answers the first N requests of the operation that
way whatever the bucket holds: a deterministic test of a client that must absorb throttling.

GET /stats answers JSON: `operation`, and under `limited` its requests forwarded and throttled, the
wall-clock times of the first and the last forwarded one, the most forwarded in any one-second
window and the mean forwarded rate; other operations by name. GET /stats?since=EPOCH: the
forwarded requests from that wall-clock time on, their first and last times and the rate sustained
between them. GET /healthz: 200.

    throttle_proxy.py --port P --upstream http://127.0.0.1:M [--operation AdminCreateUser] [--rate 50] [--burst 50]
                      [--throttle-first N]
"""
import argparse, http.client, json, os, signal, sys, threading, time, urllib.parse, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from token_bucket import Bucket  # noqa: E402

PREFIX = "AWSCognitoIdentityProviderService."


class State:
    def __init__(self, operation, rate, burst, throttle_first=0):
        self.operation, self.rate, self.burst = operation, rate, burst
        self.throttle_first = throttle_first
        self.lock = threading.Lock()
        self.buckets = {}
        self.forwarded = self.throttled = 0
        self.times = []  # monotonic times of forwarded AdminCreateUser requests
        self.first_at = self.last_at = None
        self.walls = []  # wall-clock times of the same requests, for /stats?since=
        self.other = {}

    def admit(self, account):
        with self.lock:
            bucket = self.buckets.setdefault(account, Bucket(self.rate, self.burst))
            if self.throttle_first > 0:
                self.throttle_first -= 1
                self.throttled += 1
                return False
            if not bucket.take():
                self.throttled += 1
                return False
            self.forwarded += 1
            self.times.append(time.monotonic())
            now = time.time()
            self.walls.append(now)
            self.first_at = self.first_at or now
            self.last_at = now
            return True

    def count(self, operation):
        with self.lock:
            self.other[operation] = self.other.get(operation, 0) + 1

    def window(self, since):
        """The forwarded requests at or after wall-clock `since`: how many, the first and the last,
        and the rate sustained between them ((n - 1) / (last - first))."""
        with self.lock:
            walls = [at for at in self.walls if at >= since]
        span = walls[-1] - walls[0] if len(walls) > 1 else 0.0
        return {"forwarded": len(walls), "first_at": walls[0] if walls else None, "last_at": walls[-1] if walls else None,
                "sustained_per_second": round((len(walls) - 1) / span, 2) if span > 0 else None}

    def stats(self):
        with self.lock:
            times = list(self.times)
            peak, start = 0, 0
            for end, at in enumerate(times):
                while at - times[start] >= 1.0:
                    start += 1
                peak = max(peak, end - start + 1)
            span = (times[-1] - times[0]) if len(times) > 1 else 0.0
            return {
                "rate": self.rate, "burst": self.burst, "operation": self.operation,
                "limited": {
                    "forwarded": self.forwarded, "throttled": self.throttled, "first_at": self.first_at,
                    "last_at": self.last_at, "peak_per_second": peak,
                    "mean_per_second": round((len(times) - 1) / span, 2) if span > 0 else None,
                },
                "other_operations": self.other,
            }


def account_of(headers):
    """The access key id from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/…`."""
    authorization = headers.get("Authorization", "")
    marker = authorization.find("Credential=")
    if marker < 0:
        return "anonymous"
    return authorization[marker + len("Credential="):].split("/", 1)[0] or "anonymous"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "throttle-proxy"
    state = None
    upstream = None  # (host, port)
    local = threading.local()

    def log_message(self, format, *args):
        pass

    def send_json(self, status, payload, headers=()):
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/stats":
            self.send_json(200, self.state.stats())
        elif self.path.startswith("/stats?since="):
            self.send_json(200, self.state.window(float(self.path.split("=", 1)[1])))
        elif self.path == "/healthz":
            self.send_json(200, {"ok": True})
        else:
            self.forward("GET", b"")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(PREFIX):] if target.startswith(PREFIX) else ""
        if operation == self.state.operation:
            if not self.state.admit(account_of(self.headers)):
                kind = "TooManyRequestsException"
                self.send_json(400, {"__type": kind, "message": "Too many requests"}, headers=[("x-amzn-ErrorType", kind)])
                return
        else:
            self.state.count(operation or "other")
        self.forward("POST", body)

    def forward(self, method, body):
        """Relays the request to moto on this thread's own keep-alive connection."""
        connection = getattr(self.local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(*self.upstream, timeout=30)
            self.local.connection = connection
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        try:
            connection.request(method, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.local.connection = None
            self.send_json(502, {"__type": "InternalErrorException", "message": "upstream failed"})
            return
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--burst", type=float, default=50.0)
    parser.add_argument("--operation", default="AdminCreateUser")
    parser.add_argument("--throttle-first", type=int, default=0)
    args = parser.parse_args()
    upstream = urllib.parse.urlparse(args.upstream)
    Handler.state = State(args.operation, args.rate, args.burst, args.throttle_first)
    Handler.upstream = (upstream.hostname, upstream.port or 80)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
