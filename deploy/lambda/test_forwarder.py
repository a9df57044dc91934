"""Tests for forwarder.py against a local HTTP server playing StableID.

Run: python3 -m unittest deploy/lambda/test_forwarder.py
"""

from __future__ import annotations

import copy
import http.server
import json
import logging
import os
import sys
import threading
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import forwarder  # noqa: E402

TOKEN = "sid_test_secret_token"
PASSWORD = "Correct-Horse-Battery-9!"


def migration_event() -> dict:
    return {
        "version": "1",
        "triggerSource": "UserMigration_Authentication",
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_TARGET",
        "userName": "alice",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client123"},
        "request": {"password": PASSWORD, "validationData": None, "clientMetadata": {"note": "ünïcode"}},
        "response": {"userAttributes": None, "finalUserStatus": None, "messageAction": None},
    }


def token_event() -> dict:
    return {
        "version": "2",
        "triggerSource": "TokenGeneration_Authentication",
        "region": "eu-west-1",
        "userPoolId": "eu-west-1_TARGET",
        "userName": "alice",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client123"},
        "request": {"userAttributes": {"sub": "0f1e2d3c-aaaa-bbbb-cccc-000000000001"}, "groupConfiguration": {}},
        "response": {"claimsAndScopeOverrideDetails": None},
    }


class FakeStableID:
    """A threaded HTTP server that records requests and answers from a scripted behaviour."""

    def __init__(self):
        self.requests: list[dict] = []
        self.behaviour = lambda body: (200, "application/json", json.dumps(body).encode())
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "raw": raw})
                try:
                    status, content_type, payload = fake.behaviour(json.loads(raw))
                except Exception:  # a broken test script should look like a server error
                    status, content_type, payload = 500, "text/plain", b"boom"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format, *args):  # keep test output quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.closed = False

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.closed:
            return
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class Context:
    """The part of the Lambda context object the forwarder reads."""

    def __init__(self, remaining_ms: int = 5000):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def problem(status: int, code: str, detail: str):
    body = {"type": f"urn:stableid:problem:{code}", "title": "Refused", "status": status, "code": code, "detail": detail}
    return lambda _body: (status, "application/problem+json", json.dumps(body).encode())


