"""`bilateral bench`: its machinery on the tiny size (not timed) and its usage errors.

The speed targets live in the benchmark's own table, never here: these tests check that the suite
runs, that bilateral and its baseline produced the same rows, and that a difference is caught.
"""
from __future__ import annotations

import json

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
