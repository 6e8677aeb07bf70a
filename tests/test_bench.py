"""`bilateral bench`: its machinery on the tiny size (not timed) and its usage errors.

The speed targets live in the benchmark's own table, never here: these tests check that the suite
runs, that bilateral and its baseline produced the same rows, and that a difference is caught.
"""
from __future__ import annotations

import json

import duckdb
import pytest

from flows.bench.suite import BenchFailed, Measured, _same_rows
from flows.cli import main


def test_tiny_load_cases_compare_the_same_rows(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--size", "tiny", "--repeat", "1", "--cases", "load", "--json", str(out),
                 "--work-dir", str(tmp_path / "work")])
    assert code == 0, capsys.readouterr().err
    doc = json.loads(out.read_text())
    rows = {r["case"]: r for r in doc["rows"]}
    assert set(rows) == {"load gdelt_events", "load comtrade"}
    for r in rows.values():
        assert r["variant"] == "bilateral" and r["baseline"] == "bare DuckDB"
        assert r["seconds"] > 0 and r["baseline_seconds"] > 0 and r["ratio"] > 0
        assert r["met"] in ("met", "MISSED")
    generated = rows["load comtrade"]["rows"]  # whole reporter x partner x flow x period groups of 111 records
    assert 2_000 <= generated < 2_000 + 111 and generated % 111 == 0
    assert rows["load comtrade"]["note"] == f"{generated:,} rows out"  # every generated record loaded, by both
    kept = int(rows["load gdelt_events"]["note"].split()[0].replace(",", ""))
    assert 0 < kept < rows["load gdelt_events"]["rows"]  # the pair filter kept some events, not all
    printed = capsys.readouterr().out
    assert "load gdelt_events" in printed and "ratio" in printed and "x  <= 1.3x" in printed
    assert not (tmp_path / "work" / "data").exists()  # generated data is deleted unless --keep-data


def _measured(variant: str, rows: int, digest: str) -> Measured:
    return Measured(variant, variant, runs=[{"rows_out": rows, "digest": digest, "seconds": 1.0}])


def test_different_rows_fail_the_case():
    same = {"a": _measured("a", 10, "ff"), "b": _measured("b", 10, "ff")}
    _same_rows("load x", same, "a", ["b"], by_digest=True)
    with pytest.raises(BenchFailed, match="not the same output"):
        _same_rows("load x", {"a": _measured("a", 10, "ff"), "b": _measured("b", 10, "00")}, "a", ["b"], by_digest=True)
    with pytest.raises(BenchFailed, match="9 rows"):
        _same_rows("load x", {"a": _measured("a", 10, ""), "b": _measured("b", 9, "")}, "a", ["b"], by_digest=False)


@pytest.mark.parametrize("argv, says", [
    (["--size", "huge"], "--size 'huge' is not a known size; choose one of tiny, small, medium, large"),
    (["--repeat", "0"], "--repeat '0': give a whole number of runs, 1 or more"),
    (["--repeat", "two"], "--repeat 'two': give a whole number of runs"),
    (["--cases", "load,speed"], "unknown case group speed"),
    (["--json", "/nonexistent-dir/x.json"], "folder /nonexistent-dir does not exist"),
    (["--dlt-python", "/nonexistent/python"], "--dlt-python /nonexistent/python: no such file"),
])
def test_bad_usage_exits_2_with_a_message(argv, says, capsys):
    assert main(["bench", *argv]) == 2
    assert says in capsys.readouterr().err


def test_serve_case_is_skipped_without_a_published_file_and_fails_on_a_broken_one(tmp_path):
    from flows.bench.suite import Runner, serve_case

    runner = Runner(tmp_path / "work", 1, None, log=lambda m: None)
    rows, notes = serve_case(runner, tmp_path / "none.duckdb")
    assert rows == [] and "no published file" in notes[0]
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    rows, notes = serve_case(runner, empty)
    assert rows == [] and "not measured: a query of the set failed" in notes[0]
    assert not (tmp_path / "work" / "serve").exists()


@pytest.mark.bench
def test_serve_case_measures_the_query_set_on_the_published_file_and_a_10x_copy(sample_run, tmp_path):
    from flows.bench.suite import SERVE_TARGET_S, Runner, serve_case

    rows, notes = serve_case(Runner(tmp_path, 1, None, log=lambda m: None), sample_run.published_path, min_repeat=2)
    assert notes == [] and [r.case for r in rows] == ["serve p95 (published)", "serve p95 (10x)"]
    for row in rows:
        assert row.baseline_seconds == SERVE_TARGET_S and 0 < row.seconds and row.rows > 0
    assert rows[1].rows >= rows[0].rows  # the copy is bigger, the same queries return at least as much


# --- the transform case --------------------------------------------------------------------------

def test_transform_outputs_compare_by_mart_rows_and_hash():
    from flows.bench.transform_case import compare_marts

    ref = {"trade_balance": [10, "ff"], "dim_country": [3, "aa"]}
    compare_marts("t", "dbt", {"trade_balance": [10, "00"], "dim_country": [3, "aa"]}, "direct", ref, by_hash=False)
    with pytest.raises(BenchFailed, match=r"marts.trade_balance has 9 rows \(hash ff\) against 10"):
        compare_marts("t", "direct SQL", {"trade_balance": [9, "ff"], "dim_country": [3, "aa"]}, "dbt run", ref,
                      by_hash=False)
    with pytest.raises(BenchFailed, match="built different marts"):
        compare_marts("t", "night", {"trade_balance": [10, "00"], "dim_country": [3, "aa"]}, "full", ref, by_hash=True)
    with pytest.raises(BenchFailed, match="only in one: dim_country"):
        compare_marts("t", "night", {"trade_balance": [10, "ff"]}, "full", ref, by_hash=True)


