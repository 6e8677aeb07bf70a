"""Great Expectations evaluates for real: broken data fails the exact expectation, for the right reason."""
import json

import duckdb
import pytest

from flows import warehouse
from flows.errors import ValidationFailed
from flows.validation import SuiteSpec, load_suites, require_success, validate


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(path)
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.t as select * from (values ('CAN', 2020, 1.5::double), ('CHN', 2021, 3.0::double)) v(iso3, year, rate)")
    con.close()
    return path


SUITE = [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "rate", "min_value": 0, "max_value": 100}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "iso3", "regex": "^[A-Z]{3}$"}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["iso3", "year"]}},
]


def test_good_data_passes_and_is_recorded(db, tmp_path):
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("t_suite", "select * from marts.t", SUITE, tmp_path)])
    assert report.success and report.suites[0].evaluated == 3 and report.suites[0].rows_checked == 2
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select suite, success, evaluated from audit.validations").fetchall() == [("t_suite", True, 3)]
    con.close()
    assert (tmp_path / "gx").rglob("index.html"), "Data Docs are built"


def test_broken_data_fails_the_exact_expectation_with_bad_values(db, tmp_path):
    con = duckdb.connect(str(db))
    con.execute("insert into marts.t values ('Canada', 2022, 250.0), ('CAN', 2020, 1.5)")
    con.close()
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("t_suite", "select * from marts.t", SUITE, tmp_path)])
    assert not report.success
    failures = {f["expectation"]: f for f in report.suites[0].failures}
    assert set(failures) == {"expect_column_values_to_be_between", "expect_column_values_to_match_regex",
                             "expect_compound_columns_to_be_unique"}
    assert failures["expect_column_values_to_be_between"]["sample"] == ["250.0"]
    assert failures["expect_column_values_to_match_regex"]["sample"] == ["Canada"]
    assert "raised" not in failures["expect_column_values_to_be_between"]["detail"], "evaluated, not errored"
    with pytest.raises(ValidationFailed) as err:
        require_success(report)
    assert "suite 't_suite'" in str(err.value) and "column 'rate'" in str(err.value) and "250.0" in str(err.value)


def test_an_expectation_that_errors_counts_as_failure(db, tmp_path):
    suite = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}}]
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("s", "select * from marts.t", suite, tmp_path)])
    assert not report.success and report.suites[0].failed == 1
    assert "raised" in report.suites[0].failures[0]["detail"] and "no_such_column" in report.suites[0].failures[0]["detail"]


def test_an_invalid_expectation_fails_its_suite_and_the_others_still_run(db, tmp_path):
    invalid = [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "rate", "min_value": "low"}}]
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("invalid", "select * from marts.t", invalid, tmp_path),
                                                  SuiteSpec("good", "select * from marts.t", SUITE, tmp_path)])
    assert [(r.suite, r.success) for r in report.suites] == [("invalid", False), ("good", True)]
    assert "GX could not run the suite" in report.failure_message() and "min_value" in report.failure_message()


def test_run_id_scopes_raw_batch_suites(db, tmp_path):
    con = duckdb.connect(str(db))
    con.execute("insert into raw.worldbank_indicator (record_no, countryiso3code, _run_id) values (1, 'bad', 'old'), (1, 'CAN', 'new')")
    con.close()
    suite = [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "countryiso3code", "regex": "^[A-Z]{3}$"}}]
    spec = SuiteSpec("raw", "select * from raw.worldbank_indicator where _run_id = '{run_id}'", suite, tmp_path)
    assert validate(db, "new", tmp_path / "gx", [spec]).success
    assert not validate(db, "old", tmp_path / "gx", [spec]).success


def test_every_suite_file_declares_its_data():
    suites = load_suites()
    assert {"raw_worldbank_indicator", "mart_country_indicators_annual"} <= {s.name for s in suites}
    for s in suites:
        assert s.query_path == s.path.with_suffix(".sql") and s.query_path.exists(), s.name
        body = "\n".join(line for line in s.query.splitlines() if not line.lstrip().startswith("--")).strip()
        assert body.lower().startswith(("select", "with")) and s.expectations, s.name
        doc = json.loads(s.path.read_text())
        assert "query" not in doc["meta"]["bilateral"], f"{s.path}: the query lives in the .sql only"


def _write_suite(directory, name, sql="select 1 as x", expectations=None):
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"name": name, "meta": {"bilateral": {}},
           "expectations": expectations or [{"type": "expect_column_to_exist", "kwargs": {"column": "x"}}]}
    (directory / f"{name}.json").write_text(json.dumps(doc))
    if sql is not None:
        (directory / f"{name}.sql").write_text(sql)


def test_suite_query_is_read_from_the_sql_file_beside_the_json(tmp_path):
    _write_suite(tmp_path, "s1", "-- the data\nselect 1 as x;\n")
    [spec] = load_suites(tmp_path)
    assert spec.name == "s1" and spec.query_path == tmp_path / "s1.sql"
    assert spec.query == "-- the data\nselect 1 as x"


def test_suite_json_without_its_sql_is_an_error_naming_the_file(tmp_path):
    _write_suite(tmp_path, "good")
    _write_suite(tmp_path, "lonely", sql=None)
    with pytest.raises(ValueError, match=r"lonely\.json: its query .*lonely\.sql is missing"):
        load_suites(tmp_path)


def test_sql_without_its_suite_json_is_an_error_naming_the_file(tmp_path):
    _write_suite(tmp_path, "good")
    (tmp_path / "orphan.sql").write_text("select 1")
    with pytest.raises(ValueError, match=r"orphan\.sql: no suite orphan\.json"):
        load_suites(tmp_path)


