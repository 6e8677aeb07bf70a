"""Concurrent work on one warehouse: one writer at a time, and readers that never see a mix.

- A second nightly or a backfill asked for while a run writes is refused with a clear message and
  its own exit code (3), and changes nothing.
- A reader that opens a new connection per query, the way Superset does (SQLAlchemy with NullPool
  and duckdb-engine, with the read-only settings of docs/bi.md), loops over the published file while real publishes switch it: zero errors,
  and every answer is one publication: ``meta.publication``'s checksum matches the ``meta.tables``
  rows and the marts' own row counts read in the same statement.
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from flows import publish
from tests.conftest import PROJECT_ROOT, write_config_file
from flows.readonly import LOCKED
from tests.reliability import cli, cli_env, published_fingerprint

# whole nights raced against runs, backfills and readers (minutes): in the reliability suite (CI)
pytestmark = [pytest.mark.slow, pytest.mark.reliability]

YESTERDAY = (date.today() - timedelta(days=1)).isoformat()  # a night of the past (a future one is refused)

READER = r'''
import hashlib, json, os, sys, time
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

path, stop_file, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
engine = create_engine(f"duckdb:///{path}", poolclass=NullPool, connect_args={"read_only": True, "config": config})
ONE_STATEMENT = text("""
    select p.run_id, p.checksum,
           (select list(struct_pack(t := table_name, r := row_count, c := checksum) order by table_name)
              from meta.tables) as tables,
           (select count(*) from marts.dim_country) as dim_country_rows
    from meta.publication as p""")
queries, errors, mixed, runs = 0, [], 0, set()
deadline = time.monotonic() + 600
while not os.path.exists(stop_file) and time.monotonic() < deadline:
    try:
        with engine.connect() as con:
            run_id, checksum, tables, dim_rows = con.execute(ONE_STATEMENT).one()
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}"[:300])
        continue
    queries += 1
    runs.add(run_id)
    per_table = {t["t"]: [t["r"], t["c"]] for t in tables}
    recomputed = hashlib.sha256(json.dumps(per_table, sort_keys=True).encode()).hexdigest()
    if recomputed != checksum or per_table["dim_country"][0] != dim_rows:
        mixed += 1
print(json.dumps({"queries": queries, "errors": errors[:5], "error_count": len(errors), "mixed": mixed,
                  "publications_seen": sorted(runs)}))
'''


def test_a_second_run_or_a_backfill_during_a_run_is_refused_and_changes_nothing(sample_run, clone_warehouse, tmp_path):
    wh = clone_warehouse(sample_run)
    cfg = write_config_file(tmp_path / "c.toml", wh.warehouse_dir)
    before = published_fingerprint(wh.warehouse_dir / "published")
    pause = tmp_path / "paused"
    env = cli_env(BILATERAL_PAUSE_AT="dbt:node", BILATERAL_PAUSE_FILE=str(pause))
    first = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--sample", "--date", YESTERDAY,
                              "--config", str(cfg)], cwd=PROJECT_ROOT, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not pause.exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first run never reached dbt"
            time.sleep(0.2)
        second = cli("run", "--sample", "--config", str(cfg))
        backfill = cli("backfill", "--sample", "--from", "2026-11-01", "--to", "2026-11-03", "--config", str(cfg))
    finally:
        import os
        import signal

        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    for refused in (second, backfill):
        assert refused.returncode == 3, refused.stdout + refused.stderr
        assert "another bilateral run" in refused.stderr and "is writing this warehouse" in refused.stderr
        assert "nothing was changed" in refused.stderr and "Traceback" not in refused.stderr
    assert published_fingerprint(wh.warehouse_dir / "published") == before
    con = duckdb.connect(str(wh.db_path), read_only=True)
    try:
        statuses = [r[0] for r in con.execute("select status from audit.runs order by started_at").fetchall()]
    finally:
        con.close()
    assert statuses[-1] == "running"  # the killed first run; the refused ones left no row at all
    assert len(statuses) == 2


def _change_marts(db: Path, step: int) -> None:
    """A different night's marts: one more or one less row in a mart, so the content checksum changes."""
    con = duckdb.connect(str(db))
    try:
        if step % 2:
            con.execute("insert into marts.dim_country select * from marts.dim_country limit 1")
        else:
            con.execute("delete from marts.dim_country where rowid in (select max(rowid) from marts.dim_country)")
    finally:
        con.close()


PUBLISHES = 5


def test_a_superset_style_reader_sees_no_error_and_never_a_mix_during_publishes(sample_run, clone_warehouse, tmp_path):
    pytest.importorskip("duckdb_engine")
    wh = clone_warehouse(sample_run)
    published, stop = wh.warehouse_dir / "published", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(published / "bilateral.duckdb"), str(stop),
                               json.dumps(LOCKED)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    publishes = 0
    for publishes in range(1, PUBLISHES + 1):
        _change_marts(wh.db_path, publishes)
        report = publish.publish(wh.db_path, published, f"20991231T0000{publishes:02d}Z-reader")
        assert report.published
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err[-3000:]
    seen = json.loads(out)
    print(f"\nreader: {seen['queries']} queries over {publishes} publishes, {seen['error_count']} errors, "
          f"{seen['mixed']} mixed answers, {len(seen['publications_seen'])} publications seen")
    assert seen["error_count"] == 0, seen["errors"]
    assert seen["mixed"] == 0
    assert seen["queries"] > 50 and len(seen["publications_seen"]) >= 3