def test_transform_plan_is_the_models_the_build_ran_in_dag_order(tmp_path):
    from flows.bench.transform_data import write_plan

    def model(name, deps, materialized="table"):
        return {"resource_type": "model", "name": name, "relation_name": f'"db"."marts"."{name}"', "database": "db",
                "schema": "marts", "config": {"materialized": materialized}, "compiled_code": f"select 1 as {name}",
                "depends_on": {"nodes": deps}}

    nodes = {"model.p.c": model("c", ["model.p.b", "seed.p.s"]), "model.p.a": model("a", [], "view"),
             "model.p.b": model("b", ["model.p.a"]), "model.p.unbuilt": model("unbuilt", ["model.p.a"]),
             "seed.p.s": {"resource_type": "seed", "depends_on": {"nodes": []}}}
    (tmp_path / "manifest.json").write_text(json.dumps({"nodes": nodes}))
    ran = ["model.p.c", "model.p.a", "model.p.b", "seed.p.s", "test.p.t"]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": [{"unique_id": u} for u in ran]}))
    assert write_plan(tmp_path, tmp_path / "plan.json") == 3
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [p["name"] for p in plan] == ["a", "b", "c"]
    assert plan[0]["materialized"] == "view" and plan[2]["schema"] == '"db"."marts"'


@pytest.mark.parametrize("period, freq, expected", [("202512", "M", "202601"), ("202505", "M", "202506"),
                                                    ("1995", "A", "1996")])
def test_the_new_night_adds_the_next_comtrade_period(period, freq, expected):
    from flows.bench.transform_data import _one_period_on

    nxt = _one_period_on({"freqCode": freq, "period": period, "refYear": int(period[:4]), "refMonth": 52})
    assert nxt["period"] == expected and nxt["refYear"] == int(expected[:4])
    assert nxt["refPeriodId"] == int(expected[:4] + (expected[4:] or "01") + "01")
    assert nxt["refMonth"] == (int(expected[4:]) if freq == "M" else 52)


@pytest.mark.bench  # real dbt on real DuckDB files: 80 s on the 2-core box (7 min at load average ~10)
def test_tiny_transform_case_prints_its_rows_and_fails_when_direct_sql_differs(tmp_path, capsys, monkeypatch):
    from flows.bench.transform_variants import CORRUPT_ENV

    work, out = tmp_path / "work", tmp_path / "bench.json"
    argv = ["bench", "--size", "tiny", "--repeat", "1", "--cases", "transform", "--work-dir", str(work), "--keep-data"]
    assert main([*argv, "--json", str(out)]) == 0, capsys.readouterr().err
    rows = {r["case"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"transform (models)", "incremental night", "trade models"}  # tiny: no build/tariff rows
    models, night = rows["transform (models)"], rows["incremental night"]
    assert (models["variant"], models["baseline"], models["target"]) == ("dbt run", "direct SQL", 1.5)
    assert (night["variant"], night["baseline"], night["target"]) == ("dbt build (night)", "--full-refresh", 0.15)
    for r in rows.values():
        assert r["seconds"] > 0 and r["baseline_seconds"] > 0 and r["ratio"] > 0
    assert "same row counts in all" in models["note"] and "same rows and hash in all" in night["note"]
    assert "(parse: partial)" in night["note"]  # a night reuses dbt's partial-parse state
    split = night["note"].split("node thread s, night: ")[1]  # where a night's node time goes, by kind
    assert "models " in split and "tests " in split and "; full: " in split, night["note"]
    printed = capsys.readouterr().out
    assert "transform (models)" in printed and "x  <= 1.5x" in printed and "x  <= 0.15x" in printed

    monkeypatch.setenv(CORRUPT_ENV, "dim_country")  # the direct SQL's dim_country loses a row
    assert main(argv) == 1  # the prepared warehouse is reused (--keep-data): dbt run and direct SQL only
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("bench: case transform: direct SQL and dbt run built different marts (1 of ")
    assert "marts.dim_country has" in err and "their times do not compare" in err


@pytest.mark.parametrize("steps, rss, met", [({"load": 200.0, "seed": 10.0, "build": 300.0}, 1900.0, "met"),
                                             ({"load": 400.0, "seed": 10.0, "build": 300.0}, 1900.0, "MISSED")])
def test_the_first_night_row_holds_a_size_to_ten_minutes_and_names_its_peak_rss(steps, rss, met):
    from flows.bench.sizes import SIZES
    from flows.bench.transform_case import _first_night_row

    row = _first_night_row({"steps": steps, "peak_rss_mb": rss, "raw_rows": 10_000_000}, SIZES["medium"])
    assert row.seconds == sum(steps.values()) and row.baseline_seconds == 600.0
    assert row.met == met, row
    assert f"peak RSS {rss:,.0f} MB (met < 4 GB)" in row.note and "build 300.0 s" in row.note
    big = _first_night_row({"steps": steps, "peak_rss_mb": 5000.0, "raw_rows": 1}, SIZES["medium"])
    assert "MISSED < 4 GB" in big.note
