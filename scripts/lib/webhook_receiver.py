#!/usr/bin/env python3
"""A Standard Webhooks receiver for the webhook CLI tests and scripts/bench-webhooks.

Standard library only, and sharing nothing with StableID's signing code: every POST is checked
with Python's hmac, hashlib and base64 against the secret in --secret-file — `webhook-signature`
must hold `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")), the key
being the base64 after `whsec_`; the timestamp within 5 minutes; a JSON content type — then
recorded as one JSON line in --log (`id`, `valid`, `changes`: the body's `data.changes`) and
answered 200 after --delay seconds.

GET /stats answers JSON: `requests`, `changes` (in all requests, repeats included), `invalid`,
`first` and `last` (wall-clock times of the first and the last request). GET /healthz: 200.

    webhook_receiver.py --port P --log FILE --secret-file F [--delay 0.0]
"""
import argparse, base64, hashlib, hmac, http.server, json, threading, time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--secret-file", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    with open(args.secret_file) as f:
        secret = f.read().strip()
    key = base64.b64decode(secret[len("whsec_"):], validate=True)
    lock = threading.Lock()
    stats = {"requests": 0, "changes": 0, "invalid": 0, "first": None, "last": None}
    log = open(args.log, "a")

    def verify(headers, body):
        msg_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        signatures = [part[3:] for part in headers.get("webhook-signature", "").split(" ") if part.startswith("v1,")]
        good = any(hmac.compare_digest(candidate, expected) for candidate in signatures)
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) < 300
        return good and fresh and headers.get("content-type", "").startswith("application/json")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/healthz":
                self.reply(200, b"ok")
            elif self.path == "/stats":
                with lock:
                    body = json.dumps(stats).encode()
                self.reply(200, body)
            else:
                self.reply(404, b"")

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if args.delay:
                time.sleep(args.delay)
            valid = verify(self.headers, body)
            try:
                changes = json.loads(body)["data"]["changes"]
            except (ValueError, KeyError, TypeError):
                changes, valid = [], False
            with lock:
                now = time.time()
                stats["requests"] += 1
                stats["changes"] += len(changes)
                stats["invalid"] += 0 if valid else 1
                stats["first"] = stats["first"] or now
                stats["last"] = now
                log.write(json.dumps({"id": self.headers.get("webhook-id", ""), "valid": valid, "changes": changes}) + "\n")
                log.flush()
            self.reply(200, b"")

        def reply(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
