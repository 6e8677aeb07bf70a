"""What the publication's run did, read from the working warehouse's audit schema (for the run page).

The site is written while the run publishes, so the run's row is still ``running`` and its ``publish``
step is not recorded yet: the page says so. Freshness and validation results are those ``bilateral
status`` shows (:mod:`flows.status`), read the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from flows.config import Config
from flows.status import sources as source_freshness
from flows.status import validations as last_validations


@dataclass
class RunPageData:
    run: dict
    steps: list[dict]
    landed: list[dict]
    loaded: list[dict]
    quarantined: list[dict]
    validations: list[dict]
    freshness: list[dict]
    generated_at: str
    notes: list[str] = field(default_factory=list)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> list[dict]:
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _quarantine_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = current_database() "
                                      "and schema_name = 'quarantine' order by 1").fetchall()]


def _quarantined(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict]:
    out = []
    for table in _quarantine_tables(con):
        for r in _rows(con, f'select source, rule, count(*) filter (where run_id = ?) as this_run, '
                            f"count(*) filter (where status = 'quarantined') as still_open "
                            f'from quarantine."{table}" group by source, rule order by source, rule', [run_id]):
            if r["this_run"] or r["still_open"]:
                out.append({"table": table, **r})
    return out


def collect(con: duckdb.DuckDBPyConnection, config: Config, run_id: str, now: datetime | None = None) -> RunPageData:
    """Everything the run page shows; ``con`` has the working warehouse as its current database."""
    now = now or datetime.now(timezone.utc)
    found = _rows(con, "select run_id, mode, run_date, sources, started_at, ended_at, status, message, rows_landed, "
                       "rows_loaded from audit.runs where run_id = ?", [run_id])
    run = found[0] if found else {"run_id": run_id}
    steps = _rows(con, "select step, source, partition_key, status, started_at, round(seconds, 1) as seconds, files, "
                       "rows, message, notes from audit.run_steps where run_id = ? order by started_at, step, source",
                  [run_id])
    landed = _rows(con, "select source, kind, status, count(*) as files, sum(bytes) as bytes, "
                        "count(*) filter (where synthetic) as synthetic_files from audit.landed_files "
                        "where run_id = ? group by all order by all", [run_id])
    loaded = _rows(con, "select raw_table, count(*) as files, sum(rows) as rows from audit.loaded_files "
                        "where run_id = ? group by all order by all", [run_id])
    notes = []
    if run.get("status") == "running":
        notes.append("This page was written while the run published: its publish step and final outcome are not "
                     "recorded here (`bilateral status` shows them).")
    return RunPageData(run=run, steps=steps, landed=landed, loaded=loaded, quarantined=_quarantined(con, run_id),
                       validations=[v for v in last_validations(con) if v["run_id"] == run_id],
                       freshness=source_freshness(con, config, now), generated_at=now.isoformat(timespec="seconds"),
                       notes=notes)
