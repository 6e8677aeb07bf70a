"""Great Expectations evaluates for real: broken data fails the exact expectation, for the right reason."""
import json

import duckdb
import pytest

from flows import warehouse
from flows.errors import ValidationFailed
from flows.paths import EXPECTATIONS_DIR
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


# --- one home per check: dbt owns a model's invariants, GX what only a run can know ------------------

def _dbt_test(item) -> tuple[str, dict, dict]:
    """A dbt data test as written in yml: ``not_null`` or ``{name: {arguments: {...}, config: {...}}}``."""
    if isinstance(item, str):
        return item, {}, {}
    [(name, body)] = item.items()
    body = body or {}
    args = body.get("arguments", {k: v for k, v in body.items() if k != "config"})
    return name, args or {}, body.get("config") or {}


def _dbt_models() -> dict[str, dict]:
    """Every dbt model's yml tests and contract constraints, read from dbt_project/models/**/*.yml."""
    import yaml

    from flows.paths import DBT_PROJECT_DIR, PROJECT_ROOT

    models = {}
    for yml in sorted(DBT_PROJECT_DIR.glob("models/**/*.yml")):
        for m in (yaml.safe_load(yml.read_text()) or {}).get("models") or []:
            enforced = bool((((m.get("config") or {}).get("contract")) or {}).get("enforced"))
            models[m["name"]] = {
                "file": yml.relative_to(PROJECT_ROOT).as_posix(),
                "tests": [_dbt_test(t) for t in m.get("data_tests") or []],
                "columns": {c["name"]: {
                    "tests": [_dbt_test(t) for t in c.get("data_tests") or []],
                    "not_null_constraint": enforced and any(k.get("type") == "not_null" for k in c.get("constraints") or []),
                } for c in m.get("columns") or []}}
    return models


def _blocking(config: dict) -> bool:
    return config.get("severity", "error") != "warn"


def _within(dbt_args: dict, kwargs: dict) -> bool:
    """dbt's accepted_range is at least as strict as GX's bounds."""
    for key, stricter in (("min_value", lambda d, g: d >= g), ("max_value", lambda d, g: d <= g)):
        if kwargs.get(key) is not None and (dbt_args.get(key) is None or not stricter(dbt_args[key], kwargs[key])):
            return False
    return True


def _repeats_dbt(expectation: dict, model: dict) -> str | None:
    """The dbt test an expectation on a mart's own column repeats (same column, same rule), if any."""
    kind, kw = expectation["type"], expectation["kwargs"]
    if kind == "expect_compound_columns_to_be_unique":
        if any(n == "unique_combination_of_columns" and set(a.get("combination_of_columns", [])) == set(kw["column_list"])
               and _blocking(c) for n, a, c in model["tests"]):
            return "unique_combination_of_columns"
        return None
    column = model["columns"].get(kw.get("column"))
    if column is None:
        return None
    tests = [(n, a, c) for n, a, c in column["tests"] if _blocking(c)]
    if kind == "expect_column_values_to_not_be_null":
        if column["not_null_constraint"]:
            return "contract not_null constraint"
        return "not_null" if any(n == "not_null" for n, _, _ in tests) else None
    if kind == "expect_column_values_to_be_unique":
        return "unique" if any(n == "unique" for n, _, _ in tests) else None
    if kind == "expect_column_values_to_be_in_set":
        return "accepted_values" if any(n == "accepted_values" and set(a["values"]) <= set(kw["value_set"])
                                        for n, a, _ in tests) else None
    if kind == "expect_column_values_to_be_between":
        return "accepted_range" if any(n == "accepted_range" and not c.get("where") and _within(a, kw)
                                       for n, a, c in tests) else None
    return None


def _suite_model(spec) -> str | None:
    """The mart a suite reads first (``from marts.<model>``), comments left out."""
    import re

    sql = "\n".join(line.split("--", 1)[0] for line in spec.query.splitlines())
    found = re.search(r"\bmarts\.(\w+)", sql)
    return found.group(1) if found else None


def test_no_shipped_expectation_repeats_a_dbt_test_on_its_mart():
    """GX keeps only what dbt does not test: an expectation that repeats a dbt column test, key or
    contract constraint on the same mart column (same rule, bounds no looser) belongs to dbt alone."""
    models = _dbt_models()
    repeats = []
    for spec in load_suites():
        model = models.get(_suite_model(spec) or "")
        for e in spec.expectations if model else []:
            if test := _repeats_dbt(e, model):
                repeats.append(f"{spec.name}: {e['type']} {e['kwargs']} repeats dbt {test}")
    assert repeats == [], "delete these from GX (and list them in expectations/dbt_owned.yml):\n" + "\n".join(repeats)


