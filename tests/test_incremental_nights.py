"""Incremental nights through the whole flow on the bundled sample: the night after the session's
sample night, on the same run date, lands nothing new and publishes the same content; a night of
another date builds incrementally; then a full refresh (dbt --full-refresh, what
`bilateral run --full-refresh` passes to dbt) of a copy of that warehouse gives the same marts
row for row, and the same incremental staging tables."""
from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
import pytest

from flows import transform
from flows.nightly import nightly
from flows.paths import Project
from tests.conftest import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # several whole nights: in the reliability suite (CI)

INCREMENTAL = ["staging.stg_comtrade__records", "staging.stg_gdelt_events__events"]


def _tables(con: duckdb.DuckDBPyConnection, db: str, schema: str) -> list[str]:
    return [r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = ? and schema_name = ? "
                                      "order by 1", [db, schema]).fetchall()]


def _differences(incremental, full) -> dict[str, tuple[int, int]]:
    """Rows only in one of the two warehouses, per mart and incremental staging table (both ways)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{incremental}' as inc (read_only)")
        con.execute(f"attach '{full}' as rebuilt (read_only)")
        marts = _tables(con, "inc", "marts")
        assert marts == _tables(con, "rebuilt", "marts") and len(marts) >= 13, marts
        out = {}
        for table in [f"marts.{t}" for t in marts] + INCREMENTAL:
            only_inc, only_full = (con.execute(f"select count(*) from (select * from {a}.{table} except all "
                                               f"select * from {b}.{table})").fetchone()[0]
                                   for a, b in (("inc", "rebuilt"), ("rebuilt", "inc")))
            out[table] = (only_inc, only_full)
        return out
    finally:
        con.close()


def test_incremental_nights_equal_a_full_refresh(sample_run, clone_warehouse, tmp_path):
    run = clone_warehouse(sample_run)
    first = sample_run.summary
    run_date = date.fromisoformat(first.run_date)

    again = nightly(mode="sample", run_date=run_date, config_path=str(run.config_path))
    assert again.status == "success", again.message
    assert sum(again.rows_loaded.values()) == 0, f"the same night again loads nothing new: {again.rows_loaded}"
    assert again.publish_unchanged and again.checksum == first.checksum, "and publishes the same content"

    # another date (the day before: a date after today is refused) builds incrementally again
    following = nightly(mode="sample", run_date=run_date - timedelta(days=1), config_path=str(run.config_path))
    assert following.status == "success", following.message

    copy = tmp_path / "full-refresh" / "bilateral.duckdb"
    copy.parent.mkdir()
    shutil.copy(run.db_path, copy)
    report = transform.build(Project(PROJECT_ROOT), copy, following.run_id, args=["run"], full_refresh=True)
    assert report.success, report.message
    differences = _differences(run.db_path, copy)
    assert {t: d for t, d in differences.items() if d != (0, 0)} == {}, "incremental and full-refresh marts differ"
