"""What the published file holds, for people: the marts with their row counts and descriptions,
and one mart's columns with their types and descriptions (dbt's docs, stored by publishing as
DuckDB comments; row counts from ``meta.tables``)."""
from __future__ import annotations

import duckdb

from flows.sql_session import EXIT_USAGE, QueryError

SCHEMA = "marts"


def _row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    try:
        return dict(con.execute("select table_name, row_count from meta.tables").fetchall())
    except duckdb.Error:  # an older or hand-made file without meta.tables: counts are left out
        return {}


def marts(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[tuple]]:
    counts = _row_counts(con)
    found = con.execute(
        "select t.table_name, count(c.column_name), coalesce(t.comment, '') from duckdb_tables() t "
        "join duckdb_columns() c on c.database_name = t.database_name and c.schema_name = t.schema_name "
        "and c.table_name = t.table_name where t.database_name = current_database() and t.schema_name = ? "
        "group by all order by t.table_name", [SCHEMA]).fetchall()
    return (["table", "rows", "columns", "description"],
            [(f"{SCHEMA}.{name}", counts.get(name), ncols, desc) for name, ncols, desc in found])


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = current_database() "
                                      "and schema_name = ? order by 1", [SCHEMA]).fetchall()]


def columns(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], list[tuple]]:
    """The columns of one mart (``name`` or ``marts.name``); QueryError (exit 2) for an unknown one."""
    name = table.strip().strip('"')
    if name.lower().startswith(f"{SCHEMA}."):
        name = name[len(SCHEMA) + 1:].strip('"')
    known = mart_names(con)
    match = next((k for k in known if k.lower() == name.lower()), None)
    if match is None:
        close = [k for k in known if name.lower() in k.lower() or k.lower() in name.lower()]
        hint = f"; did you mean {', '.join(close[:3])}?" if close else ""
        raise QueryError(f"no mart named {table!r} in schema {SCHEMA}{hint} (`bilateral sql --list` lists them)",
                         EXIT_USAGE)
    rows = con.execute("select column_name, data_type, coalesce(comment, '') from duckdb_columns() "
                       "where database_name = current_database() and schema_name = ? and table_name = ? "
                       "order by column_index", [SCHEMA, match]).fetchall()
    return ["column", "type", "description"], rows


def shorten(rows: list[tuple], column: int, width: int = 100) -> list[tuple]:
    """Rows with one text column cut to ``width`` characters (for the terminal table only)."""
    def cut(v):
        text = " ".join(str(v).split()) if v is not None else v
        return text if text is None or len(text) <= width else text[:width - 1] + "…"
    return [tuple(cut(v) if i == column else v for i, v in enumerate(r)) for r in rows]
