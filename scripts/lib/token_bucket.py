"""The token bucket the local Cognito stand-ins throttle with (throttled_cognito.py, throttle_proxy.py)."""
import time


class Bucket:
    """Token bucket: `rate` tokens a second, at most `burst` saved up; one token per request."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
