"""The nightly flow end to end on real DuckDB files, real dbt, real GX (shared sample run + a few others)."""
import json
from datetime import date

import duckdb
import pytest

from flows.nightly import RunFailed, nightly
from flows.publish import content_checksum

pytestmark = pytest.mark.slow


def test_sample_run_publishes_validated_marts_marked_as_sample(sample_run):
    s = sample_run.summary
    assert s.status == "success" and s.published and s.mode == "sample"
    assert s.source_status["worldbank"] == "ok"
    assert s.dbt.get("success", 0) >= 2 and not {"error", "fail"} & set(s.dbt)
    assert {v["suite"] for v in s.validations} >= {"raw_worldbank_indicator", "mart_country_indicators_annual"}
    assert all(v["success"] for v in s.validations)
    rows = sample_run.query("select count(*), bool_and(is_sample) from marts.country_indicators_annual")
    assert rows[0][0] > 0 and rows[0][1] is True, "generated sample rows say so in the published mart"
    assert sample_run.query("select count(*) from marts.country_indicators_annual where country_iso3 not in ('CAN','CHN','USA')") == [(0,)]
    for step in ("extract", "load", "dbt", "validate", "publish"):
        assert step in s.durations


def test_audit_trail_traces_rows_to_landed_files_and_run(sample_run):
    q = lambda sql: sample_run.query(sql, published=False)
    [(run_id, status, mode, steps)] = q("select run_id, status, mode, steps from audit.runs")
    assert (status, mode) == ("success", "sample") and "dbt" in json.loads(steps)
    files = q("select path, sha256, bytes, request_url, http_status, synthetic from audit.landed_files "
              "where status = 'landed' and source = 'worldbank'")
    assert files and all(f[4] == 200 and f[5] for f in files), "World Bank sample files are generated: synthetic"
    import hashlib, os, stat
    for path, sha, size, url, *_ in files[:5]:
        assert "/landing/worldbank/2" in path and f"/{run_id}/" in path
        data = open(path, "rb").read()
        assert hashlib.sha256(data).hexdigest() == sha and len(data) == size
        assert not os.stat(path).st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), "landed files are read-only"
        assert url.startswith("https://api.worldbank.org/v2/")
    sources = {r[0] for r in q("select distinct source from audit.landed_files")}
    assert sources == set(sample_run.summary.source_status), "every enabled source landed files"
    orphan = q("select count(*) from raw.worldbank_indicator r left join audit.landed_files f on f.path = r._landed_file "
               "where f.path is null or r._run_id <> f.run_id")
    assert orphan == [(0,)]
    assert {r[0] for r in q("select suite from audit.validations")} >= {"mart_country_indicators_annual"}
    assert q("select count(*) from audit.run_steps where step = 'dbt' and status = 'ok'") == [(1,)]


def test_parquet_export_matches_published_tables(sample_run):
    for (table, rows) in sample_run.query("select table_name, row_count from meta.tables"):
        parquet = sample_run.parquet_dir / f"{table}.parquet"
        assert duckdb.execute(f"select count(*) from '{parquet}'").fetchone()[0] == rows


def _fingerprint(run):
    con = duckdb.connect(str(run.db_path), read_only=True)
    raw = con.execute("select table_name, estimated_size from duckdb_tables() where schema_name = 'raw' order by 1").fetchall()
    raw_counts = {t: con.execute(f"select count(*), md5(string_agg(md5(r::varchar), '' order by md5(r::varchar))) from raw.{t} r").fetchone()
                  for t, _ in raw}
    con.close()
    con = duckdb.connect()
    con.execute(f"attach '{run.db_path}' as wh (read_only)")
    marts = content_checksum(con, "wh")
    con.close()
    return raw_counts, marts, run.published_path.read_bytes()


@pytest.mark.reliability  # the same whole night twice (minutes): reliability suite (CI)
def test_rerunning_the_same_night_changes_nothing(sample_run, clone_warehouse):
    run = clone_warehouse(sample_run)
    before = _fingerprint(run)
    summary = nightly(mode="sample", config_path=str(run.config_path))
    assert summary.status == "success" and summary.publish_unchanged and not summary.published
    assert sum(summary.rows_loaded.values()) == 0
    after = _fingerprint(run)
    assert after[0] == before[0], "raw tables identical"
    assert after[1] == before[1], "marts identical (row counts and content checksum)"
    assert after[2] == before[2], "published file byte-identical"


