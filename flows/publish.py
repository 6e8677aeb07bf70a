"""Publish the validated marts: a read-only DuckDB file and Parquet, each replaced atomically.

- ``published/bilateral.duckdb``: schema ``marts`` (every table dbt built in the working
  warehouse's ``marts`` schema, with dbt's table and column descriptions as DuckDB comments) and
  schema ``meta`` (publication run, checksums, row counts). Written to a temporary file in the same
  folder in a storage format DuckDB 1.x clients can open, then ``os.replace``-d over the old one:
  readers holding the old file keep their snapshot; a failed or crashed run leaves it untouched.
- ``published/parquet/current/<table>.parquet``: ``current`` is a symlink swapped atomically to the
  folder of the newest publication.

If the marts' content checksum equals the published one, nothing is rewritten: re-running the
same night leaves the published file byte-identical.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flows.errors import PublishError
from flows.warehouse import utcnow

STORAGE_VERSION = "v1.5.0"  # readable by DuckDB 1.5+ clients bundled in BI tools
KEEP_PARQUET_VERSIONS = 3


@dataclass
class PublishReport:
    published: bool
    unchanged: bool
    checksum: str
    tables: dict[str, int] = field(default_factory=dict)
    duckdb_path: str = ""
    parquet_dir: str = ""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_checksum(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of a table's content."""
    ref = f"{_q(catalog)}.{_q(schema)}.{_q(table)}"
    rows, digest = con.execute(
        f"select count(*), coalesce(md5(string_agg(h, '' order by h)), '') "
        f"from (select md5(cast(t as varchar)) as h from {ref} as t)").fetchone()
    return int(rows), digest


def content_checksum(con: duckdb.DuckDBPyConnection, catalog: str, schema: str = "marts") -> tuple[str, dict]:
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = ? order by table_name",
        [catalog, schema]).fetchall()]
    per_table = {t: table_checksum(con, catalog, schema, t) for t in tables}
    import hashlib

    overall = hashlib.sha256(json.dumps(per_table, sort_keys=True).encode()).hexdigest()
    return overall, per_table


def published_checksum(path: Path) -> str | None:
    if not Path(path).exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("select checksum from meta.publication").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()


def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    comment = con.execute("select comment from duckdb_tables() where database_name = 'wh' and schema_name = 'marts' "
                          "and table_name = ?", [table]).fetchone()
    if comment and comment[0]:
        con.execute(f"comment on table out.marts.{_q(table)} is {_sql_str(comment[0])}")
    for col, text in con.execute("select column_name, comment from duckdb_columns() where database_name = 'wh' "
                                 "and schema_name = 'marts' and table_name = ? and comment is not null", [table]).fetchall():
        con.execute(f"comment on column out.marts.{_q(table)}.{_q(col)} is {_sql_str(text)}")


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _write_duckdb(con: duckdb.DuckDBPyConnection, tmp: Path, run_id: str, checksum: str,
                  per_table: dict[str, tuple[int, str]]) -> None:
    con.execute(f"attach {_sql_str(str(tmp))} as out (storage_version '{STORAGE_VERSION}')")
    con.execute("create schema out.marts")
    con.execute("create schema out.meta")
    for table in per_table:
        con.execute(f"create table out.marts.{_q(table)} as select * from wh.marts.{_q(table)}")
        _copy_comments(con, table)
    con.execute("create table out.meta.publication as select ? as run_id, ? as published_at, ? as checksum, "
                "? as storage_version", [run_id, utcnow(), checksum, STORAGE_VERSION])
    con.execute("create table out.meta.tables (table_name varchar, row_count bigint, checksum varchar, description varchar)")
    for table, (rows, digest) in per_table.items():
        desc = con.execute("select comment from duckdb_tables() where database_name = 'out' and schema_name = 'marts' "
                           "and table_name = ?", [table]).fetchone()[0]
        con.execute("insert into out.meta.tables values (?, ?, ?, ?)", [table, rows, digest, desc])
    con.execute("detach out")


def _write_parquet(con: duckdb.DuckDBPyConnection, parquet_root: Path, run_id: str, tables: list[str]) -> Path:
    version_dir = parquet_root / run_id
    tmp_dir = parquet_root / f".{run_id}.tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir(parents=True)
    for table in tables:
        target = tmp_dir / f"{table}.parquet"
        con.execute(f"copy (select * from wh.marts.{_q(table)}) to {_sql_str(str(target))} "
                    "(format parquet, compression zstd)")
    shutil.rmtree(version_dir, ignore_errors=True)
    tmp_dir.rename(version_dir)
    link_tmp = parquet_root / ".current.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    link_tmp.symlink_to(version_dir.name, target_is_directory=True)
    os.replace(link_tmp, parquet_root / "current")
    versions = sorted((p for p in parquet_root.iterdir() if p.is_dir() and not p.is_symlink()
                       and not p.name.startswith(".")), key=lambda p: p.stat().st_mtime)
    for old in versions[:-KEEP_PARQUET_VERSIONS]:
        shutil.rmtree(old, ignore_errors=True)
    return parquet_root / "current"


def publish(db_path: Path, published_dir: Path, run_id: str) -> PublishReport:
    published_dir = Path(published_dir)
    published_dir.mkdir(parents=True, exist_ok=True)
    dst = published_dir / "bilateral.duckdb"
    tmp = published_dir / f".bilateral.duckdb.{run_id}.tmp"
    con = duckdb.connect()
    try:
        con.execute(f"attach {_sql_str(str(Path(db_path).resolve()))} as wh (read_only)")
        checksum, per_table = content_checksum(con, "wh")
        if not per_table:
            raise PublishError(f"no tables in schema marts of {db_path}; nothing to publish (did dbt build run?)")
        tables = {t: rows for t, (rows, _) in per_table.items()}
        parquet_current = published_dir / "parquet" / "current"
        if published_checksum(dst) == checksum and parquet_current.exists():
            return PublishReport(False, True, checksum, tables, str(dst), str(parquet_current))
        for leftover in published_dir.glob(".bilateral.duckdb.*.tmp*"):
            leftover.unlink()
        _write_duckdb(con, tmp, run_id, checksum, per_table)
        parquet = _write_parquet(con, published_dir / "parquet", run_id, list(per_table))
    except duckdb.Error as exc:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"publishing failed ({exc}); the previously published files are untouched") from exc
    finally:
        con.close()
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dst)
    return PublishReport(True, False, checksum, tables, str(dst), str(parquet))