def test_a_query_left_in_the_json_is_refused(tmp_path):
    _write_suite(tmp_path, "s1")
    doc = json.loads((tmp_path / "s1.json").read_text())
    doc["meta"]["bilateral"]["query"] = "select 2 as x"
    (tmp_path / "s1.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"s1\.json: meta\.bilateral\.query is not read"):
        load_suites(tmp_path)


def test_shipped_suite_queries_run_against_a_real_warehouse(sample_run):
    """Every shipped .sql parses and binds against the built warehouse (DuckDB EXPLAIN, no data read)."""
    import duckdb

    from flows.validation import render_query

    con = duckdb.connect(str(sample_run.db_path), read_only=True)
    try:
        for spec in load_suites():
            con.execute("explain " + render_query(spec, "r'1"))
            columns = [d[0] for d in con.execute(f"select * from ({render_query(spec, 'r1')}) limit 0").description]
            used = {c for e in spec.expectations for k in ("column", "column_A", "column_B")
                    if (c := e["kwargs"].get(k))} | {c for e in spec.expectations for c in e["kwargs"].get("column_list", [])
                                                      if e["type"] != "expect_table_columns_to_match_ordered_list"}
            assert used <= set(columns), f"{spec.query_path}: expectations use columns it does not select: {used - set(columns)}"
    finally:
        con.close()


def test_suites_of_disabled_sources_are_skipped_not_failed(db, tmp_path):
    empty = [{"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]
    spec = SuiteSpec("needs_comtrade", "select * from marts.t where false", empty, tmp_path, ("comtrade",))
    assert not validate(db, "r1", tmp_path / "gx", [spec], enabled_sources=["comtrade", "worldbank"]).success
    report = validate(db, "r1", tmp_path / "gx", [spec], enabled_sources=["worldbank"])
    assert report.success and report.suites == [] and report.skipped == ["needs_comtrade (needs disabled source comtrade)"]


def test_shipped_suites_name_only_known_sources():
    from flows.connectors import CONNECTORS

    for spec in load_suites():
        assert set(spec.requires_sources) <= set(CONNECTORS), spec.name


WARN_SUITE = [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "rate", "min_value": 0, "max_value": 2},
     "meta": {"severity": "warn"}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "iso3", "regex": "^[A-Z]{3}$"}},
]


def test_a_failed_warn_expectation_is_reported_but_does_not_fail_the_suite(db, tmp_path):
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("w", "select * from marts.t", WARN_SUITE, tmp_path)])
    [result] = report.suites
    assert report.success and result.success, "a warning never blocks publication"
    assert (result.failed, result.warnings) == (0, 1)
    [warning] = result.failures
    assert warning["severity"] == "warn" and warning["column"] == "rate" and warning["sample"] == ["3.0"]
    assert report.warning_lines() == [
        "suite 'w': expect_column_values_to_be_between column 'rate' failed; bad values (sample): ['3.0'] (1 of 2 rows)"]
    require_success(report)  # does not raise
    con = duckdb.connect(str(db), read_only=True)
    success, failed, failures = con.execute("select success, failed, failures from audit.validations").fetchone()
    con.close()
    assert success is True and failed == 0
    assert [(f["expectation"], f["severity"]) for f in json.loads(failures)] == [("expect_column_values_to_be_between", "warn")]


def test_a_fail_expectation_still_fails_next_to_a_warning(db, tmp_path):
    con = duckdb.connect(str(db))
    con.execute("insert into marts.t values ('Canada', 2022, 1.0)")
    con.close()
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("w", "select * from marts.t", WARN_SUITE, tmp_path)])
    [result] = report.suites
    assert not report.success and (result.failed, result.warnings) == (1, 1)
    assert {f["column"]: f["severity"] for f in result.failures} == {"rate": "warn", "iso3": "fail"}
    with pytest.raises(ValidationFailed) as err:
        require_success(report)
    first, second = str(err.value).splitlines()[1:]
    assert "column 'iso3'" in first and "Canada" in first and not first.strip().startswith("[warn]")
    assert second.strip().startswith("[warn]") and "column 'rate'" in second


def test_a_warn_expectation_that_raises_counts_as_a_failure(db, tmp_path):
    suite = [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"},
              "meta": {"severity": "warn"}}]
    report = validate(db, "r1", tmp_path / "gx", [SuiteSpec("s", "select * from marts.t", suite, tmp_path)])
    [result] = report.suites
    assert not report.success and result.failed == 1 and result.warnings == 0
    assert result.failures[0]["severity"] == "fail" and "raised" in result.failures[0]["detail"]


def test_a_query_that_fails_fails_its_suite_and_the_others_still_run(db, tmp_path):
    good = SuiteSpec("good", "select * from marts.t", SUITE, tmp_path)
    broken = SuiteSpec("broken", "select * from marts.no_such_table", SUITE, tmp_path, query_path=tmp_path / "broken.sql")
    report = validate(db, "r1", tmp_path / "gx", [broken, good])
    assert not report.success
    assert [(r.suite, r.success) for r in report.suites] == [("broken", False), ("good", True)]
    assert "broken.sql failed" in report.failure_message() and "no_such_table" in report.failure_message()


def test_an_unknown_severity_is_refused(tmp_path):
    _write_suite(tmp_path, "s1", expectations=[
        {"type": "expect_column_to_exist", "kwargs": {"column": "x"}, "meta": {"severity": "error"}}])
    with pytest.raises(ValueError, match=r"s1\.json: expectation 0: .*meta\.severity 'error' is not one of fail, warn"):
        load_suites(tmp_path)
