"""Shared test harness.

- One Prefect test harness per session (its temporary API costs ~10 s to start).
- ``sample_run``: the nightly flow run ONCE per session on the bundled sample into a scratch
  warehouse; tests that only read its results (published marts, audit, raw) share it.
  Do not mutate its warehouse; copy it with ``clone_warehouse`` first.
- ``write_config``: a config file for a scratch warehouse, with overrides.
- ``http_server``: a real HTTP server on 127.0.0.1 whose responses a test scripts (status -1 closes
  the connection without an answer, -2 resets it; a scripted Content-Length header longer than the
  body cuts the transfer short).
"""
from __future__ import annotations

import http.server
import shutil
import socket
import struct
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import flows  # noqa: F401 - runtime defaults (telemetry off) before Prefect/dbt/GX import

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "bilateral.toml"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config_file(path: Path, warehouse_dir: Path, overrides: dict[str, object] | None = None) -> Path:
    """Copy the project's bilateral.toml, point it at ``warehouse_dir`` and apply ``section.key`` overrides."""
    import tomllib

    tree = tomllib.loads(DEFAULT_CONFIG.read_text())
    tree.setdefault("warehouse", {})["dir"] = str(warehouse_dir)
    for dotted, value in (overrides or {}).items():
        node = tree
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    lines: list[str] = []

    def emit(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in table.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", tree)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def write_config(tmp_path) -> Callable[..., Path]:
    def make(overrides: dict[str, object] | None = None, warehouse_dir: Path | None = None) -> Path:
        wh = warehouse_dir or (tmp_path / "warehouse")
        return write_config_file(tmp_path / "bilateral.toml", wh, overrides)
    return make


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@dataclass
class SampleRun:
    config_path: Path
    warehouse_dir: Path
    summary: object  # flows.nightly.RunSummary

    @property
    def db_path(self) -> Path:
        return self.warehouse_dir / "bilateral.duckdb"

    @property
    def published_path(self) -> Path:
        return self.warehouse_dir / "published" / "bilateral.duckdb"

    @property
    def parquet_dir(self) -> Path:
        return self.warehouse_dir / "published" / "parquet"

    def query(self, sql: str, params=None, published: bool = True) -> list[tuple]:
        import duckdb

        con = duckdb.connect(str(self.published_path if published else self.db_path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


@pytest.fixture(scope="session")
def sample_run(prefect_harness, tmp_path_factory) -> SampleRun:
    """The nightly flow on the bundled sample, once per session (default config, scratch warehouse)."""
    from flows.nightly import nightly

    root = tmp_path_factory.mktemp("sample_run")
    cfg = write_config_file(root / "bilateral.toml", root / "warehouse")
    summary = nightly(mode="sample", config_path=str(cfg))
    return SampleRun(cfg, root / "warehouse", summary)


@pytest.fixture
def clone_warehouse(tmp_path) -> Callable[[SampleRun], SampleRun]:
    """A private copy of a run's warehouse (working DB, published files, sample) to mutate freely."""
    def clone(run: SampleRun) -> SampleRun:
        target = tmp_path / "cloned" / "warehouse"
        shutil.copytree(run.warehouse_dir, target, symlinks=True,
                        ignore=shutil.ignore_patterns(".nightly.lock", "landing"))
        cfg = write_config_file(tmp_path / "cloned" / "bilateral.toml", target)
        return SampleRun(cfg, target, run.summary)
    return clone


class ScriptedHandler(http.server.BaseHTTPRequestHandler):
    """Serves the next scripted response for each request; records what was asked."""

    server: "ScriptedServer"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.server.requests.append({"path": self.path, "headers": dict(self.headers)})
        if not self.server.script:
            status, headers, body = 500, {"Content-Type": "text/plain"}, b"no scripted response left"
        else:
            item = self.server.script[0]
            if len(self.server.script) > 1 or not self.server.repeat_last:
                self.server.script.popleft()
            status, headers, body = item(self.path) if callable(item) else item
        if status == -1:  # drop the connection without an answer
            self.connection.close()
            return
        if status == -2:  # reset the connection (TCP RST) without an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k in headers):  # a longer one scripts a cut transfer
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


class ScriptedServer(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script: deque = deque()
        self.requests: list[dict] = []
        self.repeat_last = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:
        """A client that gave up (timed out, closed) is part of the script, not a server error."""
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def respond(self, *items, repeat_last: bool = False) -> None:
        """Queue responses: (status, headers, body bytes) tuples or callables(path) returning one."""
        self.script.extend(items)
        self.repeat_last = repeat_last


@contextmanager
def serving(server: http.server.HTTPServer):
    """Run a local HTTP server in a thread for the duration of the block."""
    # a short poll interval: shutting the server down at the end of a test takes one interval
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def http_server():
    with serving(ScriptedServer()) as server:
        yield server


def pytest_collection_modifyitems(items):
    """Tests that start Prefect (the shared sample run, the harness) are `slow`: `-m "not slow"` skips them."""
    for item in items:
        if {"sample_run", "prefect_harness"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def sample_context(config, source: str, out_dir: Path, run_date=None):
    """What a source's sample generator gets (flows.sources.base.SampleContext)."""
    from datetime import date

    from flows.sources.base import SampleContext

    return SampleContext(config=config, settings=config.sources[source], out_dir=Path(out_dir),
                         run_date=run_date or date(2026, 11, 28))
