#!/usr/bin/env python3
"""A local Cognito user-pool endpoint that throttles ListUsers like AWS, for scripts/bench-reconcile.

Standard library only. Serves ListUsers (AWS JSON 1.1: POST with X-Amz-Target
AWSCognitoIdentityProviderService.ListUsers, body {UserPoolId, Limit, PaginationToken}) for up to
three pools of generated users (scripts/lib/reconcile_fixture.py: the same users the file mode
reads), N per pool, pages of at most 60 (Limit 1..60, default 60). Requests are not
authenticated; the account is the access key id of the SigV4 Authorization header.

ListUsers is limited per account by a token bucket (--rate per second, --burst deep; Cognito's
quota is 30/s): beyond it the answer is HTTP 400, {"__type": "TooManyRequestsException", ...} with
x-amzn-ErrorType: TooManyRequestsException, as Cognito answers. DescribeUserPool is answered
minimally (unthrottled); any other operation gets 400 UnknownOperationException.

GET /stats answers JSON: ListUsers requests served and throttled (in total and per pool, with the
users served), the first arrival and the last one served (epoch seconds), the most ListUsers
arrivals (served or throttled) in any one-second window, other operations and errors.
GET /healthz answers 200.

    throttled_cognito.py --port P [--source POOL] [--target POOL] [--pool POOL] --users N
                         [--rate 30] [--burst 30]

--source and --target serve the fixture's source and target pools (differing from the map as
described there), --pool a clean copy of the source pool.
"""
import argparse, base64, json, os, signal, sys, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reconcile_fixture  # noqa: E402
from token_bucket import Bucket  # noqa: E402

PREFIX = "AWSCognitoIdentityProviderService."
MAX_LIMIT = 60


class ServiceError(Exception):
    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


class Pool:
    def __init__(self, pool_id, role, n):
        self.id, self.role = pool_id, role
        self.indices = reconcile_fixture.indices(role, n)

    def page(self, offset, limit):
        chosen = self.indices[offset:offset + limit]
        users = [reconcile_fixture.user(self.role, i, epoch=True) for i in chosen]
        following = offset + len(chosen)
        token = encode_token(self.id, following) if following < len(self.indices) else None
        return users, token


def encode_token(pool_id, offset):
    return base64.urlsafe_b64encode(f"{pool_id}:{offset}".encode()).decode()


def decode_token(pool_id, token):
    try:
        pool, _, offset = base64.urlsafe_b64decode(token.encode()).decode().rpartition(":")
        if pool == pool_id and int(offset) >= 0:
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ServiceError("InvalidParameterException", "Invalid pagination token")


class State:
    def __init__(self, pools, rate, burst):
        self.pools = pools
        self.rate, self.burst = rate, burst
        self.lock = threading.Lock()
        self.buckets = {}
        self.served = self.throttled = 0
        self.by_pool = {p: {"served": 0, "throttled": 0, "users": 0} for p in pools}
        self.arrivals = []  # monotonic times of ListUsers requests, served or throttled
        self.first_at = self.last_at = None  # wall clock: the first ListUsers arrival, the last one served
        self.other = {}
        self.errors = {}

    def admit(self, account, pool_id):
        """Counts a ListUsers request and takes a token from the account's bucket."""
        with self.lock:
            self.arrivals.append(time.monotonic())
            if self.first_at is None:
                self.first_at = time.time()
            bucket = self.buckets.setdefault(account, Bucket(self.rate, self.burst))
            admitted = bucket.take()
            counts = self.by_pool.get(pool_id)
            if admitted:
                self.served += 1
                self.last_at = time.time()
            else:
                self.throttled += 1
            if counts is not None:
                counts["served" if admitted else "throttled"] += 1
            return admitted

    def served_page(self, pool_id, users):
        with self.lock:
            self.by_pool[pool_id]["users"] += users

    def count(self, table, key):
        with self.lock:
            table[key] = table.get(key, 0) + 1

    def stats(self):
        with self.lock:
            arrivals = list(self.arrivals)
            peak, start = 0, 0
            for end, at in enumerate(arrivals):
                while at - arrivals[start] >= 1.0:
                    start += 1
                peak = max(peak, end - start + 1)
            return {
                "rate": self.rate, "burst": self.burst,
                "list_users": {"served": self.served, "throttled": self.throttled, "by_pool": self.by_pool,
                               "first_at": self.first_at, "last_at": self.last_at,
                               "peak_per_second": peak},
                "other_operations": self.other, "errors": self.errors,
            }


