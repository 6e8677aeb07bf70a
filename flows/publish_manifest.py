"""What ``manifest.json`` says beside the tables, for readers of the Parquet files and the DuckDB file:

- ``data``: ``"sample"`` when the run was a sample night (bundled, partly generated data; every
  generated row also carries ``is_sample = true``), ``"real"`` otherwise; ``run_mode`` is the run's
  mode as recorded in ``audit.runs.mode`` (``sample``, ``live``, ``replay``; ``unknown`` when the
  working warehouse has no audit row for the run).
- ``periods``: per table that has a time column, the first and last period it covers
  (``{"column": ..., "min": ..., "max": ...}``), from the first of :data:`PERIOD_COLUMNS` it has.
"""
from __future__ import annotations

import duckdb

#: the columns that say which period a row is about, most specific first (dates before years)
PERIOD_COLUMNS = ("period_start", "day", "month", "week_start", "event_date", "year")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def publication_kind(con: duckdb.DuckDBPyConnection, run_id: str, catalog: str = "wh") -> dict:
    """``{"run_mode": ..., "data": "sample" | "real"}`` for ``run_id`` from the working warehouse's audit."""
    has_runs = con.execute("select count(*) from duckdb_tables() where database_name = ? and schema_name = 'audit' "
                           "and table_name = 'runs'", [catalog]).fetchone()[0]
    row = con.execute(f"select mode from {_q(catalog)}.audit.runs where run_id = ?", [run_id]).fetchone() if has_runs else None
    mode = row[0] if row and row[0] else "unknown"
    return {"run_mode": mode, "data": "sample" if mode == "sample" else "real"}


def data_period(con: duckdb.DuckDBPyConnection, table: str, catalog: str = "wh", schema: str = "marts") -> dict | None:
    """The min/max of the table's period column (ISO text), or None when it has none (dimensions)."""
    columns = {c: t for c, t in con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ?", [catalog, schema, table]).fetchall()}
    column = next((c for c in PERIOD_COLUMNS if c in columns and columns[c] in ("DATE", "INTEGER", "BIGINT")), None)
    if column is None:
        return None
    low, high = con.execute(f"select min({_q(column)}), max({_q(column)}) "
                            f"from {_q(catalog)}.{_q(schema)}.{_q(table)}").fetchone()
    text = (lambda v: None if v is None else (v.isoformat() if hasattr(v, "isoformat") else v))
    return {"column": column, "min": text(low), "max": text(high)}
