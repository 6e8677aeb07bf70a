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

    def render(self, sql: str, file: str, params: dict | None = None) -> str:
        """Substitute ``{file}`` and any ``{name}`` of ``params`` (a landed file's load_params:
        strings become quoted literals, numbers stay numbers, lists become list literals)."""
        for name, value in (params or {}).items():
            sql = sql.replace("{" + name + "}", _literal(value))
        return sql.replace("{file}", _literal(file))


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_literal(v) for v in value) + "]" if value else "[]::varchar[]"
    return "'" + str(value).replace("'", "''") + "'"
