"""A reader holding the working file: the nightly waits for it (saying who holds it), goes on when
it lets go, and fails with the clear message when the configured wait is up."""
from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest

from flows import warehouse
from flows.errors import WarehouseLocked
from tests.conftest import write_config_file
from tests.reliability import cli, cli_env

HOLD = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('held', flush=True); time.sleep(float(sys.argv[2]))"


def _hold(path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_run_waits_for_a_reader_and_names_it(tmp_path):
    db = tmp_path / "bilateral.duckdb"
    duckdb.connect(str(db)).close()
    reader = _hold(db, 3)
    heard: list[str] = []
    started = time.monotonic()
    try:
        warehouse.wait_for_working_file(db, 60, heard.append, poll_seconds=0.2)
    finally:
        reader.kill()
    assert 2 < time.monotonic() - started < 30
    assert len(heard) == 1 and f"held by PID {reader.pid} (" in heard[0] and "-c import duckdb" in heard[0], heard


def test_when_the_wait_is_up_the_run_fails_with_the_clear_message(tmp_path):
    db = tmp_path / "bilateral.duckdb"
    duckdb.connect(str(db)).close()
    reader = _hold(db, 60)
    try:
        with pytest.raises(WarehouseLocked) as err:
            warehouse.wait_for_working_file(db, 1.0, lambda _: None, poll_seconds=0.2)
        with pytest.raises(WarehouseLocked) as at_once:
            warehouse.wait_for_working_file(db, 0, lambda _: None)
    finally:
        reader.kill()
    assert "locked by another process" in str(err.value) and "(waited 1 s, warehouse.working_file_wait_seconds)" in str(err.value)
    assert "published" in str(err.value) and "waited" not in str(at_once.value)


@pytest.mark.slow
@pytest.mark.reliability  # a whole night held back by a reader: reliability suite (CI)
def test_the_nightly_waits_then_fails_and_changes_nothing(sample_run, clone_warehouse):
    wh = clone_warehouse(sample_run)
    cfg = write_config_file(wh.config_path, wh.warehouse_dir, {"warehouse.working_file_wait_seconds": 4.0})
    db = wh.warehouse_dir / "bilateral.duckdb"
    before = db.read_bytes()
    reader = _hold(db, 120)
    try:
        out = cli("run", "--sample", "--date", sample_run.summary.run_date, "--config", str(cfg), env=cli_env(), timeout=180)
    finally:
        reader.kill()
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"waiting for the working file {db}: held by PID {reader.pid}" in out.stderr, out.stderr
    assert "bilateral: the working warehouse" in out.stderr and "(waited 4 s" in out.stderr
    assert db.read_bytes() == before
