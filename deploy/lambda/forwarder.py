"""Cognito trigger forwarder for StableID (AWS Lambda, Python 3.12, standard library only).

Cognito invokes this function for the user pool's triggers (Migrate user, Post authentication,
Post confirmation, Pre token generation V1/V2). The function POSTs the event, unchanged, to
``${STABLEID_URL}/v1/cognito/triggers`` and returns StableID's answer: the same event with
``response`` filled in.

Environment:
  STABLEID_URL               base URL of StableID (https; with or without a trailing slash)
  STABLEID_TOKEN             API token with the ``trigger`` scope (set it from the function's
                             KMS-encrypted environment or from Secrets Manager at deploy time)
  STABLEID_TIMEOUT_SECONDS   per-request timeout, default 4.0 (Cognito gives a trigger 5 s)
  STABLEID_FAIL_OPEN         comma-separated triggerSource prefixes that fail open,
                             default ``TokenGeneration,PostAuthentication``
  STABLEID_ALLOW_HTTP        ``true`` to allow a plain-http URL to a non-loopback host
                             (the bearer token would then cross the network in clear)

Failure policy (StableID unreachable, timed out, answered 5xx or something unusable):
  * fail-open triggers return the incoming event unchanged: sign-in proceeds, the token lacks
    the ``stable_id`` claim, and reconciliation makes the link later;
  * every other trigger (by default UserMigration_* and PostConfirmation_*) raises, so Cognito
    fails the sign-in or sign-up and shows an error.
A deliberate refusal is not a failure: HTTP 4xx with a problem ``code`` of ``migration_refused``,
``user_not_found`` or ``not_authorized`` raises ``Exception(detail)`` for every trigger, so
Cognito shows the service's own message (for example "User does not exist.").

The event is never logged: UserMigration_Authentication carries the user's password. Logs name
only triggerSource, userPoolId, the outcome, the HTTP status and the time taken.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

logger = logging.getLogger("stableid.forwarder")
logger.setLevel(logging.INFO)

TRIGGERS_PATH = "/v1/cognito/triggers"
DEFAULT_TIMEOUT_SECONDS = 4.0
DEFAULT_FAIL_OPEN = "TokenGeneration,PostAuthentication"
# Problem codes with which StableID refuses a trigger on purpose; their `detail` is meant for
# the user and becomes the exception message Cognito shows.
REFUSAL_CODES = frozenset({"migration_refused", "user_not_found", "not_authorized"})
# Time kept back from the Lambda's remaining time, so that a fail-open trigger can still answer
# before the function itself times out (which Cognito would treat as a failure).
SAFETY_MARGIN_SECONDS = 0.3
MAX_ANSWER_BYTES = 1 << 20


class ConfigurationError(Exception):
    """The function is deployed without what it needs (URL, token) or with unusable values."""


class StableIDUnavailable(Exception):
    """StableID could not answer a fail-closed trigger. The message is safe to show users."""


class _Failure(Exception):
    """Internal: a transport or protocol failure, to which the per-trigger policy applies."""

    def __init__(self, outcome: str, status: int | None = None, code: str | None = None):
        super().__init__(outcome)
        self.outcome = outcome
        self.status = status
        self.code = code


class _Refusal(Exception):
    """Internal: StableID refused the trigger with a problem meant for the user."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Config:
    endpoint: str
    token: str
    timeout: float
    fail_open: tuple[str, ...]

    @staticmethod
    def from_environment(environ: dict[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        base = env.get("STABLEID_URL", "").strip()
        token = env.get("STABLEID_TOKEN", "").strip()
        if not base:
            raise ConfigurationError("STABLEID_URL is not set: give the function StableID's base URL")
        if not token:
            raise ConfigurationError("STABLEID_TOKEN is not set: give the function a StableID token with the 'trigger' scope")
        parsed = urllib.parse.urlsplit(base)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ConfigurationError("STABLEID_URL must be an https:// URL with a host")
        allow_http = env.get("STABLEID_ALLOW_HTTP", "").strip().lower() in ("1", "true", "yes")
        if parsed.scheme == "http" and not allow_http and not _is_loopback(parsed.hostname):
            raise ConfigurationError(
                "STABLEID_URL uses plain http to a non-loopback host; use https (or set STABLEID_ALLOW_HTTP=true)"
            )
        if parsed.query or parsed.fragment:
            raise ConfigurationError("STABLEID_URL must not have a query or fragment")
        raw_timeout = env.get("STABLEID_TIMEOUT_SECONDS", "").strip()
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError:
            raise ConfigurationError("STABLEID_TIMEOUT_SECONDS must be a number of seconds") from None
        if not (0 < timeout <= 30):
            raise ConfigurationError("STABLEID_TIMEOUT_SECONDS must be between 0 and 30")
        raw_fail_open = env.get("STABLEID_FAIL_OPEN")
        if raw_fail_open is None:
            raw_fail_open = DEFAULT_FAIL_OPEN
        fail_open = tuple(part.strip() for part in raw_fail_open.split(",") if part.strip())
        return Config(endpoint=base.rstrip("/") + TRIGGERS_PATH, token=token, timeout=timeout, fail_open=fail_open)

    def fails_open(self, trigger_source: str) -> bool:
        return any(trigger_source.startswith(prefix) for prefix in self.fail_open)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would resend the bearer token, possibly to another host: treat it as a failure."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D401 (urllib's signature)
        return None


# No proxies from the environment (the body of UserMigration_Authentication holds a password) and
# no redirects.
_opener = urllib.request.build_opener(_NoRedirect(), urllib.request.ProxyHandler({}))


def handler(event, context):
    """The Lambda entry point: forwards `event` to StableID and returns its answer."""
    config = Config.from_environment()
    trigger = str(event.get("triggerSource", "")) if isinstance(event, dict) else ""
    pool = str(event.get("userPoolId", "")) if isinstance(event, dict) else ""
    timeout = _timeout_within_budget(config.timeout, context)
    started = time.monotonic()

    def log(level: int, outcome: str, status: int | None = None, code: str | None = None) -> None:
        elapsed_ms = int((time.monotonic() - started) * 1000)
        logger.log(
            level,
            "stableid trigger triggerSource=%s userPoolId=%s outcome=%s status=%s code=%s elapsed_ms=%d",
            trigger or "-", pool or "-", outcome, status if status is not None else "-", code or "-", elapsed_ms,
        )

    try:
        status, answer = _post(config, event, timeout)
    except _Refusal as refusal:
        log(logging.INFO, "refused", refusal.status, refusal.code)
        # Exactly the service's words: Cognito shows this message to the user.
        raise Exception(refusal.detail) from None
    except _Failure as failure:
        if config.fails_open(trigger):
            log(logging.WARNING, f"{failure.outcome}; failed open", failure.status, failure.code)
            return event
        log(logging.ERROR, f"{failure.outcome}; failed closed", failure.status, failure.code)
        raise StableIDUnavailable("Sign-in is temporarily unavailable. Please try again.") from None
    log(logging.INFO, "answered", status)
    return answer


def _timeout_within_budget(configured: float, context) -> float:
    """The configured timeout, shortened to what the invocation has left minus a margin."""
    remaining_ms = None
    getter = getattr(context, "get_remaining_time_in_millis", None)
    if callable(getter):
        try:
            remaining_ms = float(getter())
        except (TypeError, ValueError):
            remaining_ms = None
    if remaining_ms is None:
        return configured
    return max(0.05, min(configured, remaining_ms / 1000.0 - SAFETY_MARGIN_SECONDS))


def _post(config: Config, event, timeout: float) -> tuple[int, dict]:
    """POSTs the event; returns (status, answer) or raises _Refusal / _Failure. Never logs."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        config.endpoint,
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {config.token}",
            "Content-Type": "application/json",
            "Accept": "application/json, application/problem+json",
        },
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:
        try:
            raw = _read_quietly(error)
        finally:
            error.close()
        raise _classify_error(error.code, raw) from None
    except (TimeoutError, socket.timeout):
        raise _Failure("timeout") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, (TimeoutError, socket.timeout)):
            raise _Failure("timeout") from None
        raise _Failure("connection error") from None
    except (OSError, ValueError, http.client.HTTPException):
        raise _Failure("connection error") from None
    if status < 200 or status >= 300:
        raise _classify_error(status, raw)
    if len(raw) > MAX_ANSWER_BYTES:
        raise _Failure("answer too large", status)
    try:
        answer = json.loads(raw)
    except ValueError:
        raise _Failure("answer is not JSON", status) from None
    if not isinstance(answer, dict):
        raise _Failure("answer is not a JSON object", status)
    return status, answer


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read(MAX_ANSWER_BYTES)
    except Exception:  # the body of an error is a bonus; its absence is not a new failure
        return b""


def _classify_error(status: int, raw: bytes) -> Exception:
    code = None
    detail = None
    try:
        problem = json.loads(raw) if raw else None
    except ValueError:
        problem = None
    if isinstance(problem, dict):
        code = problem.get("code") if isinstance(problem.get("code"), str) else None
        for key in ("detail", "title"):
            if isinstance(problem.get(key), str) and problem[key]:
                detail = problem[key]
                break
    if 400 <= status < 500 and code in REFUSAL_CODES:
        return _Refusal(status, code, detail or "The request was refused.")
    if status >= 500:
        return _Failure("server error", status, code)
    # 3xx (redirects are refused), 401/403 (token), 400 invalid_request…: a deployment problem,
    # logged at error level, with the same per-trigger policy as an outage.
    return _Failure("unexpected answer", status, code)
