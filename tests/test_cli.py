"""The command line an analyst uses: sql on the published file, status, help."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_sql_reads_published_marts_in_three_formats(sample_run):
    query = "select country_iso3, count(*) as n from marts.country_indicators_annual group by 1 order by 1"
    expected = sample_run.query(query)
    out = cli("sql", query, "--format", "json", "--config", str(sample_run.config_path))
    assert out.returncode == 0, out.stderr
    assert [(r["country_iso3"], r["n"]) for r in json.loads(out.stdout)] == expected
    csv_out = cli("sql", query, "--format", "csv", "--config", str(sample_run.config_path)).stdout.splitlines()
    assert csv_out[0] == "country_iso3,n" and csv_out[1] == f"{expected[0][0]},{expected[0][1]}"
    table = cli("sql", query, "--config", str(sample_run.config_path)).stdout
    assert f"({len(expected)} rows)" in table


def test_sql_is_read_only_and_errors_are_clear(sample_run):
    before = sample_run.published_path.read_bytes()
    out = cli("sql", "create table marts.x as select 1", "--config", str(sample_run.config_path))
    assert out.returncode == 1 and "read-only" in out.stderr.lower()
    out = cli("sql", "select * from marts.no_such_table", "--config", str(sample_run.config_path))
    assert out.returncode == 2 and "no_such_table" in out.stderr  # a query to fix: usage error
    assert sample_run.published_path.read_bytes() == before


def test_status_shows_runs_and_source_freshness(sample_run):
    out = cli("status", "--json", "--config", str(sample_run.config_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["runs"][0]["run_id"] == sample_run.summary.run_id or any(
        r["run_id"] == sample_run.summary.run_id for r in doc["runs"])
    assert doc["runs"][0]["outcome"] == "success" and doc["read_from"]["kind"] == "working"
    sources = {r["source"]: r for r in doc["sources"]}
    assert set(sources) >= set(sample_run.summary.source_status)
    worldbank = sources["worldbank"]
    assert worldbank["state"] == "fresh" and worldbank["last_attempt_outcome"] == "ok"
    assert worldbank["last_success_run"] == sample_run.summary.run_id and worldbank["hours_since_success"] < 24
    assert worldbank["consecutive_failures"] == 0 and worldbank["last_error"] is None
    # the sample's informational notes (e.g. Comtrade: no data published yet) are notes, not errors
    assert all(s["last_error"] is None for s in sources.values())
    assert any(s["notes"] for s in sources.values())
    assert len(doc["validations"]) == len(sample_run.summary.validations)
    assert Path(doc["published"]["duckdb"]).resolve() == sample_run.published_path.resolve()
    # the run left its status snapshot: what status reads while the next run holds the working file
    assert (sample_run.warehouse_dir / "status.duckdb").exists()


@pytest.mark.parametrize("command", ["run", "backfill", "record", "status", "sql", "benchmark", "serve", "schedule", "alerts", "docs"])
def test_every_command_documents_itself(command):
    out = cli(command, "--help")
    assert out.returncode == 0 and "usage: bilateral " + command in out.stdout


def test_benchmark_refuses_zero_nights_before_starting_anything():
    out = cli("benchmark", "--nights", "0")
    assert out.returncode == 2 and out.stderr.strip() == "bilateral: benchmark --nights 0: give 1 or more nights"


def test_run_help_says_full_refresh_rebuilds_the_dbt_models():
    out = cli("run", "--help")
    assert "rebuild every dbt model from all records" in " ".join(out.stdout.split())
