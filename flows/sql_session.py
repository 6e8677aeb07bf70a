"""Running a person's SQL on the read-only connection: what counts as an empty query, and what
each DuckDB error means for them (a plain message, and whose fault it is: the exit code)."""
from __future__ import annotations

import re

import duckdb

from flows.readonly import explain_refusal

EXIT_FAILED, EXIT_USAGE = 1, 2


class QueryError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message, self.exit_code = message, exit_code


def strip_comments(query: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", query, flags=re.DOTALL)


def is_empty_sql(query: str) -> bool:
    """Only blanks, semicolons and comments."""
    return not strip_comments(query).strip().strip(";").strip()


def error_message(exc: duckdb.Error) -> tuple[str, int]:
    """One line for a failed statement and its exit code: 1 for a refusal of the locked connection
    (it stays refused whatever is fixed) or a file problem, 2 for a query DuckDB could not run as
    written (syntax, unknown table or column, types...): fix the query."""
    refused = explain_refusal(exc)
    if refused:
        return refused, EXIT_FAILED
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # DuckDB adds the statement with a caret under the error ("LINE 1: ...", "^"): keep the words
    words = [ln for ln in lines if not ln.startswith("LINE ") and set(ln) != {"^"}]
    text = " ".join(words) or type(exc).__name__
    if isinstance(exc, duckdb.IOException):
        return f"query failed: {text}", EXIT_FAILED
    return f"query failed: {text}", EXIT_USAGE


def run(con: duckdb.DuckDBPyConnection, query: str) -> tuple[list[str], list[tuple]]:
    """Columns and rows of ``query`` (the last statement's, for several); QueryError when it fails."""
    try:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description or []]
        return columns, (cur.fetchall() if columns else [])
    except duckdb.Error as exc:
        raise QueryError(*error_message(exc)) from None
