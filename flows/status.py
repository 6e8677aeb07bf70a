"""``bilateral status``: one document of what the warehouse did and how fresh each source is.

- ``runs``: the last N runs (run id, mode, run date, outcome, started, duration, message). A
  ``running`` row whose process is gone shows as ``abandoned`` (the next run records it so).
- ``sources``: per source its last success (time and run), its last attempt and that attempt's
  outcome, its watermark (how far its recorded state reaches), its freshness state, the nights in a
  row its attempt failed, and its quarantined records still open. An attempt is the per-source
  ``extract`` row of ``audit.run_steps`` (written after load): ``ok`` when the source answered and
  what it delivered was loaded (possibly nothing new), ``failed`` otherwise.

  State, in this order: ``never`` (no attempt yet), ``failed`` (the last attempt failed),
  ``stale`` (the last success is older than the source's cadence allows: ``SOURCE.cadence``),
  ``fresh``. ``last_error`` holds the last attempt's errors only when it failed; what is worth
  knowing but no error is in ``notes``.
- ``validations``: the suites of the last validated run (passed or failed, expectations evaluated
  and failed, warnings, rows checked).
- ``published``: where readers' files are (absolute paths): the published DuckDB file, its
  current release, the Parquet folder, the Great Expectations Data Docs, the report site.

Where the audit tables are read from (working file, snapshot, copy): :mod:`flows.status_source`.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from flows.config import Config
from flows.publish import current_manifest, current_release
from flows.sources import discover_sources
from flows.sources.base import NIGHTLY
from flows.status_snapshot import snapshot_path
from flows.status_source import ReadFrom, open_audit, process_alive

STATES = ("fresh", "stale", "failed", "never")
TABLES = ("runs", "sources", "validations")


def _iso(value) -> str | None:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params=()) -> list[dict]:
    cur = con.execute(sql, list(params))
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = current_database() "
                                      "and schema_name = ? order by 1", [schema]).fetchall()]


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    return bool(con.execute("select 1 from duckdb_columns() where database_name = current_database() and "
                            "schema_name = 'audit' and table_name = ? and column_name = ?", [table, column]).fetchone())


# --- runs --------------------------------------------------------------------------------------------
def runs(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict]:
    out = []
    for r in _rows(con, "select run_id, mode, run_date, status, started_at, ended_at, last_seen_at, published, "
                        "message, pid, host, current_step from audit.runs order by started_at desc limit ?", [limit]):
        outcome, message = r["status"], r["message"] or ""
        if outcome == "running":
            where = f"in step {r['current_step'] or 'start'}, last seen {_iso(r['last_seen_at'])}"
            if process_alive(r["pid"], r["host"]) is False:
                outcome = "abandoned"
                message = (f"abandoned: process {r['pid']} is gone ({where}); "
                           "the next run records it and removes what it left")
            else:
                message = f"running as pid {r['pid']} on {r['host']} ({where})"
        end = r["ended_at"] or r["last_seen_at"]
        out.append({"run_id": r["run_id"], "mode": r["mode"], "run_date": _iso(r["run_date"]), "outcome": outcome,
                    "started": _iso(r["started_at"]),
                    "duration_seconds": round((end - r["started_at"]).total_seconds(), 1) if end and r["started_at"] else None,
                    "published": bool(r["published"]), "message": message, "current_step": r["current_step"],
                    "pid": r["pid"], "host": r["host"]})
    return out


def in_progress(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The newest ``running`` row whose process is alive (or on another host: we cannot tell)."""
    for r in _rows(con, "select run_id, pid, host, current_step, last_seen_at from audit.runs "
                        "where status = 'running' order by started_at desc"):
        if process_alive(r["pid"], r["host"]) is not False:
            step = r["current_step"] or "start"
            return {"run_id": r["run_id"], "step": step, "pid": r["pid"], "host": r["host"],
                    "last_seen_at": _iso(r["last_seen_at"]),
                    "message": f"a run is in progress: {r['run_id']} step {step} (pid {r['pid']} on {r['host']})"}
    return None