def account_of(headers):
    """The access key id from `Authorization: AWS4-HMAC-SHA256 Credential=AKID/date/…`."""
    authorization = headers.get("Authorization", "")
    marker = authorization.find("Credential=")
    if marker < 0:
        return "anonymous"
    return authorization[marker + len("Credential="):].split("/", 1)[0] or "anonymous"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl uses it against AWS
    # Headers and body go out in two writes: without TCP_NODELAY the second waits for the
    # client's delayed ACK (40 ms), which alone would hold a client under 25 requests/s.
    disable_nagle_algorithm = True
    server_version = "throttled-cognito"
    state = None  # set in main

    def log_message(self, format, *args):  # quiet: 30 requests a second for minutes
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

    def send_error_json(self, error):
        self.state.count(self.state.errors, error.kind)
        self.send_json(error.status, {"__type": error.kind, "message": error.message},
                       headers=[("x-amzn-ErrorType", error.kind)])

    def do_GET(self):
        if self.path == "/stats":
            self.send_json(200, self.state.stats())
        elif self.path == "/healthz":
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"message": "not found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(PREFIX):] if target.startswith(PREFIX) else ""
        try:
            try:
                params = json.loads(body or b"{}")
                if not isinstance(params, dict):
                    raise ValueError
            except ValueError:
                raise ServiceError("SerializationException", "the body is not a JSON object")
            if operation == "ListUsers":
                self.list_users(params)
            elif operation == "DescribeUserPool":
                self.state.count(self.state.other, operation)
                pool = self.pool(params)
                self.send_json(200, {"UserPool": {
                    "Id": pool.id, "Name": pool.id, "EstimatedNumberOfUsers": len(pool.indices),
                    "SchemaAttributes": [{"Name": name, "AttributeDataType": "String", "Mutable": name != "sub"}
                                         for name in ("sub", "email", "custom:stable_id")]}})
            else:
                self.state.count(self.state.other, operation or target or "(none)")
                raise ServiceError("UnknownOperationException", f"unknown operation {target or '(no X-Amz-Target)'}")
        except ServiceError as error:
            self.send_error_json(error)

    def pool(self, params):
        pool_id = params.get("UserPoolId")
        if not isinstance(pool_id, str) or not pool_id:
            raise ServiceError("InvalidParameterException", "UserPoolId is required")
        pool = self.state.pools.get(pool_id)
        if pool is None:
            raise ServiceError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def list_users(self, params):
        pool_id = params.get("UserPoolId")
        if not self.state.admit(account_of(self.headers), pool_id):
            raise ServiceError("TooManyRequestsException", "Rate exceeded")
        pool = self.pool(params)
        limit = params.get("Limit", MAX_LIMIT)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= MAX_LIMIT:
            raise ServiceError("InvalidParameterException",
                               "1 validation error detected: Value at 'limit' failed to satisfy constraint: "
                               f"Member must have value less than or equal to {MAX_LIMIT}")
        token = params.get("PaginationToken")
        offset = decode_token(pool.id, token) if token else 0
        users, following = pool.page(offset, limit)
        self.state.served_page(pool.id, len(users))
        answer = {"Users": users}
        if following:
            answer["PaginationToken"] = following
        self.send_json(200, answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--source", help="serve the fixture's source pool under this id")
    parser.add_argument("--target", help="serve the fixture's target pool under this id")
    parser.add_argument("--pool", help="serve a clean copy of the source pool under this id")
    parser.add_argument("--users", type=int, required=True, help="users per pool (before the fixture's differences)")
    parser.add_argument("--rate", type=float, default=30.0, help="ListUsers requests per second per account")
    parser.add_argument("--burst", type=float, default=30.0, help="token bucket depth")
    args = parser.parse_args()
    pools = {}
    for pool_id, role in ((args.source, "source"), (args.target, "target"), (args.pool, "source-map")):
        if pool_id:
            if pool_id in pools:
                parser.error(f"{pool_id} is given twice")
            pools[pool_id] = Pool(pool_id, role, args.users)
    if not pools:
        parser.error("give at least one of --source, --target, --pool")
    if args.rate <= 0 or args.burst < 1:
        parser.error("--rate must be positive and --burst at least 1")
    Handler.state = State(pools, args.rate, args.burst)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {args.host}:{args.port}: "
          + ", ".join(f"{p.id} ({p.role}, {len(p.indices)} users)" for p in pools.values())
          + f"; ListUsers at {args.rate:g}/s, burst {args.burst:g}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
