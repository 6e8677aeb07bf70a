"""Load landed files into append-only ``raw`` tables, idempotent by file content hash.

Each extracted partition loads in one transaction: every file of it, or none. A file whose
sha256 is already in ``audit.loaded_files`` for its raw table is skipped, so re-running a night
loads nothing twice. A file that fails its spec's checks (wrong types, missing fields) refuses
its partition with a message naming the file and the problem; other partitions still load.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from flows.errors import LoadError
from flows.landing import LandedFile
from flows.sources import load_specs
from flows.sources.base import ExtractResult
from flows.sources.loadspec import LoadSpec
from flows.warehouse import connect, utcnow


@dataclass(frozen=True)
class PartitionFailure:
    """A partition whose files were refused at load: nothing of it loaded."""

    source: str
    partition: str
    file: str
    message: str


@dataclass
class LoadReport:
    files_loaded: int = 0
    files_skipped: int = 0
    rows_loaded: int = 0
    rows_by_table: dict[str, int] = field(default_factory=dict)
    failures: list[PartitionFailure] = field(default_factory=list)


def _record_landed(con: duckdb.DuckDBPyConnection, files: list[LandedFile]) -> None:
    for f in files:
        d = asdict(f)
        con.execute("insert into audit.landed_files values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [d[k] for k in ("run_id", "source", "kind", "path", "request_url", "http_status", "bytes",
                                    "sha256", "fetched_at", "origin", "synthetic", "status", "problem")])


def _load_file(con: duckdb.DuckDBPyConnection, spec: LoadSpec, f: LandedFile, run_id: str) -> int | None:
    """Insert one file's rows; None when it was loaded before (same content hash)."""
    if con.execute("select 1 from audit.loaded_files where raw_table = ? and sha256 = ?",
                   [spec.raw_table, f.sha256]).fetchone():
        return None
    try:
        for check in spec.checks:
            problems = con.execute(spec.render(check, f.path, f.load_params)).fetchmany(5)
            if problems:
                listed = "; ".join(f"record {row}: {problem}" for row, problem in problems)
                raise LoadError(f.path, listed)
        cols = ", ".join(f'"{c}"' for c in spec.columns)
        inserted = con.execute(
            f"insert into raw.{spec.raw_table} select {cols}, ?, ?, ?, ?, ?, ? from ({spec.render(spec.select_sql, f.path, f.load_params)})",
            [run_id, f.path, f.sha256, utcnow(), f.origin, f.synthetic]).fetchone()[0]
    except duckdb.Error as exc:
        raise LoadError(f.path, f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    con.execute("insert into audit.loaded_files values (?, ?, ?, ?, ?, ?)",
                [spec.raw_table, f.sha256, run_id, f.path, inserted, utcnow()])
    return int(inserted)


def load_results(db_path: Path, run_id: str, results: list[ExtractResult],
                 specs: dict[str, LoadSpec] | None = None) -> LoadReport:
    specs = load_specs() if specs is None else specs
    report = LoadReport()
    with connect(db_path) as con:
        for result in results:
            con.execute("begin transaction")
            _record_landed(con, result.files)
            con.execute("commit")
            if not result.ok:
                continue
            loadable = [f for f in result.files if f.status == "landed" and f.kind in specs]
            con.execute("begin transaction")
            try:
                rows = {}
                for f in loadable:
                    n = _load_file(con, specs[f.kind], f, run_id)
                    if n is None:
                        report.files_skipped += 1
                    else:
                        report.files_loaded += 1
                        table = specs[f.kind].raw_table
                        rows[table] = rows.get(table, 0) + n
                for key, value in result.state_updates.items():
                    con.execute("insert or replace into audit.source_state values (?, ?, ?, ?, ?)",
                                [result.source, key, value, run_id, utcnow()])
                con.execute("commit")
            except LoadError as exc:
                con.execute("rollback")
                con.execute("update audit.landed_files set status = 'rejected', problem = ? where run_id = ? and path = ?",
                            [exc.problem, run_id, exc.file])
                result.error = str(exc)
                report.failures.append(PartitionFailure(result.source, result.partition, exc.file,
                                                        f"[{result.source} {result.partition}] {exc}"))
                continue
            for table, n in rows.items():
                report.rows_by_table[table] = report.rows_by_table.get(table, 0) + n
                report.rows_loaded += n
    return report
