"""The working DuckDB file: connections, the ``raw`` and ``audit`` schemas, and run bookkeeping.

One writer at a time: every step opens the file, does its work and closes it again, so dbt, GX
and publishing (other connections in this process) can open it next.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

import duckdb

from flows.errors import WarehouseLocked
from flows.storage import guarded, storage_fault
from flows.sources import load_specs
from flows.sources.loadspec import LoadSpec

AUDIT_DDL = """
create schema if not exists raw;
create schema if not exists audit;
create table if not exists audit.runs (
    run_id varchar primary key, run_date date, mode varchar, replay_dir varchar, sources varchar,
    started_at timestamptz, ended_at timestamptz, status varchar, message varchar,
    rows_landed bigint, rows_loaded bigint, published boolean, steps json);
create table if not exists audit.run_steps (
    run_id varchar, step varchar, source varchar, partition_key varchar, status varchar,
    started_at timestamptz, seconds double, files bigint, rows bigint, message varchar);
create table if not exists audit.landed_files (
    run_id varchar, source varchar, kind varchar, path varchar, request_url varchar, http_status integer,
    bytes bigint, sha256 varchar, fetched_at timestamptz, origin varchar, synthetic boolean,
    status varchar, problem varchar, load_params json);
alter table audit.landed_files add column if not exists load_params json;
alter table audit.landed_files add column if not exists landed_at timestamptz;  -- when the load step recorded it (incremental staging)
alter table audit.runs add column if not exists pid integer;
alter table audit.runs add column if not exists host varchar;
alter table audit.runs add column if not exists last_seen_at timestamptz;
alter table audit.runs add column if not exists current_step varchar;
alter table audit.run_steps add column if not exists notes varchar;
create table if not exists audit.loaded_files (
    raw_table varchar, sha256 varchar, run_id varchar, path varchar, rows bigint, loaded_at timestamptz,
    primary key (raw_table, sha256));
create table if not exists audit.validations (
    run_id varchar, suite varchar, data_asset varchar, success boolean, evaluated integer, failed integer,
    rows_checked bigint, failures json, validated_at timestamptz);
create table if not exists audit.source_state (
    source varchar, key varchar, value varchar, run_id varchar, updated_at timestamptz, primary key (source, key));
create table if not exists audit.alerts (
    run_id varchar, channel varchar, reason varchar, sent_at timestamptz, ok boolean, error varchar, target varchar);
