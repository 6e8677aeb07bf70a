"""Great Expectations evaluates for real: broken data fails the exact expectation, for the right reason."""
import json

import duckdb
import pytest

from flows import warehouse
from flows.errors import ValidationFailed
from tests.conftest import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
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
    assert any((tmp_path / "gx").rglob("index.html")), "Data Docs are built"


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


def test_raw_suites_check_the_rows_failed_nights_left_too(db, tmp_path):
    """A night that failed after loading leaves raw rows: the next night validates them with its own
    (``{batch_runs}``), so no later night publishes them unchecked; a successful night's rows are not
    checked again."""
    con = duckdb.connect(str(db))
    con.execute("insert into audit.runs (run_id, started_at, status) values "
                "('ok1', '2026-11-01 02:00+00', 'success'), ('bad', '2026-11-02 02:00+00', 'failed'), "
                "('gone', '2026-11-03 02:00+00', 'abandoned'), ('now', '2026-11-04 02:00+00', 'running')")
    con.execute("insert into raw.worldbank_indicator (record_no, countryiso3code, _run_id) values "
                "(1, 'old', 'ok1'), (1, 'CAN', 'now')")
    con.close()
    suite = [{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "countryiso3code", "regex": "^[A-Z]{3}$"}}]
    spec = SuiteSpec("raw", "select * from raw.worldbank_indicator where _run_id in {batch_runs}", suite, tmp_path)
    assert validate(db, "now", tmp_path / "gx", [spec]).success  # the successful night's 'old' is not checked again
    for failed_run in ("bad", "gone"):
        con = duckdb.connect(str(db))
        con.execute("insert into raw.worldbank_indicator (record_no, countryiso3code, _run_id) values (2, 'x1', ?)", [failed_run])
        con.close()
        report = validate(db, "now", tmp_path / "gx", [spec])
        assert not report.success and report.suites[0].rows_checked == 2, failed_run
        con = duckdb.connect(str(db))
        con.execute("delete from raw.worldbank_indicator where _run_id = ?", [failed_run])
        con.close()


def test_every_suite_file_declares_its_data():
    suites = load_suites(EXPECTATIONS_DIR / "suites")
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
        for spec in load_suites(EXPECTATIONS_DIR / "suites"):
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
    from flows.sources import discover_sources

    for spec in load_suites(EXPECTATIONS_DIR / "suites"):
        assert set(spec.requires_sources) <= set(discover_sources()), spec.name


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
    for spec in load_suites(EXPECTATIONS_DIR / "suites"):
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
    suites = {s.name: s for s in load_suites(EXPECTATIONS_DIR / "suites")}
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


# --- every raw table and every mart: a suite or a stated exemption ---------------------------------

def _sql(spec) -> str:
    return "\n".join(line.split("--", 1)[0] for line in spec.query.splitlines())


def _covered() -> tuple[set[str], set[str]]:
    """Raw tables whose run batch a suite checks (``from raw.t where _run_id in {batch_runs}``) and marts a suite reads."""
    import re

    batch = re.compile(r"\braw\.(\w+)(?:\s+as\s+\w+)?\s+where\s+(?:\w+\.)?_run_id\s+in\s+\{batch_runs\}", re.I)
    suites = load_suites(EXPECTATIONS_DIR / "suites")
    return ({t for s in suites for t in batch.findall(_sql(s))},
            {t for s in suites for t in re.findall(r"\bmarts\.(\w+)", _sql(s))})


def _exemptions() -> dict[str, dict[str, str]]:
    import yaml

    doc = yaml.safe_load((EXPECTATIONS_DIR / "exemptions.yml").read_text())
    return {schema: {e["table"]: " ".join(e["reason"].split()) for e in doc.get(schema) or []} for schema in ("raw", "marts")}


def _uncovered(raw_tables: set[str], marts: set[str]) -> list[str]:
    raw_suites, mart_suites = _covered()
    exempt = _exemptions()
    problems = [f"raw.{t}: no suite checks its run batch and no exemption" for t in sorted(raw_tables - raw_suites - set(exempt["raw"]))]
    problems += [f"marts.{t}: no suite and no exemption" for t in sorted(marts - mart_suites - set(exempt["marts"]))]
    for schema, tables, covered in (("raw", raw_tables, raw_suites), ("marts", marts, mart_suites)):
        for table, reason in exempt[schema].items():
            if table not in tables:
                problems.append(f"exemption for {schema}.{table}: no such table")
            if table in covered:
                problems.append(f"{schema}.{table} has a suite and an exemption")
            if len(reason) < 40:
                problems.append(f"exemption for {schema}.{table}: state why ({reason!r})")
    return problems


