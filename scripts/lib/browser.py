#!/usr/bin/env python3
"""A real headless Chromium driven over the DevTools protocol, with nothing but the standard library.

Chromium's `--remote-debugging-pipe` speaks the protocol over file descriptors 3 (commands in) and
4 (answers and events out), each message a JSON text ended by a NUL byte: no WebSocket, no
third-party package. `Browser` starts one, opens a page and offers the few steps the report's tests
and its screenshot need: navigate, evaluate, submit a form, the status of the last document, a
full-page PNG.
"""
import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time


class BrowserError(Exception):
    pass


class Browser:
    def __init__(self, width=1280, height=900, timeout=30.0):
        binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if binary is None:
            raise BrowserError("chromium is not installed (apt-get install -y chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="stableid-chromium-")
        to_chrome_read, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_write = os.pipe()

        def wire_pipes():
            # The child sees our pipes as its descriptors 3 and 4, the protocol's fixed places
            # (moved high first, so neither overwrites the other when one already is 3 or 4).
            high_read = fcntl.fcntl(to_chrome_read, fcntl.F_DUPFD, 10)
            high_write = fcntl.fcntl(from_chrome_write, fcntl.F_DUPFD, 10)
            os.dup2(high_read, 3)
            os.dup2(high_write, 4)

        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--user-data-dir=" + self.profile, "--window-size=%d,%d" % (width, height), "about:blank",
        ]
        self.process = subprocess.Popen(
            args, preexec_fn=wire_pipes, pass_fds=(3, 4),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_read)
        os.close(from_chrome_write)
        self._buffer = b""
        self._next_id = 0
        self.events = []
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.command("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network"):
            self.command(domain + ".enable", session=True)
        self.command("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=True)

    def _send(self, message):
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._to_chrome, data)
            data = data[written:]

    def _receive(self, deadline):
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise BrowserError("no answer from chromium in time")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise BrowserError("chromium closed the pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def command(self, method, params=None, session=False):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError("%s failed: %s" % (method, answer["error"].get("message")))
                return answer.get("result", {})
            self.events.append(answer)

    def _wait_for_load(self, since):
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events[since:]:
                if event.get("method") == "Page.loadEventFired":
                    return
            self.events.append(self._receive(deadline))

    def navigate(self, url):
        mark = len(self.events)
        self.command("Page.navigate", {"url": url}, session=True)
        self._wait_for_load(mark)

    def evaluate(self, expression):
        result = self.command("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        if "exceptionDetails" in result:
            raise BrowserError("script failed: %s" % result["exceptionDetails"].get("text"))
        return result.get("result", {}).get("value")

    def submit(self, expression):
        """Runs `expression` (which submits a form) and waits for the next page to load."""
        mark = len(self.events)
        self.evaluate(expression)
        self._wait_for_load(mark)

    def last_document_status(self):
        for event in reversed(self.events):
            if event.get("method") == "Network.responseReceived" and event["params"].get("type") == "Document":
                return event["params"]["response"]["status"]
        return None

    def url(self):
        return self.evaluate("location.href")

    def screenshot(self, path):
        metrics = self.command("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.command("Page.captureScreenshot",
                            {"format": "png", "clip": clip, "captureBeyondViewport": True}, session=True)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))

    def close(self):
        try:
            self.command("Browser.close")
        except BrowserError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
