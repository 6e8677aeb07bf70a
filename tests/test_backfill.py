"""A backfill in chunks: killed after a chunk, the same command resumes and ends with the same raw
rows and marts as an uninterrupted backfill; run again, it fetches nothing and changes no mart."""
from __future__ import annotations

import pytest

from tests.conftest import write_config_file
from tests.reliability import cli, cli_env, content_fingerprint, published_checksum, run_until_killed, runs

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

RANGE = ["--from", "2024-01-01", "--to", "2024-03-31"]  # three GDELT months: three chunks


def _backfill(cfg, date: str) -> list[str]:
    return ["backfill", "--sample", "--source", "gdelt_events", *RANGE, "--date", date, "--config", str(cfg)]


def _chunks(db) -> list[tuple]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select source, chunk, records from audit.backfill_chunks order by chunk").fetchall()
    finally:
        con.close()


def test_a_killed_backfill_resumes_and_ends_as_an_uninterrupted_one(sample_run, clone_warehouse, tmp_path):
    date = sample_run.summary.run_date
    a = clone_warehouse(sample_run)
    b_dir = tmp_path / "b" / "warehouse"
    import shutil

    shutil.copytree(a.warehouse_dir, b_dir, symlinks=True)
    cfg_a, cfg_b = a.config_path, write_config_file(tmp_path / "b" / "bilateral.toml", b_dir)

    whole = cli(*_backfill(cfg_a, date), env=cli_env())
    assert whole.returncode == 0, whole.stdout[-3000:] + whole.stderr[-3000:]
    chunks = _chunks(a.warehouse_dir / "bilateral.duckdb")
    assert [c[1] for c in chunks] == ["export:20240101-20240131", "export:20240201-20240229", "export:20240301-20240331"]
    assert all(c[2] > 0 for c in chunks), chunks

    run_until_killed(_backfill(cfg_b, date), "backfill:chunk", tmp_path / "paused", tmp_path / "killed.log")
    assert len(_chunks(b_dir / "bilateral.duckdb")) == 1  # the first chunk was recorded, then the kill
    resumed = cli(*_backfill(cfg_b, date), env=cli_env())
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "1 of 3 chunks were done by an earlier run" in resumed.stdout
    assert [r["status"] for r in runs(b_dir / "bilateral.duckdb")][-2:] == ["abandoned", "success"]

    assert [c[:2] for c in _chunks(b_dir / "bilateral.duckdb")] == [c[:2] for c in chunks]
    for schema in ("raw", "marts"):
        assert content_fingerprint(b_dir / "bilateral.duckdb", schema) == \
            content_fingerprint(a.warehouse_dir / "bilateral.duckdb", schema), schema
    assert published_checksum(b_dir / "published") == published_checksum(a.warehouse_dir / "published")

    again = cli(*_backfill(cfg_a, date), env=cli_env())
    assert again.returncode == 0, again.stdout[-3000:]
    assert "3 of 3 chunks were done by an earlier run" in again.stdout
    assert "gdelt_events | ok | 0 | 0 |" in again.stdout  # nothing fetched again
    assert len(_chunks(a.warehouse_dir / "bilateral.duckdb")) == 3
    assert published_checksum(a.warehouse_dir / "published") == published_checksum(b_dir / "published")
