"""How a landed file becomes rows of a ``raw`` table: DuckDB's own readers, no Python row loops.

A LoadSpec describes one landed kind:

- ``columns``: the raw table's record columns (name -> DuckDB type, in order), starting with
  ``record_no``: the record's position in its file (a line number for CSV files), which with the
  landed file identifies every record for its whole life (quarantine, release, lineage).
- ``parse_sql``: a SELECT over ``{files}`` (a list of paths: files of one kind are parsed in one
  statement) giving one row per record: ``_file`` (the path, e.g. read_text's or read_csv's
  ``filename``), ``record_no``, ``_raw`` (the record's own text, for quarantine), optionally
  ``_json`` or other helper columns for the checks, and every record column, typed with
  ``try_cast``, so one bad value never stops the file. For CSV files (``csv_rejects``) the reader
  stores the lines it cannot parse in ``{rejects}`` / ``{rejects_scan}``, the SELECT gives ``_k``
  (``row_number() over ()``, or the rowid of a ``split_sql`` table) and a null ``record_no``, and the
  loader turns them into line numbers. ``{store_rejects}`` in the reader's options lets the loader
  scan strictly first (empty: DuckDB keeps no rejects, about a third faster) and, only when that
  scan fails on a line it cannot parse, scan again storing them (``, store_rejects=true, ...``).
- ``split_sql`` (optional): a SELECT over ``{files}`` materialised first as a temporary table that
  ``parse_sql`` reads as ``{split}``: for documents that hold many records (a Comtrade answer), split
  into the records' texts here and typed by ``parse_sql``, which DuckDB then runs in parallel over
  records rather than over files. The table keeps the order of its SELECT, so ``parse_sql`` may
  number rows by its ``rowid``.
- ``checks``: SELECTs over ``{parsed}`` returning ``_file, record_no, rule, problem`` for every record
  that breaks the record contract (a wrong type, a missing field, a value outside its domain, an
  unknown code, a date beyond the source's horizon). Those records go to ``quarantine.<raw_table>``;
  the rest of the file loads.
- ``file_checks``: SELECTs over ``{files}`` returning ``_file, problem`` when a file as a whole is not
  what the source's format promises (a changed envelope): that file is refused whole. With
  ``file_checks_if_empty``, they look only at the files the parse gave no record (a parse that reads
  records only out of a well-formed envelope makes every other file pass them).
- ``keep``: a predicate over parsed rows choosing the records bilateral stores (e.g. GDELT events of the
  configured pairs); records outside it are not errors and are not checked.
- ``keep_in_parse`` (CSV, with ``keep``): ``parse_sql`` applies ``keep`` itself, so that only the kept
  records are materialised, and adds one row per file with ``_n`` (the file's parsed records, all of
  them) and ``_k`` (its first record's ``_k``); the loader numbers lines and counts bad-record shares
  from those rows.
- ``natural_key``: the columns that identify a record across answers; duplicates are counted in a note.
- ``unknown_fields``: a SELECT over ``{parsed}`` (or ``{files}``) returning ``_file, field`` for every
  field a file's records carry that the record contract does not know: a new or a renamed field
  (schema drift). The record still loads, without the field (the landed file keeps it); the loader
  notes the fields, and names them when it refuses the file.

Placeholders: ``{files}``, ``{split}``, ``{parsed}``, ``{store_rejects}``, ``{rejects}``, ``{rejects_scan}``, ``{run_date}`` (the run's
logical date, for horizons) and any ``{name}`` of the landed files' ``load_params`` (files are batched
by identical parameters; strings become quoted literals, numbers stay numbers, lists list literals).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadSpec:
    kind: str
    raw_table: str
    columns: dict[str, str]
    parse_sql: str
    checks: tuple[str, ...] = field(default_factory=tuple)
    file_checks: tuple[str, ...] = field(default_factory=tuple)
    file_checks_if_empty: bool = False
    split_sql: str = ""
    keep: str = ""
    natural_key: tuple[str, ...] = ()
    unknown_fields: str = ""
    csv_rejects: bool = False
    keep_in_parse: bool = False
    #: False: parse one file per statement ({file}), for formats whose records refer to per-file code lists
    batch: bool = True

    def __post_init__(self) -> None:
        if next(iter(self.columns), None) != "record_no":
            raise ValueError(f"load spec {self.kind}: the first record column must be record_no")

    def render(self, sql: str, params: dict | None = None) -> str:
        """Substitute any ``{name}`` of ``params`` as SQL literals."""
        for name, value in (params or {}).items():
            sql = sql.replace("{" + name + "}", literal(value))
        return sql


def literal(value: object) -> str:
    """A Python value as a DuckDB SQL literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(literal(v) for v in value) + "]" if value else "[]::varchar[]"
    return "'" + str(value).replace("'", "''") + "'"