def test_the_repeat_detector_finds_a_known_dbt_test():
    models = _dbt_models()
    rd = models["relations_daily"]
    assert _repeats_dbt({"type": "expect_column_values_to_be_between",
                         "kwargs": {"column": "cooperation_share", "min_value": 0, "max_value": 1}}, rd) == "accepted_range"
    assert _repeats_dbt({"type": "expect_column_values_to_be_between",
                         "kwargs": {"column": "cooperation_share", "min_value": 0, "max_value": 0.5}}, rd) is None
    assert _repeats_dbt({"type": "expect_column_values_to_be_in_set",
                         "kwargs": {"column": "direction", "value_set": ["a_to_b", "b_to_a", "both"]}}, rd) == "accepted_values"
    assert _repeats_dbt({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "day"}}, rd) \
        == "contract not_null constraint"
    assert _repeats_dbt({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mentions"}}, rd) is None
    cia = models["country_indicators_annual"]  # relationships at severity warn would not block: not a repeat
    assert _repeats_dbt({"type": "expect_compound_columns_to_be_unique",
                         "kwargs": {"column_list": ["year", "indicator_code", "country_iso3"]}}, cia) \
        == "unique_combination_of_columns"


def _dbt_owned() -> dict:
    import yaml

    return yaml.safe_load((EXPECTATIONS_DIR / "dbt_owned.yml").read_text())


def _dbt_test_exists(entry: dict, models: dict) -> str:
    """'' when the dbt test an entry of dbt_owned.yml names exists with the same rule, else why not."""
    from flows.paths import PROJECT_ROOT

    dbt, kw = entry["dbt"], entry["kwargs"]
    path = PROJECT_ROOT / dbt["file"]
    if not path.exists():
        return f"{dbt['file']} does not exist"
    test = dbt["test"]
    if test == "singular":
        return "" if path.parent.name == "tests" and "select" in path.read_text().lower() else f"{path} is no singular test"
    if test == "registry_rule":
        reporter = PROJECT_ROOT / dbt["reported_by"]
        if dbt["rule"] not in path.read_text():
            return f"rule {dbt['rule']!r} not in {dbt['file']}"
        return "" if reporter.exists() and "int_tariffs__registry_problems" in reporter.read_text() else f"{reporter} does not report it"
    model = models.get(dbt["model"])
    if model is None or model["file"] != dbt["file"]:
        return f"model {dbt['model']} not in {dbt['file']}"
    if test == "unique_combination_of_columns":
        ok = any(n == test and set(a["combination_of_columns"]) == set(kw["column_list"]) and _blocking(c)
                 for n, a, c in model["tests"])
    elif test == "expression_is_true":
        ok = any(n == test and a.get("expression") == dbt["expression"] and _blocking(c) for n, a, c in model["tests"])
    else:
        column = model["columns"].get(dbt["column"])
        if column is None:
            return f"{dbt['model']}.{dbt['column']} is not documented"
        tests = [(n, a, c) for n, a, c in column["tests"] if _blocking(c)]
        if test == "constraint_not_null":
            ok = column["not_null_constraint"]
        elif test == "not_null":
            ok = any(n == test for n, _, _ in tests)
        elif test == "accepted_values":
            ok = any(n == test and set(a["values"]) == set(kw["value_set"]) for n, a, _ in tests)
        elif test == "accepted_range":
            ok = any(n == test and c.get("where") == dbt.get("where") and a.get("min_value") == kw.get("min_value")
                     and a.get("max_value") == kw.get("max_value") for n, a, c in tests)
        else:
            return f"unknown dbt.test {test!r}"
    return "" if ok else f"no blocking dbt {test} on {dbt['model']} {dbt.get('column', '')} matching {kw}"


def test_every_expectation_moved_to_dbt_is_gone_from_gx_and_covered_by_that_dbt_test():
    owned = _dbt_owned()
    assert owned["deleted"], "the list of GX expectations dbt owns is empty"
    suites = {s.name: s for s in load_suites()}
    models = _dbt_models()
    problems = []
    for entry in owned["deleted"] + owned["narrowed"]:
        where = f"{entry['suite']}: {entry['type']} {entry['kwargs']}"
        spec = suites.get(entry["suite"])
        remaining = [(e["type"], e["kwargs"]) for e in spec.expectations] if spec else []
        if (entry["type"], entry["kwargs"]) in remaining:
            problems.append(f"{where} is still in the suite")
        if "kept_kwargs" in entry and (entry["type"], entry["kept_kwargs"]) not in remaining:
            problems.append(f"{where}: the narrowed expectation {entry['kept_kwargs']} is missing")
        if why := _dbt_test_exists(entry, models):
            problems.append(f"{where}: {why}")
    assert problems == []
