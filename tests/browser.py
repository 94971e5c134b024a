"""Headless Chromium driven over the DevTools protocol, with the standard library only.

Chromium speaks the protocol over two pipes (``--remote-debugging-pipe``: it reads commands on
file descriptor 3 and writes replies and events on 4, each message JSON ended by a NUL byte).
``Browser.open`` loads a page at a given window width, waits for the load event and for
MathJax, and returns what the page logged as errors; ``Browser.evaluate`` runs JavaScript in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

from repalign.pdf import HEADLESS_FLAGS, chromium_path

FLAGS = [*HEADLESS_FLAGS, "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]  # a CDN would fail
# Wait until MathJax has typeset the page (a page without math resolves at once).
MATHJAX_DONE = "(window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve()"


class Browser:
    def __init__(self, user_data_dir, timeout: float = 60):
        self.timeout, self.next_id, self.buffer, self.events = timeout, 0, b"", []
        to_chromium, self._commands = os.pipe()
        self._replies, from_chromium = os.pipe()

        def wire_pipes():  # in the child: its fd 3 reads our commands, its fd 4 writes back
            high_in, high_out = os.dup(to_chromium), os.dup(from_chromium)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self.process = subprocess.Popen(
            [chromium_path(), *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={user_data_dir}", "about:blank"],
            preexec_fn=wire_pipes, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chromium)
        os.close(from_chromium)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if time.time() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._replies, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.time() + self.timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _wait_for(self, method: str) -> None:
        deadline = time.time() + self.timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read_message(deadline))

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, width: int = 1200, height: int = 900) -> list[str]:
        """Load ``url`` in a window ``width`` pixels wide; the errors it logged while loading."""
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=width < 600)
        self.events = []
        self.call("Page.navigate", session=True, url=url)
        self._wait_for("Page.loadEventFired")
        self.evaluate(MATHJAX_DONE)
        self.evaluate("new Promise(done => setTimeout(done, 200))")  # late scripts and their errors
        self.evaluate("localStorage.clear(), sessionStorage.clear()")  # every page a first visit
        return [error for event in self.events for error in [_error(event)] if error]

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._commands)
        os.close(self._replies)


def _error(event: dict) -> str | None:
    """The text of an error the page logged (console.error, an uncaught exception, a failed load)."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        return "console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
    if method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        return "uncaught: " + details.get("exception", {}).get("description", details.get("text", ""))
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        return f"log: {params['entry']['text']} {params['entry'].get('url', '')}"
    return None
