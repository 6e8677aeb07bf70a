"""A Prefect server to schedule on: the one ``PREFECT_API_URL`` names, or a local one started here.

Prefect schedules only with a server (its scheduler service creates the runs; an ephemeral in-process
API cannot). :func:`check_api` tells whether a given API answers; :class:`LocalPrefectServer` starts
``prefect server start`` on loopback on a free port with its own ``PREFECT_HOME`` (under the warehouse
folder), waits until its health endpoint answers, and stops it (its whole process group) on exit.
The server also dies with the process that started it (Linux: parent-death signal), so a killed
``bilateral serve`` leaves no server behind.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from flows.errors import BilateralError

#: seconds to wait for a local server's health endpoint (a fresh database is migrated first);
#: env BILATERAL_PREFECT_SERVER_TIMEOUT
DEFAULT_START_TIMEOUT = 120.0


class ServerUnavailable(BilateralError):
    """The Prefect server cannot be reached or could not be started: nothing is scheduled."""


def health_url(api_url: str) -> str:
    return api_url.rstrip("/") + "/health"


def answers(api_url: str, timeout: float = 3.0) -> str | None:
    """None when ``GET <api>/health`` answers 200, else why not (one line)."""
    request = urllib.request.Request(health_url(api_url))
    key = os.environ.get("PREFECT_API_KEY")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the configured API
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(reason).__name__


def check_api(api_url: str, timeout: float = 5.0) -> None:
    """Raise ServerUnavailable unless the API at ``api_url`` answers its health check within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        problem = answers(api_url, timeout=min(3.0, timeout))
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise ServerUnavailable(
                f"PREFECT_API_URL={api_url}: the Prefect server does not answer ({health_url(api_url)}: {problem}); "
                "start it (`prefect server start`), fix PREFECT_API_URL, or unset it to let `bilateral serve` start a "
                "local one")
        time.sleep(0.5)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the server is still stopped on every orderly exit


class LocalPrefectServer:
    """``prefect server start --host 127.0.0.1 --port <free> --ui`` with PREFECT_HOME=``home``."""

    def __init__(self, home: Path, host: str = "127.0.0.1", port: int | None = None,
                 timeout: float | None = None) -> None:
        self.home = Path(home)
        self.host = host
        self.port = port or free_port(host)
        env_timeout = os.environ.get("BILATERAL_PREFECT_SERVER_TIMEOUT")
        self.timeout = timeout if timeout is not None else float(env_timeout or DEFAULT_START_TIMEOUT)
        self.log_path = self.home / "server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port),
                "--ui", "--analytics-off"]

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
        env.update(PREFECT_HOME=str(self.home), PREFECT_UI_ENABLED="true", PREFECT_SERVER_UI_ENABLED="true",
                   PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_API_URL=self.api_url,
                   PREFECT_LOGGING_LEVEL="INFO")
        return env

    def start(self) -> "LocalPrefectServer":
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log:
            try:
                self.process = subprocess.Popen(self._command(), env=self._env(), cwd=self.home, stdin=subprocess.DEVNULL,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
            except OSError as exc:
                raise ServerUnavailable(f"cannot start a local Prefect server ({exc}); set PREFECT_API_URL to a "
                                        "running one") from None
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _log_tail(self, lines: int = 15) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  ".join(["", *tail]) if tail else ""

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            if self.process.poll() is not None:
                raise ServerUnavailable(f"the local Prefect server ended (exit {self.process.returncode}) before it "
                                        f"answered on {self.url}; its log is {self.log_path}:{self._log_tail()}")
            if answers(self.api_url, timeout=2.0) is None:
                return
            if time.monotonic() >= deadline:
                raise ServerUnavailable(
                    f"the local Prefect server did not answer {health_url(self.api_url)} within {self.timeout:.0f} s; "
                    f"its log is {self.log_path} (a slow machine: raise BILATERAL_PREFECT_SERVER_TIMEOUT)"
                    f"{self._log_tail()}")
            time.sleep(0.5)

    def stop(self, grace: float = 15.0) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> "LocalPrefectServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
