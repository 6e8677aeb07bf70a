"""The status snapshot: a small DuckDB file with what ``bilateral status`` reads, beside the working file.

While a run works, the working file is locked (DuckDB: one writing process, and a reader would
block the run's next step). The run therefore writes ``<warehouse>/status.duckdb`` itself, holding
the run lock: when it starts, when each step starts, and when it ends. The snapshot holds the
audit tables status needs (``audit.runs``, ``audit.run_steps``, ``audit.validations``,
``audit.source_state``) and, per quarantine table, the source, run and status of each record (not
the records). It is written under a temporary name and renamed into place, so a reader sees one
snapshot or the next; a reader never locks out the run (a renamed-over file stays readable).

The published file does not carry the audit tables: a publication is rewritten only when the marts'
content changes and before the run's outcome is known, so it would say too little too late.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

SNAPSHOT_NAME = "status.duckdb"
AUDIT_TABLES = ("runs", "run_steps", "validations", "source_state")


def snapshot_path(warehouse_dir: Path) -> Path:
    return Path(warehouse_dir) / SNAPSHOT_NAME


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


def write_snapshot(db_path: Path, warehouse_dir: Path) -> Path:
    """Copy what status reads from the working file into the snapshot (atomically). Call it only
    where no connection to the working file is open (between steps, holding the run lock)."""
    target = snapshot_path(warehouse_dir)
    for stale in target.parent.glob(f".{SNAPSHOT_NAME}.*.tmp*"):  # left by a run killed while writing
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{SNAPSHOT_NAME}.{os.getpid()}.tmp")
    _remove(tmp)
    con = duckdb.connect()
    try:
        con.execute(f"attach {_sql_str(Path(db_path).resolve())} as wh (read_only)")
        con.execute(f"attach {_sql_str(tmp)} as snap")
        con.execute("create schema snap.audit")
        con.execute("create schema snap.quarantine")
        have = {(s, t) for s, t in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'wh'").fetchall()}
        for table in AUDIT_TABLES:
            if ("audit", table) in have:
                con.execute(f'create table snap.audit."{table}" as select * from wh.audit."{table}"')
        for schema, table in sorted(have):
            if schema == "quarantine":
                con.execute(f'create table snap.quarantine."{table}" as '
                            f'select source, run_id, status from wh.quarantine."{table}"')
        con.execute("detach snap")
        con.execute("detach wh")
    except BaseException:
        con.close()
        _remove(tmp)
        raise
    con.close()
    os.replace(tmp, target)
    return target