class ForwarderTests(unittest.TestCase):
    def setUp(self):
        self.stableid = FakeStableID().__enter__()
        self.addCleanup(self.stableid.__exit__, None, None, None)
        self.env = {"STABLEID_URL": self.stableid.url + "/", "STABLEID_TOKEN": TOKEN, "STABLEID_TIMEOUT_SECONDS": "0.5"}
        patcher = mock.patch.dict(os.environ, self.env, clear=False)
        patcher.start()
        self.addCleanup(patcher.stop)
        os.environ.pop("STABLEID_FAIL_OPEN", None)
        os.environ.pop("STABLEID_ALLOW_HTTP", None)

    def invoke(self, event: dict):
        with self.assertLogs("stableid.forwarder", level="DEBUG") as captured:
            try:
                return forwarder.handler(event, Context()), captured
            except Exception as error:  # hand the logs back with the error
                error.captured_logs = captured  # type: ignore[attr-defined]
                raise

    def assert_no_secrets(self, captured):
        text = "\n".join(captured.output)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(TOKEN, text)

    def test_success_returns_the_answer_and_sends_the_event_as_received(self):
        def answer(body):
            filled = copy.deepcopy(body)
            filled["response"] = {"userAttributes": {"email": "alice@example.com"}, "finalUserStatus": "CONFIRMED",
                                  "messageAction": "SUPPRESS"}
            return 200, "application/json", json.dumps(filled).encode()

        self.stableid.behaviour = answer
        event = migration_event()
        result, captured = self.invoke(copy.deepcopy(event))
        self.assertEqual(result["response"]["finalUserStatus"], "CONFIRMED")
        self.assertEqual(result["userName"], "alice")
        self.assertEqual(len(self.stableid.requests), 1)
        sent = self.stableid.requests[0]
        self.assertEqual(sent["path"], "/v1/cognito/triggers")  # the trailing slash of the URL is not doubled
        self.assertEqual(sent["headers"]["Authorization"], f"Bearer {TOKEN}")
        self.assertEqual(sent["headers"]["Content-Type"], "application/json")
        self.assertEqual(json.loads(sent["raw"].decode("utf-8")), event)
        self.assert_no_secrets(captured)
        self.assertIn("triggerSource=UserMigration_Authentication", captured.output[0])
        self.assertIn("userPoolId=eu-west-1_TARGET", captured.output[0])
        self.assertIn("outcome=answered", captured.output[0])

    def test_url_without_trailing_slash(self):
        os.environ["STABLEID_URL"] = self.stableid.url
        result, _ = self.invoke(token_event())
        self.assertEqual(result, token_event())
        self.assertEqual(self.stableid.requests[0]["path"], "/v1/cognito/triggers")

    def test_fail_open_on_timeout_returns_the_event_unchanged(self):
        def slow(body):
            time.sleep(1.5)
            return 200, "application/json", json.dumps(body).encode()

        self.stableid.behaviour = slow
        event = token_event()
        started = time.monotonic()
        result, captured = self.invoke(copy.deepcopy(event))
        self.assertLess(time.monotonic() - started, 1.4)
        self.assertEqual(result, event)
        self.assertIn("timeout; failed open", captured.output[0])
        self.assert_no_secrets(captured)

    def test_fail_open_when_unreachable(self):
        self.stableid.__exit__(None, None, None)  # nothing listens on the port any more
        event = {**token_event(), "triggerSource": "PostAuthentication_Authentication"}
        result, captured = self.invoke(copy.deepcopy(event))
        self.assertEqual(result, event)
        self.assertIn("connection error; failed open", captured.output[0])

    def test_fail_closed_on_503(self):
        self.stableid.behaviour = problem(503, "database_unavailable", "retry after the indicated delay")
        with self.assertRaises(forwarder.StableIDUnavailable) as raised:
            self.invoke(migration_event())
        captured = raised.exception.captured_logs
        self.assertIn("server error; failed closed", captured.output[0])
        self.assertIn("status=503", captured.output[0])
        self.assertNotIn("retry after", str(raised.exception))
        self.assert_no_secrets(captured)

    def test_fail_closed_on_timeout_for_post_confirmation(self):
        def slow(body):
            time.sleep(1.5)
            return 200, "application/json", json.dumps(body).encode()

        self.stableid.behaviour = slow
        event = {**token_event(), "triggerSource": "PostConfirmation_ConfirmSignUp"}
        with self.assertRaises(forwarder.StableIDUnavailable):
            self.invoke(event)

    def test_fail_open_prefixes_are_configurable(self):
        os.environ["STABLEID_FAIL_OPEN"] = "UserMigration"
        self.stableid.behaviour = problem(503, "database_unavailable", "x")
        event = migration_event()
        result, _ = self.invoke(copy.deepcopy(event))
        self.assertEqual(result, event)
        with self.assertRaises(forwarder.StableIDUnavailable):
            self.invoke(token_event())

    def test_refusal_raises_the_problem_detail_exactly(self):
        for code, detail in [
            ("user_not_found", "User does not exist."),
            ("not_authorized", "Incorrect username or password."),
            ("migration_refused", "This account cannot be migrated."),
        ]:
            with self.subTest(code=code):
                self.stableid.behaviour = problem(400, code, detail)
                with self.assertRaises(Exception) as raised:
                    self.invoke(migration_event())
                self.assertIs(type(raised.exception), Exception)
                self.assertEqual(str(raised.exception), detail)
                self.assertEqual(raised.exception.args, (detail,))
                captured = raised.exception.captured_logs
                self.assertIn("outcome=refused", captured.output[0])
                self.assertIn(f"code={code}", captured.output[0])
                self.assert_no_secrets(captured)

    def test_other_4xx_follows_the_failure_policy(self):
        self.stableid.behaviour = problem(401, "unauthorized", "bad token")
        event = token_event()
        result, captured = self.invoke(copy.deepcopy(event))
        self.assertEqual(result, event)
        self.assertIn("status=401", captured.output[0])
        with self.assertRaises(forwarder.StableIDUnavailable):
            self.invoke(migration_event())

    def test_an_answer_that_is_not_json_is_a_failure(self):
        self.stableid.behaviour = lambda _body: (200, "text/html", b"<html>proxy page</html>")
        event = token_event()
        result, captured = self.invoke(copy.deepcopy(event))
        self.assertEqual(result, event)
        self.assertIn("answer is not JSON", captured.output[0])

    def test_redirects_are_not_followed(self):
        self.stableid.behaviour = lambda _body: (307, "text/plain", b"")
        with self.assertRaises(forwarder.StableIDUnavailable):
            self.invoke(migration_event())
        self.assertEqual(len(self.stableid.requests), 1)

    def test_password_never_logged_even_at_debug_level(self):
        logging.getLogger("stableid.forwarder").setLevel(logging.DEBUG)
        self.addCleanup(logging.getLogger("stableid.forwarder").setLevel, logging.INFO)
        for behaviour in [None, problem(503, "x", "y"), problem(400, "not_authorized", "Incorrect username or password.")]:
            if behaviour:
                self.stableid.behaviour = behaviour
            try:
                _, captured = self.invoke(migration_event())
            except Exception as error:
                captured = error.captured_logs
            self.assert_no_secrets(captured)

    def test_missing_configuration_is_reported_at_invocation(self):
        for missing in ("STABLEID_URL", "STABLEID_TOKEN"):
            with self.subTest(missing=missing), mock.patch.dict(os.environ, {missing: ""}):
                with self.assertRaises(forwarder.ConfigurationError) as raised:
                    forwarder.handler(token_event(), Context())
                self.assertIn(missing, str(raised.exception))
        self.assertEqual(self.stableid.requests, [])

    def test_configuration_parsing(self):
        config = forwarder.Config.from_environment({"STABLEID_URL": "https://stableid.internal:8443/", "STABLEID_TOKEN": "t"})
        self.assertEqual(config.endpoint, "https://stableid.internal:8443/v1/cognito/triggers")
        self.assertEqual(config.timeout, 4.0)
        self.assertTrue(config.fails_open("TokenGeneration_HostedAuth"))
        self.assertTrue(config.fails_open("PostAuthentication_Authentication"))
        self.assertFalse(config.fails_open("UserMigration_Authentication"))
        self.assertFalse(config.fails_open("PostConfirmation_ConfirmForgotPassword"))
        nothing_open = forwarder.Config.from_environment({"STABLEID_URL": "https://s", "STABLEID_TOKEN": "t", "STABLEID_FAIL_OPEN": ""})
        self.assertFalse(nothing_open.fails_open("TokenGeneration_Authentication"))
        for bad in [
            {"STABLEID_URL": "http://stableid.internal", "STABLEID_TOKEN": "t"},
            {"STABLEID_URL": "file:///etc/passwd", "STABLEID_TOKEN": "t"},
            {"STABLEID_URL": "https://s", "STABLEID_TOKEN": "t", "STABLEID_TIMEOUT_SECONDS": "soon"},
            {"STABLEID_URL": "https://s", "STABLEID_TOKEN": "t", "STABLEID_TIMEOUT_SECONDS": "0"},
        ]:
            with self.subTest(bad=bad), self.assertRaises(forwarder.ConfigurationError):
                forwarder.Config.from_environment(bad)
        allowed = forwarder.Config.from_environment(
            {"STABLEID_URL": "http://stableid.internal", "STABLEID_TOKEN": "t", "STABLEID_ALLOW_HTTP": "true"})
        self.assertEqual(allowed.endpoint, "http://stableid.internal/v1/cognito/triggers")

    def test_timeout_is_kept_inside_the_invocation_budget(self):
        self.assertEqual(forwarder._timeout_within_budget(4.0, Context(5000)), 4.0)
        self.assertAlmostEqual(forwarder._timeout_within_budget(4.0, Context(2000)), 1.7)
        self.assertEqual(forwarder._timeout_within_budget(4.0, None), 4.0)


if __name__ == "__main__":
    unittest.main()
