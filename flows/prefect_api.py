"""Prefect's local API for one ``bilateral run``, started first and booting while the process imports.

Without ``PREFECT_API_URL`` Prefect starts a temporary API server itself, at the flow's first client
call: the process first imports ``prefect.server.api.server`` (the whole server: about 6 CPU seconds)
only to spawn it, and the server then imports the same again before it answers, one after the other.
:class:`EarlyApi` spawns the very same server (Prefect's own command and environment: uvicorn with
``prefect.server.api.server:create_app``, ``PREFECT__SERVER_EPHEMERAL``) before Prefect is imported, on a
free loopback port, and points ``PREFECT_API_URL`` at it, so its start-up overlaps the imports of
Prefect, dbt and the flow modules, and this process never imports the server. ``import_while_booting()`` fills the rest of
that wait with the imports of dbt and GX the night needs later; ``wait()`` before the
flow call waits for its health check; ``stop()`` (also at exit) ends it. The server also dies with
this process (Linux: parent-death signal). Should it end before answering, it is stopped and
``PREFECT_API_URL`` unset again: a process that imports Prefect only after that gets Prefect's own
temporary server; ``bilateral run``, which imports Prefect while the server boots (Prefect reads its
settings at import), stops with a message instead (flows/cli.py).

Not used when ``PREFECT_API_URL`` is set (that server is used, e.g. the one scheduled deployments
run on) or when Prefect is already imported (the process is embedded, e.g. a test harness).
"""
from __future__ import annotations

import atexit
import importlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from flows.errors import BilateralError
from flows.prefect_server import _die_with_parent, answers, free_port

#: what a night imports only in its later steps (dbt about 1.6 s, GX about 3.3 s on a 2-core machine)
IMPORTED_WHILE_BOOTING = ("dbt.cli.main", "dbt.adapters.duckdb", "great_expectations")

#: Prefect's own environment for its temporary server (prefect.server.api.server.SubprocessASGIServer)
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _prefect_parent() -> str:
    spec = importlib.util.find_spec("prefect")  # finds the package without importing it
    return str(Path(spec.origin).parent.parent)


class ApiNotStarted(BilateralError):
    """The early local API server ended or did not answer; Prefect has read its address already."""


class EarlyApi:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.waited = 0.0  # seconds wait() waited for the health check

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--app-dir", _prefect_parent(), "--factory",
                "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "error", "--lifespan", "on"]

    def start(self) -> "EarlyApi":
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_API_KEY")}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(self.command(), env={**env, **SERVER_ENV}, stdin=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        os.environ["PREFECT_API_URL"] = self.api_url
        atexit.register(self.stop)
        return self

    def import_while_booting(self, modules: tuple[str, ...] = IMPORTED_WHILE_BOOTING) -> None:
        """Import what a night's later steps need (dbt, GX) while the server boots, before ``wait()``:
        this process would only wait then (about 5 s after its own imports, 11 s when the server first
        creates its database), so the dbt and validation steps no longer pay for their imports. An
        import that fails here is left to the step that needs the module: it reports it where it belongs."""
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the step that imports it again reports it
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """True once the server answers; False (it is stopped and PREFECT_API_URL unset) when it
        ended or did not answer within ``timeout`` s (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)."""
        if timeout is None:
            timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 90)
        t0 = time.perf_counter()
        deadline = t0 + timeout
        try:
            while self.process is not None and self.process.poll() is None:
                if answers(self.api_url, timeout=2.0) is None:
                    return True
                if time.perf_counter() >= deadline:
                    break
                time.sleep(0.05)
        finally:
            self.waited = time.perf_counter() - t0
        self.stop()
        if os.environ.get("PREFECT_API_URL") == self.api_url:
            del os.environ["PREFECT_API_URL"]
        return False

    def require(self) -> None:
        """wait(), and raise ApiNotStarted when the server did not come up (Prefect, imported while it
        booted, has read its address: there is nothing to hand over to)."""
        if not self.wait():
            raise ApiNotStarted(
                f"Prefect's local API server did not start (it ended or did not answer at {self.api_url} within "
                f"{self.waited:.0f} s; its own lines are above). Nothing was fetched or loaded; run again with "
                "--verbose to see its log, or set PREFECT_API_URL to a running Prefect server")

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_early_api() -> EarlyApi | None:
    """The local API started now, unless PREFECT_API_URL names one or Prefect is imported already."""
    if os.environ.get("PREFECT_API_URL") or "prefect" in sys.modules:
        return None
    return EarlyApi().start()
