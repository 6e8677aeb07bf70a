"""`bilateral bench --cases validate`: GX validation against the same expectations as plain SQL.

Not timed: these tests check that the case runs and prints its row, that the SQL translation fails
exactly the expectations GX fails (real GX validation on a real DuckDB file), and that a
disagreement fails the bench.
"""
from __future__ import annotations

import json
import re

import duckdb
import pytest

from flows.bench import validate_case
from flows.bench.sizes import SIZES
from flows.bench.sql_checks import key, run_checks
from flows.bench.suite import BenchFailed
from flows.cli import main
from flows.validation import SuiteSpec, load_suites, validate
from flows import warehouse
from tests.conftest import PROJECT_ROOT


def _gx_failed(report) -> dict[str, list[str]]:
    return {s.suite: sorted({validate_case._gx_key(f) for f in s.failures}) for s in report.suites}


def _sql_failed(db, suites, run_id) -> dict[str, list[str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return run_checks(con, suites, run_id)
    finally:
        con.close()


GOOD = """select * from (values
    (1, 'CAN', 'a', 2.5::double, null::varchar, 'x', 'x'),
    (2, 'CHN', 'b', 0.0::double, null::varchar, 'y', 'y'),
    (3, 'USA', null, null::double, null::varchar, null, null)) v(id, iso3, code, rate, note, left_v, right_v)"""

#: one expectation of each translated type, and a row that breaks only it
CASES = {
    "expect_column_values_to_be_between": ({"column": "rate", "min_value": 0, "max_value": 10}, "(4, 'MEX', 'c', 11.0, null, 'z', 'z')"),
    "expect_column_values_to_be_in_set": ({"column": "code", "value_set": ["a", "b", "c"]}, "(4, 'MEX', 'q', 1.0, null, 'z', 'z')"),
    "expect_column_values_to_match_regex": ({"column": "iso3", "regex": "^[A-Z]{3}$"}, "(4, 'Mexico', 'c', 1.0, null, 'z', 'z')"),
    "expect_column_values_to_not_be_null": ({"column": "id"}, "(null, 'MEX', 'c', 1.0, null, 'z', 'z')"),
    "expect_column_values_to_be_null": ({"column": "note"}, "(4, 'MEX', 'c', 1.0, 'oops', 'z', 'z')"),
    "expect_column_values_to_be_unique": ({"column": "id"}, "(1, 'MEX', 'c', 1.0, null, 'z', 'z')"),
    "expect_compound_columns_to_be_unique": ({"column_list": ["iso3", "code"]}, "(4, 'CAN', 'a', 1.0, null, 'z', 'z')"),
    "expect_column_pair_values_to_be_equal": ({"column_A": "left_v", "column_B": "right_v"}, "(4, 'MEX', 'c', 1.0, null, 'z', 'w')"),
    "expect_table_row_count_to_be_between": ({"min_value": 1, "max_value": 3}, "(4, 'MEX', 'c', 1.0, null, 'z', 'z')"),
}
SCHEMA_CASES = {
    "expect_table_column_count_to_equal": {"value": 7},
    "expect_table_columns_to_match_ordered_list": {"column_list": ["id", "iso3", "code", "rate", "note", "left_v", "right_v"]},
    "expect_table_columns_to_match_set": {"column_set": ["right_v", "left_v", "note", "rate", "code", "iso3", "id"], "exact_match": True},
}


def _suite(name: str, sql: str, expectations: list[dict], tmp_path) -> SuiteSpec:
    return SuiteSpec(name, sql, expectations, tmp_path / f"{name}.json")


def test_each_translation_fails_exactly_where_gx_fails_on_one_corrupted_row(tmp_path):
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    suites = []
    for i, (etype, (kwargs, bad_row)) in enumerate(CASES.items()):
        expectation = [{"type": etype, "kwargs": kwargs}]
        suites.append(_suite(f"good_{i}", GOOD, expectation, tmp_path))
        suites.append(_suite(f"bad_{i}", f"{GOOD} union all select * from (values {bad_row})", expectation, tmp_path))
    for i, (etype, kwargs) in enumerate(SCHEMA_CASES.items()):
        expectation = [{"type": etype, "kwargs": kwargs}]
        suites.append(_suite(f"schema_good_{i}", GOOD, expectation, tmp_path))
        suites.append(_suite(f"schema_bad_{i}", f"select *, 1 as extra from ({GOOD})", expectation, tmp_path))

    gx = _gx_failed(validate(db, "r1", tmp_path / "gx", suites))
    sql = _sql_failed(db, suites, "r1")

    expected = {s.name: ([key(s.expectations[0])] if "bad" in s.name else []) for s in suites}
    assert gx == expected, "GX itself fails the corrupted batches and only them"
    assert sql == expected
    assert validate_case.disagreement(gx, sql) == []


@pytest.fixture(scope="module")
def tiny_warehouse(tmp_path_factory):
    work = tmp_path_factory.mktemp("validate_tiny")
    return validate_case._tiny_warehouse(work, SIZES["tiny"])


def _shipped(names):
    by_name = {s.name: s for s in load_suites(PROJECT_ROOT / "expectations" / "suites")}
    return [by_name[n] for n in names]


def test_one_corrupted_record_fails_the_same_shipped_expectation_in_gx_and_sql(tiny_warehouse, tmp_path):
    db = tmp_path / "bilateral.duckdb"
    db.write_bytes(tiny_warehouse.read_bytes())
    suites = _shipped(validate_case.TINY_SUITES)
    assert _gx_failed(validate(db, "bench", tmp_path / "gx0", suites)) == {n: [] for n in validate_case.TINY_SUITES}
    assert _sql_failed(db, suites, "bench") == {n: [] for n in validate_case.TINY_SUITES}

    con = duckdb.connect(str(db))
    con.execute('update raw.comtrade_record set "primaryValue" = -1 where record_no = (select min(record_no) from raw.comtrade_record)')
    con.close()
    gx = _gx_failed(validate(db, "bench", tmp_path / "gx1", suites))
    sql = _sql_failed(db, suites, "bench")
    assert gx["raw_comtrade"] == ["expect_column_values_to_be_between(primaryValue)"]
    assert sql == gx


@pytest.mark.bench
def test_tiny_validate_case_prints_its_row_with_ratio_and_target(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--size", "tiny", "--repeat", "1", "--cases", "validate", "--json", str(out),
                 "--work-dir", str(tmp_path / "work")])
    assert code == 0, capsys.readouterr().err
    rows = json.loads(out.read_text())["rows"]
    assert [r["case"] for r in rows] == ["validate (tiny)"]
    row = rows[0]
    assert row["variant"] == "GX (nightly)" and row["baseline"] == "SQL checks"
    assert row["seconds"] > 0 and row["baseline_seconds"] > 0 and row["target"] == 2.0
    assert row["rss_mb"] > 0 and row["baseline_rss_mb"] > 0
    assert row["met"] in ("met", "MISSED")
    assert "0 failed on both sides" in row["note"]
    split = re.search(r"import great_expectations (\d+\.\d+) s .*without it (\d+\.\d+) s = (\d+\.\d+)x", row["note"])
    assert split, row["note"]
    imported, rest, ratio = map(float, split.groups())
    assert imported > 0 and rest > 0 and abs(imported + rest - row["seconds"]) < 0.02, "the wall, split in two"
    assert abs(ratio - rest / row["baseline_seconds"]) < 0.02
    printed = capsys.readouterr().out
    assert "validate (tiny)" in printed and "GX (nightly) / SQL checks" in printed and "x  <= 2x" in printed


@pytest.mark.bench
def test_a_disagreement_fails_the_bench_with_exit_1_naming_the_expectation(tmp_path, capsys, monkeypatch):
    real_child = validate_case.ValidateRunner.child

    def child(self, variant, fileset):
        result = real_child(self, variant, fileset)
        if variant == "sql_validate":
            result["failed"]["raw_comtrade"] = ["expect_column_values_to_be_between(primaryValue)"]
        return result

    monkeypatch.setattr(validate_case.ValidateRunner, "child", child)
    code = main(["bench", "--size", "tiny", "--repeat", "1", "--cases", "validate", "--work-dir", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 1
    assert "GX and the SQL checks disagree" in err
    assert "suite raw_comtrade: failed in the SQL checks only: expect_column_values_to_be_between(primaryValue)" in err
    assert "flows/bench/sql_checks.py" in err


def test_every_shipped_expectation_has_a_sql_translation():
    from flows.bench.sql_checks import checks

    suites = load_suites(PROJECT_ROOT / "expectations" / "suites")
    generated = [c for s in suites for c in checks(s, "r1")]
    assert len(generated) == sum(len(s.expectations) for s in suites) > 100
