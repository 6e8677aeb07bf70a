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
    assert rows["load comtrade"]["rows"] == 2_000
    assert rows["load comtrade"]["note"] == "2,000 rows out"  # every generated record loaded, by both
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


@pytest.mark.slow
def test_serve_case_measures_the_query_set_on_the_published_file_and_a_10x_copy(sample_run, tmp_path):
    from flows.bench.suite import SERVE_TARGET_S, Runner, serve_case

    rows, notes = serve_case(Runner(tmp_path, 1, None, log=lambda m: None), sample_run.published_path, min_repeat=2)
    assert notes == [] and [r.case for r in rows] == ["serve p95 (published)", "serve p95 (10x)"]
    for row in rows:
        assert row.baseline_seconds == SERVE_TARGET_S and 0 < row.seconds and row.rows > 0
    assert rows[1].rows >= rows[0].rows  # the copy is bigger, the same queries return at least as much
