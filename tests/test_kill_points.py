"""Runs killed at every step (SIGKILL of the whole process group, aimed by markers, not sleeps).

Two warehouses, same nights: A runs night 1 and night 2 uninterrupted. B runs night 1, then night 2
killed once at each marker in run order, then night 2 to the end. After each kill the published
outputs are byte-identical to before the kill (until the run's one atomic switch; from then on they
are the killed run's complete publication), and `bilateral status` shows the run as abandoned.
At the end B's raw content, marts and published checksum equal A's, and the landing zone holds no
half-written or never-loaded file of a killed run.
"""
from __future__ import annotations

import json

import pytest

from flows.run_markers import MARKERS
from tests.conftest import write_config_file
from tests.reliability import (cli, content_fingerprint, published_checksum, published_fingerprint, run_until_killed,
                               runs)

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

NIGHT_1, NIGHT_2 = "2026-10-01", "2026-11-30"  # night 2 brings new months: it publishes new content
#: kill points of the chain; publish:pruning is only reached with more publications than are kept
#: (tests/test_publish.py kills a publish there)
CHAIN = [m for m in MARKERS if m != "publish:pruning"]
BEFORE_SWITCH = {"extract:landed", "load:partition", "dbt:node", "validate:suite", "publish:writing",
                 "publish:release_written"}


def _night(cfg, date: str) -> None:
    done = cli("run", "--sample", "--date", date, "--config", str(cfg))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _status_of_last_run(cfg) -> dict:
    done = cli("status", "--format", "json", "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["runs"][0]


def test_a_run_killed_at_any_step_leaves_readers_untouched_and_the_next_run_ends_as_if_nothing_happened(tmp_path):
    cfg_a = write_config_file(tmp_path / "a.toml", tmp_path / "a")
    cfg_b = write_config_file(tmp_path / "b.toml", tmp_path / "b")
    published = tmp_path / "b" / "published"
    _night(cfg_a, NIGHT_1)
    _night(cfg_a, NIGHT_2)
    _night(cfg_b, NIGHT_1)

    survived = []
    for marker in CHAIN:
        before = published_fingerprint(published)
        run_until_killed(["run", "--sample", "--date", NIGHT_2, "--config", str(cfg_b)], marker,
                         tmp_path / "paused", tmp_path / f"{marker.replace(':', '_')}.log")
        after = published_fingerprint(published)
        if marker in BEFORE_SWITCH:
            assert after == before, f"killed at {marker}: the published outputs changed"
        else:  # past the switch: the killed run's publication is current, complete and one publication
            manifest = json.loads((published / "current" / "manifest.json").read_text())
            assert manifest["run_id"] == runs(tmp_path / "b" / "bilateral.duckdb")[-1]["run_id"]
            assert {f"{t}.parquet" for t in manifest["tables"]} == {p.name for p in (published / "parquet").iterdir()}
        status = _status_of_last_run(cfg_b)
        assert status["outcome"] == "abandoned", (marker, status)
        survived.append(marker)

    _night(cfg_b, NIGHT_2)

    history = runs(tmp_path / "b" / "bilateral.duckdb")
    abandoned = [r for r in history if r["status"] == "abandoned"]
    assert len(abandoned) == len(CHAIN)
    assert [r["current_step"] for r in abandoned] == [m.split(":")[0] for m in CHAIN]
    assert history[-1]["status"] == "success"
    assert content_fingerprint(tmp_path / "b" / "bilateral.duckdb", "raw") == \
        content_fingerprint(tmp_path / "a" / "bilateral.duckdb", "raw")
    assert content_fingerprint(tmp_path / "b" / "bilateral.duckdb", "marts") == \
        content_fingerprint(tmp_path / "a" / "bilateral.duckdb", "marts")
    assert published_checksum(published) == published_checksum(tmp_path / "a" / "published")
    landing = tmp_path / "b" / "landing"
    assert not list(landing.rglob("*.part"))
    for run in abandoned:  # what a killed run left: only files it loaded or rejected
        for folder in landing.glob(f"*/*/{run['run_id']}"):
            assert any(p.name != "manifest.jsonl" for p in folder.iterdir())
    assert all((p / "COMPLETE").exists() and not p.name.startswith(".") for p in (published / "releases").iterdir())
    print(f"\nkill points survived: {len(survived)} ({', '.join(survived)})")