"""

#: one table per raw table, same name, in schema quarantine: records refused at load or by validation
QUARANTINE_COLUMNS = {
    "quarantine_id": "VARCHAR", "run_id": "VARCHAR", "source": "VARCHAR", "landed_file": "VARCHAR",
    "file_sha256": "VARCHAR", "record_no": "BIGINT", "rule": "VARCHAR", "problem": "VARCHAR", "raw_record": "VARCHAR",
    "refused_by": "VARCHAR", "status": "VARCHAR", "quarantined_at": "TIMESTAMPTZ", "resolved_at": "TIMESTAMPTZ",
    "note": "VARCHAR",
}

RAW_META_COLUMNS = {"_run_id": "VARCHAR", "_landed_file": "VARCHAR", "_file_sha256": "VARCHAR",
                    "_loaded_at": "TIMESTAMPTZ", "_origin": "VARCHAR", "_synthetic": "BOOLEAN"}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The working file; a file-system fault inside the block (disk full, read-only, permission)
    leaves it as a StorageError naming the file."""
    action = "read the working warehouse" if read_only else "write the working warehouse"
    if not read_only:
        with guarded(Path(path).parent, "create the warehouse folder"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        fault = storage_fault(exc, path, action)
        if fault is not None:
            raise fault from None
        if "lock" not in str(exc).lower():
            raise
        raise WarehouseLocked(
            f"the working warehouse {path} is locked by another process ({str(exc).splitlines()[0]}); "
            "close that connection and run again. Analysts and BI tools should open the published file "
            "(warehouse/published/bilateral.duckdb), which the nightly never locks") from None
    try:
        with guarded(path, action):
            yield con
    finally:
        try:
            con.close()
        except duckdb.Error:  # closing after a fault (e.g. a checkpoint on a full disk): the fault is reported
            pass


def wait_for_working_file(path: Path, wait_seconds: float, on_wait: Callable[[str], None],
                          poll_seconds: float = 1.0) -> None:
    """Open and close the working file read-write until no other process holds it (a reader, a
    notebook, a BI tool pointed at the wrong file), for up to ``wait_seconds``; ``on_wait`` hears who
    holds it (then every 30 s). Raises WarehouseLocked, saying how long it waited, when time is up."""
    deadline, told = time.monotonic() + wait_seconds, -1.0
    while True:
        try:
            with connect(path):
                return
        except WarehouseLocked as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                if wait_seconds:
                    raise WarehouseLocked(f"{exc} (waited {wait_seconds:.0f} s, warehouse.working_file_wait_seconds)") from None
                raise
            if told < 0 or time.monotonic() - told >= 30:
                told = time.monotonic()
                on_wait(f"waiting for the working file {path}: held by {holder(str(exc))}; "
                        f"{left:.0f} s left (warehouse.working_file_wait_seconds)")
            time.sleep(min(poll_seconds, max(left, 0.01)))


def holder(message: str) -> str:
    """Who holds a DuckDB file, from DuckDB's lock error ("... held in PROGRAM (PID N)"), with the
    holder's command line where /proc shows it."""
    found = re.search(r"held in (.+?) \(PID (\d+)\)", message)
    if not found:
        return "another process"
    program, pid = found.groups()
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        cmdline = ""
    return f"PID {pid} ({cmdline[:160] or program})"


def ensure_schemas(path: Path, specs: dict[str, LoadSpec] | None = None) -> None:
    """Create the raw, audit and quarantine schemas and every source's raw and quarantine tables
    (append-only, idempotent). A column a newer load spec declares is added to an existing table."""
    with connect(path) as con:
        con.execute(AUDIT_DDL)
        con.execute("create schema if not exists quarantine")
        existing: dict[tuple[str, str], set[str]] = {}
        for schema, table, column in con.execute(
                "select schema_name, table_name, column_name from duckdb_columns() "
                "where database_name = current_database() and schema_name in ('raw', 'quarantine')").fetchall():
            existing.setdefault((schema, table), set()).add(column)
        for spec in (load_specs() if specs is None else specs).values():
            for schema, cols in (("raw", {**spec.columns, **RAW_META_COLUMNS}), ("quarantine", QUARANTINE_COLUMNS)):
                have = existing.get((schema, spec.raw_table))
                if have is None:
                    con.execute(f"create table {schema}.{spec.raw_table} ("
                                + ", ".join(f'"{c}" {t}' for c, t in cols.items()) + ")")
                    continue
                for c, t in cols.items():
                    if c not in have:
                        con.execute(f'alter table {schema}.{spec.raw_table} add column "{c}" {t}')


def start_run(path: Path, run_id: str, run_date: str, mode: str, replay_dir: str, sources: list[str]) -> None:
    now = utcnow()
    with connect(path) as con:
        con.execute("insert into audit.runs (run_id, run_date, mode, replay_dir, sources, started_at, status, pid, host, "
                    "last_seen_at, current_step) values (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, 'start')",
                    [run_id, run_date, mode, replay_dir, ",".join(sources), now, os.getpid(), socket.gethostname(), now])


def seen(path: Path, run_id: str, step: str) -> None:
    """The run is alive and in ``step`` (what an abandoned run's row says it was doing last)."""
    with connect(path) as con:
        con.execute("update audit.runs set last_seen_at = ?, current_step = ? where run_id = ?", [utcnow(), step, run_id])


def abandon_stale_runs(path: Path, reason: str) -> list[dict]:
    """Runs still marked ``running`` become ``abandoned``, ending when they were last seen. Only call
    this holding the run lock: then no process is running them any more."""
    with connect(path) as con:
        stale = con.execute("select run_id, run_date, pid, host, coalesce(last_seen_at, started_at), current_step "
                            "from audit.runs where status = 'running' order by started_at").fetchall()
        for run_id, _, pid, host, last_seen, step in stale:
            con.execute("update audit.runs set status = 'abandoned', ended_at = ?, message = ? where run_id = ?",
                        [last_seen, f"abandoned: {reason}; last seen {last_seen.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC in step "
                                    f"{step or 'start'} (pid {pid} on {host})", run_id])
            con.execute("insert into audit.run_steps (run_id, step, status, started_at, message) "
                        "values (?, ?, 'abandoned', ?, ?)",
                        [run_id, step or "start", last_seen, reason])
    return [{"run_id": r, "run_date": d, "pid": p, "host": h, "last_seen": s, "step": st}
            for r, d, p, h, s, st in stale]


def record_steps(path: Path, run_id: str, steps: list[dict]) -> None:
    """Steps are written as they end; the run's row says it was alive then. ``message`` holds what went
    wrong (empty for a step that went well), ``notes`` what is worth knowing but is no error."""
    with connect(path) as con:
        con.execute("update audit.runs set last_seen_at = ? where run_id = ?", [utcnow(), run_id])
        for s in steps:
            con.execute("insert into audit.run_steps (run_id, step, source, partition_key, status, started_at, seconds, "
                        "files, rows, message, notes) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, s["step"], s.get("source"), s.get("partition"), s["status"], s["started_at"],
                         s["seconds"], s.get("files"), s.get("rows"), s.get("message", ""), s.get("notes") or None])


def finish_run(path: Path, run_id: str, status: str, message: str, rows_landed: int, rows_loaded: int,
               published: bool, steps: dict) -> None:
    with connect(path) as con:
        con.execute("update audit.runs set ended_at = ?, status = ?, message = ?, rows_landed = ?, rows_loaded = ?, "
                    "published = ?, steps = ? where run_id = ?",
                    [utcnow(), status, message, rows_landed, rows_loaded, published, json.dumps(steps), run_id])


def source_state(path: Path, source: str) -> dict[str, str]:
    if not Path(path).exists():
        return {}
    with connect(path) as con:
        try:
            return dict(con.execute("select key, value from audit.source_state where source = ?", [source]).fetchall())
        except duckdb.CatalogException:
            return {}


def record_alerts(path: Path, rows: list[dict]) -> None:
    """What the run's alerts did: one row per reason and channel, sent or not (flows/alerts.py)."""
    with connect(path) as con:
        con.executemany("insert into audit.alerts (run_id, channel, reason, sent_at, ok, error, target) "
                        "values (?, ?, ?, ?, ?, ?, ?)",
                        [[r["run_id"], r["channel"], r["reason"], r["sent_at"], r["ok"], r["error"], r["target"]]
                         for r in rows])
