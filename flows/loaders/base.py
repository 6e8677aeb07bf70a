"""How a landed file becomes rows of a ``raw`` table: DuckDB's own readers, no Python row loops.

A LoadSpec names the raw table a ``kind`` of landed file feeds, the table's record columns, a
SELECT that reads one file (``{file}`` is replaced by the quoted path), and checks: queries over
the same file that return ``(row, problem)`` for every record that must not load (wrong types,
missing fields). Any problem refuses the whole file (and its partition) with the first problems named.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadSpec:
    kind: str
    raw_table: str
    columns: dict[str, str]  # record column -> DuckDB type, in order
    select_sql: str  # SELECT producing exactly ``columns`` (by name, any order) from {file}
    checks: tuple[str, ...] = field(default_factory=tuple)  # each SELECT row, problem FROM {file}

    def render(self, sql: str, file: str) -> str:
        return sql.replace("{file}", "'" + file.replace("'", "''") + "'")