def test_every_raw_table_and_mart_the_code_defines_has_a_suite_or_an_exemption():
    from flows.sources import load_specs

    raw_tables = {spec.raw_table for spec in load_specs().values()}
    marts = {p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").rglob("*.sql")}
    assert {"gdelt_doc_article", "comtrade_record"} <= raw_tables and {"dim_country", "trade_balance"} <= marts
    assert _uncovered(raw_tables, marts) == []
    assert _uncovered(raw_tables | {"new_source_record"}, marts | {"new_mart"}) == [
        "raw.new_source_record: no suite checks its run batch and no exemption",
        "marts.new_mart: no suite and no exemption"]


def test_every_raw_table_and_mart_of_a_built_warehouse_has_a_suite_or_an_exemption(sample_run):
    tables = sample_run.query("select table_schema, table_name from information_schema.tables "
                              "where table_schema in ('raw', 'marts')", published=False)
    raw_tables = {t for schema, t in tables if schema == "raw"}
    marts = {t for schema, t in tables if schema == "marts"}
    assert len(raw_tables) >= 8 and len(marts) >= 12, tables
    assert _uncovered(raw_tables, marts) == []


# --- run-only checks: volume against previous runs, freshness against the run ----------------------

def _shipped(name: str):
    [spec] = [s for s in load_suites(EXPECTATIONS_DIR / "suites") if s.name == name]
    return spec


def _key_events(db, copies: list[int]) -> None:
    con = duckdb.connect(str(db))
    con.execute("create or replace table marts.relations_key_events (copies bigint, goldstein_scale double, "
                "event_description varchar)")
    con.executemany("insert into marts.relations_key_events values (?, 1.0, 'Make statement')", [[c] for c in copies])
    con.close()


def test_volume_check_warns_on_a_drop_by_more_than_half_against_the_last_successful_validation(db, tmp_path):
    spec = _shipped("mart_relations_key_events")
    volume = [e for e in spec.expectations if e["kwargs"].get("column") == "pct_of_previous_rows"]
    assert volume and volume[0]["meta"]["severity"] == "warn"
    gx_root = tmp_path / "gx"

    _key_events(db, [1] * 10)
    first = validate(db, "r1", gx_root, [spec])
    assert first.success and first.suites[0].warnings == 0, "a first run has no history: the check passes"
    assert validate(db, "r1", gx_root, [spec]).suites[0].warnings == 0, "the same run is not its own baseline"

    _key_events(db, [1] * 6)  # 60% of the last successful validation: fine
    assert validate(db, "r2", gx_root, [spec]).suites[0].warnings == 0

    _key_events(db, [1] * 2)  # 2 of 6 rows: a drop by two thirds
    dropped = validate(db, "r3", gx_root, [spec])
    [result] = dropped.suites
    assert dropped.success and result.success and (result.failed, result.warnings) == (0, 1), "warn: reported, not blocking"
    [warning] = result.failures
    assert (warning["column"], warning["severity"], warning["sample"]) == ("pct_of_previous_rows", "warn", ["33.3"])
    assert "pct_of_previous_rows" in dropped.warning_lines()[0]

    _key_events(db, [0] * 4)  # a failed validation (copies < 1) is not a baseline ...
    failed = validate(db, "r4", gx_root, [spec])
    assert not failed.success and {f["column"] for f in failed.suites[0].failures} == {"copies"}
    _key_events(db, [1] * 2)  # ... so 2 rows compare with r3's 2 rows, not with r4's 4
    assert validate(db, "r5", gx_root, [spec]).suites[0].warnings == 0

    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select run_id, success, rows_checked, failures from audit.validations order by validated_at").fetchall()
    con.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [("r1", True, 10), ("r1", True, 10), ("r2", True, 6), ("r3", True, 2),
                                                   ("r4", False, 4), ("r5", True, 2)]
    assert [f["severity"] for f in json.loads(rows[3][3])] == ["warn"]


def _raw_for_freshness(db, run_id: str, mode: str, sources: str, batch_age_hours: float, doc_age_hours: float) -> None:
    from datetime import datetime, timedelta, timezone

    started = datetime(2026, 3, 10, 2, 0, tzinfo=timezone.utc)
    con = duckdb.connect(str(db))
    con.execute("insert into audit.runs (run_id, run_date, mode, sources, started_at, status) values (?, ?, ?, ?, ?, 'running')",
                [run_id, started.date(), mode, sources, started])
    batch = (started - timedelta(hours=batch_age_hours)).strftime("%Y%m%d%H%M%S")
    doc = (started - timedelta(hours=doc_age_hours)).strftime("%Y%m%dT%H%M%SZ")
    con.execute("insert into raw.gdelt_export_file (batch_ts, stream, status, _run_id) values (?, 'export', 'loaded', ?), "
                "('20200101000000', 'export', 'skipped', ?)", [batch, run_id, run_id])
    con.execute("insert into raw.gdelt_doc_timeline (pair, mode, date, value, _run_id) values ('CAN-CHN', 'timelinevolraw', ?, 3, ?)",
                [doc, run_id])
    con.close()


def test_freshness_warns_when_a_live_run_finds_the_newest_gdelt_batch_days_old(db, tmp_path):
    spec = _shipped("raw_freshness")
    _raw_for_freshness(db, "live1", "live", "gdelt_events,gdelt_doc", batch_age_hours=80, doc_age_hours=20)
    report = validate(db, "live1", tmp_path / "gx", [spec])
    [result] = report.suites
    assert report.success and (result.failed, result.warnings) == (0, 1)
    [warning] = result.failures
    assert warning["severity"] == "warn" and warning["column"] == "stale"
    assert warning["sample"] == ["gdelt_events: newest loaded export batch 2026-03-06 18:00 is 3.3 days before the run "
                                 "(allowed 1.5 days)"], "the skipped 2020 file does not count; the fresh DOC series passes"


def test_freshness_is_not_checked_for_sample_runs_nor_for_sources_the_run_did_not_fetch(db, tmp_path):
    spec = _shipped("raw_freshness")
    _raw_for_freshness(db, "sample1", "sample", "gdelt_events,gdelt_doc", batch_age_hours=5000, doc_age_hours=5000)
    assert validate(db, "sample1", tmp_path / "gx", [spec]).suites[0].warnings == 0
    _raw_for_freshness(db, "live2", "live", "worldbank", batch_age_hours=5000, doc_age_hours=5000)
    assert validate(db, "live2", tmp_path / "gx", [spec]).suites[0].warnings == 0
    _raw_for_freshness(db, "live3", "live", "gdelt_doc", batch_age_hours=5000, doc_age_hours=5000)
    [warning] = validate(db, "live3", tmp_path / "gx", [spec]).suites[0].failures
    assert warning["sample"][0].startswith("gdelt_doc: newest DOC API timeline step ")


def test_shipped_mart_suite_fails_the_exact_expectations_on_broken_trade_data(sample_run, clone_warehouse, tmp_path):
    run = clone_warehouse(sample_run)
    con = duckdb.connect(str(run.db_path))
    target = con.execute("""select reporter_iso3, partner_iso3, period_type, period_start from marts.trade_balance
                            where exports_yoy_pct is not null order by all limit 1""").fetchone()
    con.execute("""update marts.trade_balance set exports_yoy_pct = 80, is_yoy_outlier = false
                   where reporter_iso3 = ? and partner_iso3 = ? and period_type = ? and period_start = ?""", list(target))
    con.execute("""update marts.trade_balance set mirror_exports_usd = -1
                   where (reporter_iso3, partner_iso3, period_type, period_start) =
                         (select (reporter_iso3, partner_iso3, period_type, period_start) from marts.trade_balance
                          where mirror_exports_usd is not null order by all desc limit 1)""")
    con.close()
    report = validate(run.db_path, "broken", tmp_path / "gx", [_shipped("mart_trade_balance")])
    [result] = report.suites
    assert not report.success and result.warnings == 0
    failed = {f["column"]: f for f in result.failures}
    assert set(failed) == {"unflagged_yoy_change", "mirror_exports_usd"}
    assert failed["unflagged_yoy_change"]["sample"] == [f"{target[0]}-{target[1]} {target[2]} {target[3]}"]
    assert failed["mirror_exports_usd"]["sample"] == ["-1.0"] and "(1 of " in failed["mirror_exports_usd"]["detail"]


def test_readme_lists_every_expectation_moved_to_dbt():
    """The README's table of deleted expectations is dbt_owned.yml's list, in order (the closing counts use it)."""
    readme = (EXPECTATIONS_DIR / "README.md").read_text()
    table = readme.split("## Deleted: GX expectations dbt already checks", 1)[1]
    cells = [[c.strip() for c in line.split("|")[1:4]] for line in table.splitlines() if line.startswith("| ")]
    rows = [(int(n), suite, gx.split("`")[1]) for n, suite, gx in cells if n.isdigit()]
    owned = _dbt_owned()["deleted"]
    assert rows == [(i, e["suite"], e["type"].removeprefix("expect_")) for i, e in enumerate(owned, 1)]
    assert f"The {len(owned)} deleted expectations" in readme


def test_the_batch_holds_only_the_columns_the_expectations_name(db, tmp_path):
    from flows.validation import _frame, batch_columns

    con = duckdb.connect(str(db))
    con.execute("alter table marts.t add column wide varchar default 'not checked'")
    con.close()
    spec = SuiteSpec("t_suite", "select * from marts.t", SUITE + [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}], tmp_path)
    assert batch_columns(spec) == {"rate", "iso3", "year"}
    with warehouse.connect(db, read_only=True) as con:
        df, error = _frame(con, spec, "r1")
    assert error == "" and sorted(df.columns) == ["iso3", "rate", "year"] and len(df) == 2
    assert validate(db, "r1", tmp_path / "gx", [spec]).suites[0].evaluated == 4
    whole = SuiteSpec("w", "select * from marts.t", [
        {"type": "expect_table_column_count_to_equal", "kwargs": {"value": 4}}], tmp_path)
    assert batch_columns(whole) is None, "a table-columns expectation sees every column"
    assert validate(db, "r1", tmp_path / "gx", [whole]).success
    quarantined = SuiteSpec("q", "select 'f' as _landed_file, 1 as record_no, * from marts.t", SUITE[:1], tmp_path,
                            quarantine="t")
    assert batch_columns(quarantined) == {"_landed_file", "record_no", "rate"}
    conditional = SuiteSpec("c", "select * from marts.t", [
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "rate", "row_condition": 'wide=="not checked"', "condition_parser": "pandas"}}], tmp_path)
    assert batch_columns(conditional) is None, "a row condition may name a column no kwarg names"
    assert validate(db, "r1", tmp_path / "gx", [conditional]).success


