"""The expectations of bilateral's GX suites translated to plain DuckDB SQL, one query each.

Each query counts the rows (or, for a table-level expectation, 0 or 1) that break its expectation on
the suite's batch (the suite's own ``.sql``, rendered for the run as the nightly renders it), so an
expectation passes when its query returns 0. The translation follows GX's pandas semantics: column
map expectations skip nulls; ``compound_columns_to_be_unique`` skips rows whose columns are all null;
``column_pair_values_to_be_equal`` skips rows where both are null. An expectation type with no
translation here is an error naming it (add it to ``_TRANSLATIONS``).

The key of an expectation (``key``) is the one GX's failures carry in flows/validation.py
(expectation type and column), so the two sides' failures compare as sets.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flows.validation import SuiteSpec, render_query


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "null"
    return "'" + str(value).replace("'", "''") + "'"


def _rows_where(predicate: str) -> str:
    return f"select count(*) from batch where {predicate}"


def _nan(c: str) -> str:
    """A float NaN: missing to pandas (so to GX), a value to DuckDB."""
    return f"coalesce(typeof({c}) in ('DOUBLE', 'FLOAT') and isnan(try_cast({c} as double)), false)"


def _between(kw: dict) -> str:
    c = _q(kw["column"])
    bounds = []
    if kw.get("min_value") is not None:
        bounds.append(f"{c} < {_literal(kw['min_value'])}")
    if kw.get("max_value") is not None:
        bounds.append(f"{c} > {_literal(kw['max_value'])}")
    return _rows_where(f"{c} is not null and not {_nan(c)} and ({' or '.join(bounds) or 'false'})")


def _in_set(kw: dict) -> str:
    c = _q(kw["column"])
    values = ", ".join(_literal(v) for v in kw["value_set"]) or "null"
    return _rows_where(f"{c} is not null and {c} not in ({values})")


def _regex(kw: dict) -> str:
    c = _q(kw["column"])  # pandas' str.contains: a search, not a full match (the suites' patterns are anchored)
    return _rows_where(f"{c} is not null and not regexp_matches({c}::varchar, {_literal(kw['regex'])})")


def _not_null(kw: dict) -> str:
    c = _q(kw["column"])  # pandas counts a float NaN as missing too
    return _rows_where(f"{c} is null or {_nan(c)}")


def _null(kw: dict) -> str:
    return _rows_where(f"{_q(kw['column'])} is not null")


def _unique(kw: dict) -> str:
    c = _q(kw["column"])
    return (f"select coalesce(sum(n), 0) from (select count(*) as n from batch where {c} is not null "
            f"group by {c} having count(*) > 1)")


def _compound_unique(kw: dict) -> str:
    cols = ", ".join(_q(c) for c in kw["column_list"])
    some = " or ".join(f"{_q(c)} is not null" for c in kw["column_list"])
    return (f"select coalesce(sum(n), 0) from (select count(*) as n from batch where {some} "
            f"group by {cols} having count(*) > 1)")


def _pair_equal(kw: dict) -> str:
    a, b = _q(kw["column_A"]), _q(kw["column_B"])
    return _rows_where(f"not ({a} is null and {b} is null) and {a} is distinct from {b}")


def _row_count(kw: dict) -> str:
    low = f"count(*) < {_literal(kw['min_value'])}" if kw.get("min_value") is not None else "false"
    high = f"count(*) > {_literal(kw['max_value'])}" if kw.get("max_value") is not None else "false"
    return f"select ({low} or {high})::int from batch"


# schema checks read the batch's columns (DESCRIBE of the batch, no rows)
def _column_count(kw: dict) -> str:
    return f"select (count(*) <> {int(kw['value'])})::int from columns"


def _ordered_list(kw: dict) -> str:
    expected = "[" + ", ".join(_literal(c) for c in kw["column_list"]) + "]::varchar[]"
    return f"select (list(column_name order by position) <> {expected})::int from columns"


def _column_set(kw: dict) -> str:
    expected = "[" + ", ".join(_literal(c) for c in kw["column_set"]) + "]::varchar[]"
    if kw.get("exact_match", True):
        return f"select (list_sort(list(column_name)) <> list_sort({expected}))::int from columns"
    return f"select (not list_has_all(list(column_name), {expected}))::int from columns"


_TRANSLATIONS = {
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_match_regex": _regex,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_null": _null,
    "expect_column_values_to_be_unique": _unique,
    "expect_compound_columns_to_be_unique": _compound_unique,
    "expect_column_pair_values_to_be_equal": _pair_equal,
    "expect_table_row_count_to_be_between": _row_count,
    "expect_table_column_count_to_equal": _column_count,
    "expect_table_columns_to_match_ordered_list": _ordered_list,
    "expect_table_columns_to_match_set": _column_set,
}
_SCHEMA = {"expect_table_column_count_to_equal", "expect_table_columns_to_match_ordered_list",
           "expect_table_columns_to_match_set"}


def key(expectation: dict) -> str:
    """``type`` or ``type(column)``, the column named as flows/validation.py's failures name it."""
    kw = expectation.get("kwargs") or {}
    column = kw.get("column") or kw.get("column_list") or (
        f"{kw.get('column_A')}/{kw.get('column_B')}" if "column_A" in kw else None)
    if isinstance(column, list):
        column = ",".join(column)
    return f"{expectation['type']}({column})" if column else expectation["type"]


@dataclass
class Check:
    suite: str
    key: str
    sql: str  # returns one number: the rows (or 1 for the table) breaking the expectation


def checks(spec: SuiteSpec, run_id: str) -> list[Check]:
    """One SQL query per expectation of ``spec``, over its batch for ``run_id``."""
    batch = render_query(spec, run_id)
    out = []
    for i, expectation in enumerate(spec.expectations):
        translate = _TRANSLATIONS.get(expectation["type"])
        if translate is None:
            raise ValueError(f"{spec.path}: expectation {i} {expectation['type']} has no SQL translation in "
                             "flows/bench/sql_checks.py; add one to _TRANSLATIONS")
        body = translate(expectation.get("kwargs") or {})
        if expectation["type"] in _SCHEMA:
            sql = (f"with columns as (select column_name, row_number() over () as position "
                   f"from (describe ({batch}))) {body}")
        else:
            sql = f"with batch as ({batch}) {body}"
        out.append(Check(spec.name, key(expectation), sql))
    return out


def run_checks(con, suites: list[SuiteSpec], run_id: str) -> dict[str, list[str]]:
    """Every suite's checks on ``con``: the keys of the failed expectations by suite (``query`` when
    the suite's batch cannot be read, as flows/validation.py reports it)."""
    import duckdb

    failed: dict[str, list[str]] = {}
    for spec in suites:
        bad = []
        try:
            con.execute(f"select 1 from ({render_query(spec, run_id)}) limit 0")
        except duckdb.Error:
            failed[spec.name] = ["query"]
            continue
        for check in checks(spec, run_id):
            try:
                n = con.execute(check.sql).fetchone()[0]
            except duckdb.Error:
                n = 1  # a check that cannot evaluate fails, as an expectation that raised does in GX
            if n:
                bad.append(check.key)
        failed[spec.name] = sorted(bad)
    return failed


def describe(suites: list[SuiteSpec], run_id: str) -> str:
    """Every generated query, for reading (``python -m flows.bench.validate_case --print-sql``)."""
    return json.dumps({c.suite + " " + c.key: c.sql for s in suites for c in checks(s, run_id)}, indent=1)
