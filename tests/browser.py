"""Headless Chromium for tests, with the network off: open a page (``file://`` or served on
127.0.0.1), wait until it shows what it should, and bring back its DOM, a screenshot, every request
it made, every console message, uncaught exception and failed load, and what the page answers to
the expressions a test asks.

Driven over the DevTools protocol (``websockets``, installed with Prefect); one browser per
``Browser`` (a test session can share one), each page in a fresh tab. The network is cut at the
browser: every host name resolves to nothing (loopback excepted) and every proxied request goes to
the closed port 127.0.0.1:9; Chromium's own background traffic is switched off. Without the Debian
package ``chromium`` the tests that need it are skipped, saying how to install it.

    with Browser() as browser:
        page = browser.visit("http://127.0.0.1:8000/", tmp_path / "shot.png", ready="document.title !== ''")
    assert page.ready and not page.console_errors
"""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = ("headless Chromium is not installed: install the Debian package `chromium` "
                "(apt-get install chromium; .ci/run installs it when missing)")
#: the flags that work on this machine (no sandbox as root, no GPU), plus the network cut
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage",
         "--hide-scrollbars", "--mute-audio", "--window-size=1400,1000",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
         "--remote-debugging-port=0", "--remote-allow-origins=*"]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
#: the report site's pages say when their charts are embedded; other pages are ready when loaded
_SITE_READY = ("document.readyState === 'complete' && (!document.getElementById('chart-specs') || "
               "(document.body && document.body.getAttribute('data-charts-ready') !== null))")
_CHARTS = """Object.fromEntries(Array.from(document.querySelectorAll('div.chart')).map(function (div) {
  return [div.id, {svg: div.querySelectorAll('svg').length, marks: div.querySelectorAll('g.role-mark > *').length,
                   canvas: div.querySelectorAll('canvas').length}]; }))"""
_CHART_DRAWINGS = """Object.fromEntries(Array.from(document.querySelectorAll('div.chart')).map(function (div) {
  var svg = div.querySelector('svg'); return [div.id, svg ? svg.innerHTML : '']; }))"""


def chromium_path() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip(INSTALL_HINT)
    return path


@dataclass
class PageVisit:
    url: str
    ready: bool = False          # the ready condition became true before the timeout
    charts_ready: str | None = None  # the report site's data-charts-ready attribute (charts embedded)
    requests: list[str] = field(default_factory=list)
    console: list[dict] = field(default_factory=list)     # {"type": ..., "text": ...}
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[dict] = field(default_factory=list)  # {"level": ..., "text": ..., "url": ...}
    failed_loads: list[str] = field(default_factory=list)
    charts: dict[str, dict] = field(default_factory=dict)  # chart container id -> {"svg": n, "marks": n, "canvas": n}
    texts: dict[str, str] = field(default_factory=dict)    # chart container id -> its drawing (SVG markup)
    results: list = field(default_factory=list)            # what each action evaluated to
    values: dict[str, object] = field(default_factory=dict)  # the page's answers to ``evaluate``
    dom: str = ""
    screenshot: Path | None = None

    @property
    def console_errors(self) -> list[str]:
        """Console errors, uncaught exceptions, error log entries and failed loads."""
        out = [f"console.{c['type']}: {c['text']}" for c in self.console if c["type"] in ("error", "assert")]
        out += [f"exception: {e}" for e in self.exceptions]
        out += [f"log {e['level']}: {e['text']} ({e.get('url', '')})" for e in self.log_entries if e["level"] == "error"]
        return out + [f"load failed: {f}" for f in self.failed_loads]

    @property
    def errors(self) -> list[str]:
        """``console_errors`` and warnings too (for pages whose every script is bilateral's)."""
        return self.console_errors + [f"console.warning: {c['text']}" for c in self.console if c["type"] == "warning"] \
            + [f"log warning: {e['text']} ({e.get('url', '')})" for e in self.log_entries if e["level"] == "warning"]

    def off_host_requests(self) -> list[str]:
        """Requests for anything that is not a local file, inline data or a loopback address."""
        return [u for u in self.requests
                if not re.match(r"^(file:|data:|blob:|about:|http://127\.|http://localhost[:/])", u)]


class Browser:
    """``with Browser() as b: page = b.visit(url, screenshot_path)``"""

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
        deadline, url, seen = time.monotonic() + self.timeout, None, []
        while url is None and time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            if not line and self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode} before DevTools listened: "
                                   + "".join(seen)[-2000:])
            seen.append(line)
            found = _LISTENING.search(line)
            url = found.group(1) if found else None
        if url is None:
            raise RuntimeError("chromium's DevTools did not start listening in time")
        # keep draining stderr so chromium never blocks on a full pipe
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

    def visit(self, url: str, screenshot: Path | None = None, ready: str = _SITE_READY, timeout: float = 45.0,
              actions: list[str] = (), evaluate: dict[str, str] | None = None, settle: float = 1.5) -> PageVisit:
        """Open ``url`` in a new tab, wait until the JavaScript expression ``ready`` is true (by
        default: loaded, and a report page's charts embedded) or ``timeout``, run each statement of
        ``actions`` (then let the page redraw for ``settle`` seconds), evaluate each expression of
        ``evaluate``, screenshot the page (PNG at ``screenshot``) and record what happened."""
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self._send(f"{domain}.enable", {}, session)
        self._events.clear()
        self._send("Page.navigate", {"url": url}, session)
        page = PageVisit(url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not page.ready:
            page.ready = self._evaluate(session, f"Boolean({ready})") is True
            if not page.ready:
                self._pump(0.2)
        self._pump(0.3)
        page.charts_ready = self._evaluate(session, "document.body && document.body.getAttribute('data-charts-ready')")
        for action in actions:
            page.results.append(self._evaluate(session, action))
        if actions:
            self._pump(settle)
        page.texts = self._evaluate(session, _CHART_DRAWINGS) or {}
        page.charts = self._evaluate(session, _CHARTS) or {}
        page.values = {name: self._evaluate(session, expr) for name, expr in (evaluate or {}).items()}
        page.dom = self._evaluate(session, "document.documentElement.outerHTML") or ""
        if screenshot is not None:
            metrics = self._send("Page.getLayoutMetrics", {}, session)
            size = metrics.get("cssContentSize") or metrics.get("contentSize")
            shot = self._send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": min(size["width"], 1400), "height": min(size["height"], 12000),
                         "scale": 1}}, session)
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            page.screenshot = Path(screenshot)
        self._record(page, session)
        self._send("Target.closeTarget", {"targetId": target})
        return page

    def _record(self, page: PageVisit, session: str) -> None:
        urls = {}
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                urls[params.get("requestId")] = params["request"]["url"]
                page.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                page.failed_loads.append(f"{params.get('errorText')}: {urls.get(params.get('requestId'), params.get('requestId'))}")
            elif method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                page.console.append({"type": params.get("type"), "text": text})
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                page.exceptions.append((details.get("exception") or {}).get("description") or details.get("text", ""))
            elif method == "Log.entryAdded":
                entry = params.get("entry", {})
                page.log_entries.append({"level": entry.get("level"), "text": entry.get("text"), "url": entry.get("url")})


def visit(url: str, screenshot: Path, ready: str = "document.readyState === 'complete'", timeout: float = 30,
          evaluate: dict[str, str] | None = None, settle: float = 0.5) -> PageVisit:
    """One page in a browser of its own (skipped without Chromium)."""
    require_chromium()
    with Browser() as browser:
        return browser.visit(url, screenshot, ready=ready, timeout=timeout, evaluate=evaluate, settle=settle)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG (from its IHDR chunk)."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
