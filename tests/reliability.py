"""What the reliability tests share: the CLI as a subprocess (its own process group, its own Prefect
home beside the warehouse), a run stopped at a marker, and fingerprints of what readers and the
warehouse hold (published bytes, raw content, marts content)."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tests.conftest import PROJECT_ROOT

#: raw columns that name the run that stored a row, not what upstream sent
RUN_COLUMNS = ("_run_id", "_loaded_at", "_landed_file")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: no Prefect settings of the test process (each run uses
    the Prefect home beside its warehouse), the project importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BILATERAL_"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=PROJECT_ROOT, env=env or cli_env(),
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Stopped:
    marker: str
    log: str


def run_until_killed(args: list[str], marker: str, pause_file: Path, log_file: Path, timeout: float = 420) -> Stopped:
    """Start the CLI, wait until it pauses at ``marker``, SIGKILL its whole process group."""
    pause_file.unlink(missing_ok=True)
    env = cli_env(BILATERAL_PAUSE_AT=marker, BILATERAL_PAUSE_FILE=str(pause_file))
    with log_file.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", *args], cwd=PROJECT_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not pause_file.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the run ended (exit {proc.returncode}) before reaching {marker}:\n"
                                     + log_file.read_text()[-3000:])
            if time.monotonic() > deadline:
                raise AssertionError(f"the run did not reach {marker} within {timeout} s:\n" + log_file.read_text()[-3000:])
            time.sleep(0.2)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)
    return Stopped(marker, log_file.read_text())


def published_fingerprint(published: Path) -> dict[str, str]:
    """What readers see under ``published/``: the links (by target) and every file of the current
    publication (by sha256). A release folder being written beside it is not visible to readers."""
    out = {}
    for name in ("bilateral.duckdb", "parquet", "current"):
        if (published / name).is_symlink():
            out[name] = "-> " + os.readlink(published / name)
    current = published / "current"
    if current.is_dir():
        for path in sorted(current.resolve().rglob("*")):
            if path.is_file():
                out[f"current/{path.relative_to(current.resolve())}"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _table_digest(con: duckdb.DuckDBPyConnection, schema: str, table: str, skip: tuple[str, ...] = ()) -> tuple[int, str]:
    cols = [r[0] for r in con.execute("select column_name from duckdb_columns() where schema_name = ? and table_name = ? "
                                      "order by column_index", [schema, table]).fetchall() if r[0] not in skip]
    select = ", ".join(f'"{c}"' for c in cols)
    rows, digest = con.execute(f'select count(*), coalesce(md5(string_agg(h, \'\' order by h)), \'\') from '
                               f'(select md5(cast(row({select}) as varchar)) as h from "{schema}"."{table}")').fetchone()
    return int(rows), digest


def content_fingerprint(db: Path, schema: str) -> dict[str, tuple[int, str]]:
    """Row count and content digest of every table of ``schema`` (raw: without the run columns)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = ? order by 1",
                                            [schema]).fetchall()]
        return {t: _table_digest(con, schema, t, RUN_COLUMNS if schema == "raw" else ()) for t in tables}
    finally:
        con.close()


def published_checksum(published: Path) -> str:
    return json.loads((published / "current" / "manifest.json").read_text())["checksum"]


def runs(db: Path) -> list[dict]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("select run_id, status, published, current_step, message from audit.runs order by started_at")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
