"""Inputs that cannot make a run are refused before any work: exit 2, one message naming the input,
and nothing created in the warehouse (no lock, no working file, no landed file; Prefect's home
folder, made when the configuration loads, stays empty)."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests.conftest import write_config_file
from tests.reliability import cli


def _refused(tmp_path, *args: str, overrides: dict | None = None) -> str:
    warehouse = tmp_path / "wh"
    cfg = write_config_file(tmp_path / "c.toml", warehouse, overrides)
    out = cli(*args, "--config", str(cfg), timeout=120)
    assert out.returncode == 2, (out.returncode, out.stdout[-2000:], out.stderr[-2000:])
    lines = [line for line in out.stderr.splitlines() if line.startswith("bilateral: ")]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    made = {p.name for p in warehouse.iterdir()} if warehouse.exists() else set()
    assert made <= {".prefect"}, sorted(warehouse.rglob("*"))  # Prefect's empty home only: no lock, no file
    return lines[0]


def test_a_night_of_the_future_is_refused_before_any_work(tmp_path):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    message = _refused(tmp_path, "run", "--sample", "--date", tomorrow)
    assert f"--date {tomorrow} is in the future" in message and "schedule.timezone" in message
    assert "in the future" in _refused(tmp_path, "run", "--sample", "--date", "2099-01-01")


def test_a_night_before_years_start_is_refused(tmp_path):
    message = _refused(tmp_path, "run", "--sample", "--date", "2009-06-30")
    assert "before years.start" in message


def test_a_backfill_range_is_checked_like_a_night(tmp_path):
    assert "is after --to" in _refused(tmp_path, "backfill", "--sample", "--from", "2024-05-01", "--to", "2024-01-01")
    assert "--to 2099-12-31 is in the future" in _refused(tmp_path, "backfill", "--sample", "--from", "2024-01-01",
                                                           "--to", "2099-12-31")


def test_unknown_sources_are_refused(tmp_path):
    message = _refused(tmp_path, "run", "--sample", "--sources", "worldbank,nosuch")
    assert "nosuch" in message and "allowed:" in message


def test_a_replay_dir_without_recordings_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    message = _refused(tmp_path, "run", "--replay", str(empty), "--date", "2026-11-28")
    assert "holds no recording at all" in message and "bilateral record" in message
    partial = tmp_path / "partial"
    (partial / "worldbank").mkdir(parents=True)
    (partial / "worldbank" / "index.jsonl").write_text(json.dumps({"key": "x", "body_file": "r/1.json"}) + "\n")
    message = _refused(tmp_path, "run", "--replay", str(partial), "--date", "2026-11-28")
    assert "it holds recordings for worldbank" in message and "--sources worldbank" in message
    assert "no such directory" in _refused(tmp_path, "run", "--replay", str(tmp_path / "nope"))


@pytest.mark.parametrize("cron", ["every night", "61 3 * * *"])
def test_a_bad_schedule_is_refused_by_run_and_status(tmp_path, cron):
    for command in (["run", "--sample"], ["status"]):
        message = _refused(tmp_path, *command, overrides={"schedule.cron": cron})
        assert "schedule.cron" in message