def _pages(gx_root, run_id):
    """This run's Data Docs validation pages and stored results (folders named by the run id)."""
    return ([p for p in gx_root.rglob("*.html") if run_id in p.parts and "data_docs" in p.parts],
            [p for p in gx_root.rglob("*.json") if run_id in p.parts and "validations" in p.parts])


def test_a_night_builds_only_its_own_data_docs_pages_and_keeps_the_last_nights(db, tmp_path, monkeypatch):
    from flows import validation

    monkeypatch.setattr(validation, "KEEP_GX_RUNS", 2)
    gx_root = tmp_path / "gx"
    spec = SuiteSpec("t_suite", "select * from marts.t", SUITE, tmp_path)
    assert validate(db, "night1", gx_root, [spec]).success
    [page1], [result1] = _pages(gx_root, "night1")
    before = page1.stat().st_mtime_ns
    page1.write_text(page1.read_text() + "<!-- night1 -->")  # a re-render would drop this
    assert validate(db, "night2", gx_root, [spec]).success
    assert "<!-- night1 -->" in page1.read_text(), "night 2 rendered night 1's page again"
    assert page1.stat().st_mtime_ns >= before and len(_pages(gx_root, "night2")[0]) == 1

    assert validate(db, "night3", gx_root, [spec]).success
    assert _pages(gx_root, "night1") == ([], []), "the oldest night's result and page are removed"
    assert all(len(found) == 1 for run in ("night2", "night3") for found in _pages(gx_root, run))
    index = next(p for p in gx_root.rglob("index.html") if "data_docs" in p.parts and p.parent.name == "local_site")
    assert "night3" in index.read_text() and "night2" in index.read_text() and "night1" not in index.read_text()
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(distinct run_id) from audit.validations").fetchone()[0] == 3, \
        "audit.validations keeps every night"
    con.close()
