"""Drive headless Chromium over the DevTools protocol with the network off (for the report site tests).

One browser per session; each page is opened in a fresh tab, and what it did is recorded: every
request it made (URL), console messages and uncaught exceptions, log entries (failed loads), the
DOM once its charts are drawn, and a full-page screenshot.

Network off: ``--host-resolver-rules="MAP * ~NOTFOUND"`` (no name resolves) and a proxy on the
discard port 127.0.0.1:9, plus Chromium's own background traffic switched off.
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = ("headless Chromium is needed for the report site's browser tests: on Debian/Ubuntu "
                "`apt-get install chromium` (CI installs it in .ci/run)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         '--host-resolver-rules=MAP * ~NOTFOUND', "--proxy-server=127.0.0.1:9",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_path() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    url: str
    requests: list[str] = field(default_factory=list)
    console: list[dict] = field(default_factory=list)     # {"type": ..., "text": ...}
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[dict] = field(default_factory=list)  # {"level": ..., "text": ..., "url": ...}
    ready: str | None = None   # the page's data-charts-ready attribute (charts embedded)
    charts: dict[str, dict] = field(default_factory=dict)  # chart container id -> {"svg": n, "marks": n}
    texts: dict[str, str] = field(default_factory=dict)    # chart container id -> its drawing (SVG markup)
    results: list = field(default_factory=list)            # what each action evaluated to
    dom: str = ""
    screenshot: Path | None = None

    @property
    def errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions and error log entries."""
        out = [f"console.{c['type']}: {c['text']}" for c in self.console if c["type"] in ("error", "warning", "assert")]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"log {e['level']}: {e['text']} ({e.get('url', '')})" for e in self.log_entries
                if e["level"] in ("error", "warning")]
        return out


class Browser:
    """``with Browser() as b: visit = b.visit(url, screenshot_path)``"""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.binary = chromium_path()
        if self.binary is None:
            raise FileNotFoundError(INSTALL_HINT)
        self._profile = tempfile.mkdtemp(prefix="bilateral-chromium-")
        self._proc: subprocess.Popen | None = None
        self._ws = None
        self._next_id = 0
        self._events: list[dict] = []

    def __enter__(self) -> "Browser":
        from websockets.sync.client import connect

        self._proc = subprocess.Popen([self.binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + self.timeout
        url = None
        while url is None and time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line and self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode} before DevTools listened")
            found = _LISTENING.search(line)
            url = found.group(1) if found else None
        if url is None:
            raise RuntimeError("chromium's DevTools did not start listening in time")
        # keep draining stderr so chromium never blocks on a full pipe
        import threading

        threading.Thread(target=lambda: [None for _ in self._proc.stderr], daemon=True).start()
        self._ws = connect(url, max_size=None, open_timeout=self.timeout)
        return self

    def __exit__(self, *exc) -> None:
        if self._ws is not None:
            self._ws.close()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    # --- the protocol ---------------------------------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)
        raise TimeoutError(f"DevTools {method}: no answer in {self.timeout} s")

    def _pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._events.append(json.loads(self._ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
            except TimeoutError:
                return

    def _evaluate(self, session: str, expression: str):
        result = self._send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    def visit(self, url: str, screenshot: Path | None = None, ready_within: float = 45.0,
              actions: list[str] = (), settle: float = 1.5) -> PageVisit:
        """Open ``url`` in a new tab, wait until its charts are embedded (``data-charts-ready`` on
        body) or the page has loaded, run each JavaScript statement of ``actions`` (then let the page
        redraw for ``settle`` seconds), and record what happened."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self._send(f"{domain}.enable", {}, session)
        self._events.clear()
        self._send("Page.navigate", {"url": url}, session)
        visit = PageVisit(url)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            state = self._evaluate(session, "[document.readyState, document.body && "
                                            "document.body.getAttribute('data-charts-ready'), "
                                            "!!document.getElementById('chart-specs')]")
            if state and state[0] == "complete" and (state[1] is not None or not state[2]):
                visit.ready = state[1]
                break
            self._pump(0.2)
        self._pump(0.3)
        for action in actions:
            visit.results.append(self._evaluate(session, action))
        if actions:
            self._pump(settle)
        visit.texts = self._evaluate(session, """
            Object.fromEntries(Array.from(document.querySelectorAll('div.chart')).map(function (div) {
              var svg = div.querySelector('svg');
              return [div.id, svg ? svg.innerHTML : ''];
            }))""") or {}
        visit.charts = self._evaluate(session, """
            Object.fromEntries(Array.from(document.querySelectorAll('div.chart')).map(function (div) {
              return [div.id, {svg: div.querySelectorAll('svg').length,
                               marks: div.querySelectorAll('g.role-mark > *').length,
                               canvas: div.querySelectorAll('canvas').length}];
            }))""") or {}
        visit.dom = self._evaluate(session, "document.documentElement.outerHTML") or ""
        if screenshot is not None:
            metrics = self._send("Page.getLayoutMetrics", {}, session)
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            shot = self._send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": min(size["width"], 1400), "height": min(size["height"], 12000),
                         "scale": 1}}, session)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            visit.screenshot = Path(screenshot)
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                visit.console.append({"type": params.get("type"), "text": text})
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                visit.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                visit.log_entries.append({"level": entry.get("level"), "text": entry.get("text"), "url": entry.get("url")})
        self._send("Target.closeTarget", {"targetId": target})
        return visit
