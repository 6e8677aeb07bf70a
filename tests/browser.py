"""Headless Chromium for tests, with the network off: open a page served on 127.0.0.1, wait until
it shows what it should, and bring back its DOM, a screenshot, every request it made and every
console error (uncaught exceptions, ``console.error``, failed loads).

Driven over the DevTools protocol (``websockets``, installed with Prefect). The network is cut at
the browser: every host name resolves to nothing and every proxied request goes to a closed port;
loopback addresses are never proxied, so only servers on 127.0.0.1 answer. Without the Debian
package ``chromium`` the tests that need it are skipped, saying how to install it.

    page = visit("http://127.0.0.1:8000/", tmp_path / "shot.png", ready="document.querySelectorAll('tr').length > 1")
    assert not page.console_errors
"""
from __future__ import annotations

import base64
import itertools
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

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "/usr/bin/chromium")
INSTALL_HINT = ("headless Chromium is not installed: install the Debian package `chromium` "
                "(apt-get install chromium; .ci/run installs it when missing)")

#: the flags that work on this machine (no sandbox as root, no GPU), plus the network cut
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
         '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1', "--proxy-server=127.0.0.1:9",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "--window-size=1400,1000"]


def chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    path = chromium()
    if path is None:
        pytest.skip(INSTALL_HINT)
    return path


@dataclass
class Visit:
    url: str
    ready: bool                  # the ready condition became true before the timeout
    dom: str                     # document.documentElement.outerHTML once ready (or at the timeout)
    screenshot: Path
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    values: dict[str, object] = field(default_factory=dict)  # the page's answers to ``evaluate``

    def off_host_requests(self) -> list[str]:
        """Requests for anything that is not on a loopback address (or inline data)."""
        return [u for u in self.requests
                if not re.match(r"^(data:|blob:|about:|http://127\.|http://localhost[:/])", u)]


class _DevTools:
    """A minimal DevTools-protocol client over one websocket (flattened target sessions)."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=10)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 20) -> dict:
        msg_id = next(self.ids)
        message = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            incoming = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if incoming.get("id") == msg_id:
                if "error" in incoming:
                    raise RuntimeError(f"DevTools {method}: {incoming['error']}")
                return incoming.get("result", {})
            self.events.append(incoming)

    def pump(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                return

    def close(self) -> None:
        self.ws.close()


def _console_errors(events: list[dict]) -> list[str]:
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"]
            for e in events if e.get("method") == "Network.requestWillBeSent"}
    errors = []
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append("exception: " + str((d.get("exception") or {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.loadingFailed" and not p.get("canceled"):
            errors.append(f"load failed: {p.get('errorText')}: {urls.get(p.get('requestId'), p.get('requestId'))}")
    return errors


def _launch(binary: str, profile: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:  # keep reading its stderr, or a chatty browser blocks on a full pipe
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, found.group(1)
    proc.kill()
    raise RuntimeError("chromium did not start its DevTools endpoint: " + "".join(seen)[-2000:])


def visit(url: str, screenshot: Path, ready: str = "document.readyState === 'complete'", timeout: float = 30,
          evaluate: dict[str, str] | None = None, settle: float = 0.5) -> Visit:
    """Open ``url`` in a fresh headless Chromium with the network off; wait until the JavaScript
    expression ``ready`` is true (or ``timeout``), let the page settle, then screenshot it (PNG at
    ``screenshot``), read its DOM and evaluate each expression of ``evaluate``."""
    binary = require_chromium()
    profile = Path(tempfile.mkdtemp(prefix="bilateral-chromium-"))
    proc, ws_url = _launch(binary, profile)
    tools = None
    try:
        tools = _DevTools(ws_url)
        target = tools.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            tools.call(f"{domain}.enable", session=session)
        tools.call("Page.navigate", {"url": url}, session=session)
        deadline, is_ready = time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            answer = tools.call("Runtime.evaluate", {"expression": f"Boolean({ready})", "returnByValue": True},
                                session=session)
            if answer.get("result", {}).get("value") is True:
                is_ready = True
                break
            tools.pump(0.2)
        tools.pump(settle)

        def value(expression: str):
            return tools.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                              session=session).get("result", {}).get("value")

        dom = value("document.documentElement.outerHTML") or ""
        values = {name: value(expr) for name, expr in (evaluate or {}).items()}
        shot = tools.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=30)
        screenshot = Path(screenshot)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        events = tools.events
        requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
        return Visit(url, is_ready, dom, screenshot, requests, _console_errors(events), values)
    finally:
        if tools is not None:
            try:
                tools.call("Browser.close", timeout=5)
            except Exception:  # noqa: BLE001 - the browser may already be gone; it is killed below
                pass
            tools.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG (from its IHDR chunk)."""
    head = Path(path).read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")