def test_a_drifted_answer_fails_the_night_and_leaves_published_file_byte_identical(sample_run, clone_warehouse, tmp_path):
    import shutil

    run = clone_warehouse(sample_run)
    published_before = run.published_path.read_bytes()
    [sample_dir] = [p for p in (run.warehouse_dir / "sample").iterdir() if p.is_dir() and not p.name.endswith(".tmp")]
    broken = tmp_path / "broken"
    shutil.copytree(sample_dir, broken)
    body = sorted((broken / "worldbank" / "responses").iterdir())[0]
    body.write_bytes(body.read_bytes().replace(b'"countryiso3code":"CAN"', b'"countryiso3code":"Canada"'))
    with pytest.raises(RunFailed) as err:
        nightly(mode="replay", replay_dir=str(broken), config_path=str(run.config_path))
    msg = err.value.summary.message
    assert "max_bad_record_share" in msg and "countryiso3code" in msg and "Canada" in msg, msg
    assert not err.value.summary.published
    assert run.published_path.read_bytes() == published_before
    con = duckdb.connect(str(run.db_path), read_only=True)
    assert con.execute("select status, published from audit.runs order by started_at desc limit 1").fetchone() == ("failed", False)
    con.close()


def test_unreachable_source_fails_the_run_without_publishing(prefect_harness, write_config, tmp_path):
    cfg = write_config({"sources.worldbank.base_url": "http://127.0.0.1:9/v2", "sources.worldbank.max_retries": 0,
                        "sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"], "sources.worldbank.timeout_seconds": 1.0,
                        "sources.worldbank.backoff_seconds": 0.0})
    with pytest.raises(RunFailed) as err:
        nightly(mode="live", sources=["worldbank"], config_path=str(cfg), run_date=date(2026, 11, 28))
    s = err.value.summary
    with duckdb.connect(str(tmp_path / "warehouse" / "bilateral.duckdb"), read_only=True) as con:
        attempts = con.execute("select count(*) from audit.landed_files").fetchone()[0]
    assert attempts == 0, "nothing answered, nothing landed"
    assert s.source_status == {"worldbank": "failed"}, "only the selected source ran: tests never reach the internet"
    assert s.message.startswith("source(s) ['worldbank'] failed") and "127.0.0.1:9" in s.message and not s.published
    assert not (tmp_path / "warehouse" / "published" / "bilateral.duckdb").exists()
    con = duckdb.connect(str(tmp_path / "warehouse" / "bilateral.duckdb"), read_only=True)
    assert con.execute("select status from audit.runs").fetchone()[0] == "failed"
    con.close()


def test_each_dbt_node_and_step_shows_up_in_prefect(sample_run):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs()
        nightly_runs = [r for r in runs if r.state and r.state.is_completed()]
        assert nightly_runs
        names = {t.name for t in client.read_task_runs()}
        artifacts = client.read_artifacts()
    assert any(n.startswith("extract-worldbank-") for n in names)
    assert {"load", "dbt build", "validate", "publish"} <= {n.rsplit("-", 1)[0] for n in names} | names
    assert any(a.key == "nightly-summary" and sample_run.summary.run_id in (a.data or "") for a in artifacts)
    nodes = [a for a in artifacts if a.key == "dbt-nodes"]
    assert nodes, "each dbt node is listed in the run"
    listed = json.loads(nodes[-1].data) if isinstance(nodes[-1].data, str) else nodes[-1].data
    ids = {row["node"] for row in listed}
    assert "model.bilateral.country_indicators_annual" in ids
    assert any(i.startswith("test.bilateral.") for i in ids)
    assert not any(i.startswith("unit_test.") for i in ids), "unit tests run with the test suite, not every night"


@pytest.mark.reliability  # several whole nights (minutes): reliability suite (CI)
def test_one_failing_source_does_not_stop_the_others_and_publishing_is_configurable(sample_run, clone_warehouse, tmp_path):
    import shutil

    run = clone_warehouse(sample_run)
    [sample_dir] = [p for p in (run.warehouse_dir / "sample").iterdir() if p.is_dir() and not p.name.endswith(".tmp")]
    replay = tmp_path / "without_worldbank"
    shutil.copytree(sample_dir, replay, ignore=shutil.ignore_patterns("worldbank"))
    (replay / "worldbank").mkdir()  # a recording of worldbank that holds none of tonight's requests
    (replay / "worldbank" / "index.jsonl").write_text('{"key": "v2/other", "status": 200, "body_file": "none.json"}\n')
    summary = nightly(mode="replay", replay_dir=str(replay), config_path=str(run.config_path),
                      overrides=["warehouse.publish_on_source_failure=true"])
    assert summary.status == "partial" and summary.source_status["worldbank"] == "failed"
    assert "holds no response" in " ".join(summary.source_errors["worldbank"])
    others = {s: st for s, st in summary.source_status.items() if s != "worldbank"}
    assert all(st == "ok" for st in others.values())
    assert all(summary.files_landed.get(s, 0) > 0 for s in others), "the other sources still ran"
    assert summary.published or summary.publish_unchanged
