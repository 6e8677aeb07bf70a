"""Incremental staging through the real loader, real quarantine functions and real dbt: a night
rebuilds only what changed since the last successful build, and what changed includes every way a
record's winner can change: a new answer (A -> B), an answer fetched again without being stored
again (B -> A), a record refused by validation and the same record released. After each night the
incremental table equals a full refresh of it. The revision windows (dbt vars) are set to 0 here,
so that only the change signals can make a night see a change."""
from __future__ import annotations

import json
import shutil
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import duckdb
import pytest

from flows import quarantine, transform
from flows.paths import Project
from flows.warehouse import ensure_schemas, record_steps, start_run, utcnow
from tests.conftest import PROJECT_ROOT
from tests.test_revisions import T0, _comtrade, _night

pytestmark = pytest.mark.slow  # dbt builds of one staging model (and the seed it reads)

MODEL = "stg_comtrade__records"
NO_WINDOW = json.dumps({"comtrade_lookback_months": 0, "comtrade_lookback_years": 0})
KEY = ("select primary_value_usd from staging.stg_comtrade__records where period = '2010' and reporter_code = 156 "
       "and partner_code = 32 and flow_code = 'M' and cmd_code = 'TOTAL'")


def _build(db, run_id: str, full_refresh: bool = False) -> None:
    """What a night's dbt step does: build, then record the step (the watermark of the next build)."""
    start_run(db, run_id, "2026-12-01", "replay", "", ["comtrade"])
    started = utcnow()
    report = transform.build(Project(PROJECT_ROOT), db, run_id, full_refresh=full_refresh,
                             args=["build", "--select", f"+{MODEL}", "--exclude", "test_type:unit",
                                   "--vars", NO_WINDOW])
    assert report.success, report.message
    record_steps(db, run_id, [{"step": "dbt", "status": "ok", "started_at": started, "seconds": 1.0}])
    with duckdb.connect(str(db)) as con:
        con.execute("update audit.runs set status = 'success' where run_id = ?", [run_id])


def _rows(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(f"select * exclude (loaded_at) from staging.{MODEL} order by all").fetchall()


def _full_refresh_equals_incremental(db, tmp_path) -> None:
    copy = tmp_path / f"full-{time.monotonic_ns()}" / "w.duckdb"  # its own dbt folder: db's partial parse stays valid
    copy.parent.mkdir()
    shutil.copy(db, copy)
    _build(copy, f"full-{time.monotonic_ns()}", full_refresh=True)
    assert _rows(db) == _rows(copy), "the incremental table differs from a full refresh"


def _value(db) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(KEY).fetchall()


@pytest.mark.reliability  # many dbt builds: reliability suite (CI)
def test_every_kind_of_change_reaches_an_incremental_night_and_it_equals_a_full_refresh(tmp_path):
    db = tmp_path / "w.duckdb"
    ensure_schemas(db)
    _night(db, tmp_path, "night1", [("comtrade", "comtrade_record", _comtrade(1.51), T0, {})])
    _build(db, "build1")
    assert _value(db) == [(1.51,)]

    _night(db, tmp_path, "night2", [("comtrade", "comtrade_record", _comtrade(1.52), T0 + timedelta(days=1), {})])
    _build(db, "build2")
    assert _value(db) == [(1.52,)], "a revised value (a new answer) reaches the next night"

    # night 1's answer again: not stored twice (same content), only observed again
    _night(db, tmp_path, "night3", [("comtrade", "comtrade_record", _comtrade(1.51), T0 + timedelta(days=2), {})])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.comtrade_record where _run_id = 'night3'").fetchone()[0] == 0
    _build(db, "build3")
    assert _value(db) == [(1.51,)], "an answer fetched again (revision back) reaches the next night"

    # validation refuses the winning record; the next build leaves its key out (no other record is
    # accepted for it: night 2's answer lost, so the key disappears rather than falling back)
    with duckdb.connect(str(db), read_only=True) as con:
        files = [r[0] for r in con.execute("select distinct _landed_file from raw.comtrade_record").fetchall()]
    refused = [{"landed_file": f, "record_no": None, "expectation": "expect_test", "column": None} for f in files]
    added = quarantine.refuse_validated(db, "refuse", [SimpleNamespace(suite="raw_comtrade", quarantine="comtrade_record",
                                                                       refused=refused)])
    assert added == {"comtrade": len(files)}
    _build(db, "build4")
    assert _value(db) == [], "a refused record leaves the incremental table"
    _full_refresh_equals_incremental(db, tmp_path)

    # released again: read again at the next build
    _, rows = quarantine.rows(db, source="comtrade")
    quarantine.release(db, [r[0] for r in rows])
    _build(db, "build5")
    assert _value(db) == [(1.51,)], "a released record comes back"
    _full_refresh_equals_incremental(db, tmp_path)


def test_a_night_with_no_change_rebuilds_nothing_outside_the_revision_window(tmp_path):
    db = tmp_path / "w.duckdb"
    ensure_schemas(db)
    _night(db, tmp_path, "night1", [("comtrade", "comtrade_record", _comtrade(1.51), T0, {})])
    _build(db, "build1")
    # tamper with the built row: a build that rebuilt the key would restore it, one that did not keeps it
    with duckdb.connect(str(db)) as con:
        con.execute("update staging.stg_comtrade__records set primary_value_usd = -1")
    _build(db, "build2")
    assert _value(db) == [(-1.0,)], "nothing changed: the key was not rebuilt"
    _night(db, tmp_path, "night2", [("comtrade", "comtrade_record", _comtrade(1.51), T0 + timedelta(days=1), {})])
    _build(db, "build3")
    assert _value(db) == [(1.51,)], "fetched again tonight: rebuilt"