# --- sources -----------------------------------------------------------------------------------------
def _attempts(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    notes = "s.notes" if _has_column(con, "run_steps", "notes") else "null"
    by_source: dict[str, list[dict]] = {}
    for r in _rows(con, f"""
            select s.source, s.run_id, r.run_date, s.status, s.started_at, s.rows, coalesce(s.message, '') as message,
                   {notes} as notes
            from audit.run_steps s join audit.runs r using (run_id)
            where s.step = 'extract' and s.source is not null
            order by s.started_at desc"""):
        by_source.setdefault(r["source"], []).append(r)
    return by_source


def consecutive_failures(attempts: list[dict]) -> int:
    """Nights in a row, newest first, whose (last) attempt for the source failed."""
    last_per_night: dict = {}
    for a in attempts:  # newest first: the first attempt seen for a night is its last
        last_per_night.setdefault(a["run_date"], a["status"])
    count = 0
    for night in sorted(last_per_night, reverse=True):
        if last_per_night[night] == "ok":
            break
        count += 1
    return count


def freshness(attempts: list[dict], stale_after, now: datetime) -> str:
    if not attempts:
        return "never"
    if attempts[0]["status"] != "ok":
        return "failed"
    return "stale" if now - attempts[0]["started_at"] > stale_after else "fresh"


def _quarantined(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = _tables(con, "quarantine")
    if not tables:
        return {}
    union = " union all ".join(f'select source, status from quarantine."{t}"' for t in tables)
    return dict(con.execute(f"select source, count(*) from ({union}) where status = 'quarantined' "
                            "group by source").fetchall())


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for source, key, value in con.execute("select source, key, value from audit.source_state").fetchall():
        out.setdefault(source, {})[key] = value
    return out


def sources(con: duckdb.DuckDBPyConnection, config: Config, now: datetime) -> list[dict]:
    known = discover_sources()
    attempts, quarantined, state = _attempts(con), _quarantined(con), _state(con)
    out = []
    for name in sorted(set(config.sources) | set(attempts)):
        source, tries = known.get(name), attempts.get(name, [])
        cadence = source.cadence if source else NIGHTLY
        success = next((a for a in tries if a["status"] == "ok"), None)
        last = tries[0] if tries else None
        st = freshness(tries, cadence.stale_after, now)
        # legacy rows (before audit.run_steps.notes) kept notes in the message of an ok attempt
        notes = (last["notes"] or ("" if last["status"] != "ok" else last["message"])) if last else ""
        try:
            watermark = source.watermark(state.get(name, {})) if source else None
        except Exception:  # noqa: BLE001 - a state the function does not understand: no watermark
            watermark = None
        out.append({
            "source": name, "enabled": bool(config.sources[name].enabled) if name in config.sources else False,
            "state": st,
            "last_success_at": _iso(success["started_at"]) if success else None,
            "last_success_run": success["run_id"] if success else None,
            "last_attempt_at": _iso(last["started_at"]) if last else None,
            "last_attempt_run": last["run_id"] if last else None,
            "last_attempt_outcome": last["status"] if last else None,
            "consecutive_failures": consecutive_failures(tries),
            "hours_since_success": round((now - success["started_at"]).total_seconds() / 3600, 1) if success else None,
            "stale_after_hours": round(cadence.stale_after.total_seconds() / 3600, 1),
            "watermark": watermark,
            "quarantined_open": int(quarantined.get(name, 0)),
            "last_error": (last["message"] or None) if st == "failed" else None,
            "notes": notes or None,
            "cadence": cadence.describe(),
        })
    return out


# --- validations -------------------------------------------------------------------------------------
def validations(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Each suite's last result in the last run that validated (a run may validate twice: after
    refusing records it builds and validates again)."""
    out = []
    for r in _rows(con, """
            select run_id, suite, success, evaluated, failed, rows_checked, failures, validated_at
            from audit.validations
            where run_id = (select run_id from audit.validations order by validated_at desc limit 1)
            qualify row_number() over (partition by suite order by validated_at desc) = 1
            order by suite"""):
        try:
            failures = json.loads(r["failures"] or "[]")
        except ValueError:
            failures = []
        warnings = sum(1 for f in failures if isinstance(f, dict) and f.get("severity") == "warn")
        out.append({"run_id": r["run_id"], "suite": r["suite"], "outcome": "passed" if r["success"] else "failed",
                    "evaluated": r["evaluated"], "failed": r["failed"], "warnings": warnings,
                    "rows_checked": r["rows_checked"], "validated_at": _iso(r["validated_at"])})
    return out


# --- where things are --------------------------------------------------------------------------------
def _data_docs(gx_dir: Path) -> str | None:
    found = sorted(gx_dir.glob("**/data_docs/**/index.html")) if gx_dir.exists() else []
    return str(found[0].resolve()) if found else None


def _site(published_dir: Path) -> str | None:
    """The report site's index.html (``bilateral report open`` opens it)."""
    from flows.report.locate import NoSite, site_index

    try:
        return str(site_index(published_dir))
    except NoSite:
        return None


def published(config: Config) -> dict:
    folder = config.published_dir.resolve()
    release = current_release(folder)
    manifest = current_manifest(folder) or {}
    duckdb_file = folder / "bilateral.duckdb"
    return {"duckdb": str(duckdb_file) if duckdb_file.exists() else None,
            "release": str(release) if release else None,
            "release_run_id": manifest.get("run_id"), "published_at": manifest.get("published_at"),
            "parquet": str(folder / "parquet") if (folder / "parquet").exists() else None,
            "data_docs": _data_docs(config.gx_dir.resolve()),
            "site": _site(folder),
            "working": str(config.duckdb_path.resolve()),
            "status_snapshot": str(snapshot_path(config.warehouse_dir).resolve())}


def _read_from(where: ReadFrom) -> dict:
    return {"kind": where.kind, "path": str(where.path), "why": where.why or None}


def status_document(config: Config, limit: int = 10, now: datetime | None = None) -> dict:
    """Everything ``bilateral status`` shows, as one JSON-ready document."""
    now = now or datetime.now(timezone.utc)
    doc = {"generated_at": _iso(now), "warehouse": str(config.warehouse_dir.resolve()), "read_from": None,
           "in_progress": None, "message": None, "runs": [], "sources": [], "validations": [],
           "published": published(config)}
    with open_audit(config) as opened:
        if opened is None:
            doc["message"] = "no runs yet: run `bilateral run`"
            doc["sources"] = [{"source": name, "enabled": s.enabled, "state": "never"} for name, s in config.sources.items()]
            return doc
        con, where = opened
        doc["read_from"] = _read_from(where)
        doc["runs"] = runs(con, limit)
        doc["in_progress"] = in_progress(con)
        doc["sources"] = sources(con, config, now)
        doc["validations"] = validations(con)
    if doc["in_progress"]:
        doc["message"] = doc["in_progress"]["message"]
    elif where.why:
        doc["message"] = f"read from the {where.kind} ({where.path}): {where.why}"
    return doc
