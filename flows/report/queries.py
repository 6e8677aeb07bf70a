"""The site's query set: one plain SQL file per dataset in ``queries/``, run against the published file.

Parameter convention (README.md beside the files): DuckDB named parameters ``$a`` and ``$b``, the pair's two
ISO3 codes as configured (``countries.pairs`` entry ``CAN-CHN``: a = CAN, b = CHN). Values are always
passed as parameters, never spliced into the SQL text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb

QUERY_DIR = Path(__file__).resolve().parent / "queries"
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict]:
        """Rows as JSON-ready dicts (dates as ISO text) for the charts."""
        return [{c: _json_value(v) for c, v in zip(self.columns, r)} for r in self.rows]


def _json_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def query_names() -> list[str]:
    return sorted(p.stem for p in QUERY_DIR.glob("*.sql"))


def query_text(name: str) -> str:
    path = QUERY_DIR / f"{name}.sql"
    if not path.exists():
        raise KeyError(f"no query {name!r} in {QUERY_DIR} (have: {', '.join(query_names())})")
    return path.read_text()


def parameters(sql: str) -> set[str]:
    """The named parameters a query uses (``$name``), comments left out."""
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return set(_PARAM.findall(without_comments))


def pair_parameters(pair: tuple[str, str]) -> dict[str, str]:
    return {"a": pair[0], "b": pair[1]}


def run_query(con: duckdb.DuckDBPyConnection, name: str, values: dict[str, str]) -> Dataset:
    """Run ``queries/<name>.sql`` with the parameters it uses taken from ``values``."""
    sql = query_text(name)
    wanted = parameters(sql)
    missing = wanted - set(values)
    if missing:
        raise KeyError(f"query {name!r} needs parameter(s) {', '.join(sorted(missing))}")
    cur = con.execute(sql, {k: values[k] for k in wanted})
    columns = [d[0] for d in cur.description]
    return Dataset(name, columns, cur.fetchall())
