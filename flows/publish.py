"""Publish the validated marts as one publication, all or nothing.

A publication is a folder ``published/releases/<run_id>/`` holding everything readers use:
``bilateral.duckdb`` (schema ``marts``: every table dbt built in the working warehouse's ``marts``
schema, with dbt's table and column descriptions as DuckDB comments; schema ``meta``: publication
run, checksums, row counts), ``parquet/<table>.parquet`` (each file carrying its column descriptions
and the run id in its key-value metadata), ``manifest.json`` and, when the caller gives a site writer
(the nightly does), ``site/``: the report site of this publication (``site/index.html`` the run page,
one page per configured pair; :mod:`flows.report`), written from the new ``bilateral.duckdb`` before
``COMPLETE`` and fsync-ed with it; a site that fails to build fails the publish like any other write.
It is written in full (files and folder fsync-ed) under a temporary name, renamed into place, and
only then made current by ONE atomic switch: the symlink ``published/current`` is replaced. The
stable paths readers use, ``published/bilateral.duckdb``, ``published/parquet`` and
``published/site``, are symlinks through ``current`` that never change, so a reader opening either sees one publication or the next, never a mix, and a
connection keeps the publication it opened.

A crash before the switch leaves the previous publication current and untouched (the folder it
was writing, complete or not, is removed at the next start: it was never switched to); after the
switch, the new one is complete. Old publications
are pruned by publication order (run ids sort by time), never the current or the previous one;
a folder is renamed to ``.trash-*`` before it is deleted, so an interrupted prune never leaves a
half-deleted publication visible. If the marts' content checksum equals the current publication's,
nothing is rewritten: the site stays the one of the run that wrote the publication (its run page
says which run that was). A current publication without a site, when a site writer is given, is
written anew once, so that readers get a site.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from flows.errors import BilateralError, PublishError, StorageError
from flows.publish_manifest import data_period, publication_kind
from flows.run_markers import marker
from flows.storage import storage_fault
from flows.warehouse import utcnow

# the oldest storage version that keeps table/column comments and the marts' types: DuckDB 1.0+ clients
# read it (checked with 0.10.3, 1.0.0, 1.1.3, the duckdb-cli 1.4.4 and duckdb 2.0.1; docs/bi.md). 'v0.10.0' writes
# the same storage number (64); 'v1.2.0' and later are unreadable before DuckDB 1.2.
STORAGE_VERSION = "v1.0.0"
KEEP_RELEASES = 3
MANIFEST = "manifest.json"
COMPLETE = "COMPLETE"
SITE = "site"
#: writes the report site into a release folder being written: (release_dir, con with the working
#: warehouse attached as ``wh``, run_id) -> anything (flows.report.build.site_writer)
SiteWriter = Callable[[Path, duckdb.DuckDBPyConnection, str], object]


@dataclass
class PublishReport:
    published: bool
    unchanged: bool
    checksum: str
    tables: dict[str, int] = field(default_factory=dict)
    duckdb_path: str = ""
    parquet_dir: str = ""
    release: str = ""
    notes: list[str] = field(default_factory=list)
    site_path: str = ""


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def table_checksum(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> tuple[int, str]:
    """Row count and an order-independent checksum of a table's content and columns (names, types, order).

    The rows' part is the sum of DuckDB's 64-bit ``hash()`` of every row (as a 128-bit integer: duplicates
    add up, never cancel). It is a change detector, not a signature: publish compares it with the
    current publication's to skip an unchanged one. It reads the table in one pass, about 30x faster than an
    md5 of every row cast to text (1.9 s against 0.07 s for the sample marts); a DuckDB version that hashes
    differently only makes the next night publish the same content once more."""
    ref = f"{_q(catalog)}.{_q(schema)}.{_q(table)}"
    rows, total = con.execute(f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {ref} as t").fetchone()
    columns = con.execute("select column_name, data_type from duckdb_columns() where database_name = ? "
                          "and schema_name = ? and table_name = ? order by column_index", [catalog, schema, table]).fetchall()
    signature = json.dumps({"columns": columns, "rows": int(rows), "hash_sum": str(total)})
    return int(rows), hashlib.md5(signature.encode()).hexdigest()


def content_checksum(con: duckdb.DuckDBPyConnection, catalog: str, schema: str = "marts") -> tuple[str, dict]:
    tables = [r[0] for r in con.execute(
        "select table_name from duckdb_tables() where database_name = ? and schema_name = ? order by table_name",
        [catalog, schema]).fetchall()]
    per_table = {t: table_checksum(con, catalog, schema, t) for t in tables}
    overall = hashlib.sha256(json.dumps(per_table, sort_keys=True).encode()).hexdigest()
    return overall, per_table


# --- the folder layout ---------------------------------------------------------------------------
def releases_dir(published: Path) -> Path:
    return Path(published) / "releases"


def current_release(published: Path) -> Path | None:
    """The current publication's folder (None before the first publication)."""
    link = Path(published) / "current"
    if not link.is_symlink():
        return None
    target = (link.parent / os.readlink(link)).resolve()
    return target if (target / COMPLETE).exists() else None


def current_manifest(published: Path) -> dict | None:
    release = current_release(published)
    if release is None:
        return None
    try:
        return json.loads((release / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def published_checksum(published: Path) -> str | None:
    manifest = current_manifest(published)
    return manifest.get("checksum") if manifest else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _fsync(path)
    for path in sorted([p for p in folder.rglob("*") if p.is_dir()] + [folder], key=lambda p: -len(p.parts)):
        _fsync(path)


def _symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` atomically (a new link renamed over the old name)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.link")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def _trash(path: Path) -> None:
    """Remove a folder so that no half-deleted copy stays visible: rename first, then delete."""
    trash = path.with_name(f".trash-{path.name}")
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)


def recover(published: Path) -> list[str]:
    """Finish or undo what a crashed publish left: half-written release folders, trash, temporary
    links. Returns what it removed (for the run's notes)."""
    published = Path(published)
    removed = []
    releases = releases_dir(published)
    for path in [*(releases.glob(".*") if releases.exists() else []), *published.glob(".trash-*"),
                 *published.glob(".*.link"), *published.glob(".bilateral.duckdb.*.tmp*")]:
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(str(path))
    current = current_release(published)
    for path in (releases.iterdir() if releases.exists() else []):
        never_switched = current is not None and path.name > current.name  # the switch always goes to the newest
        if path.is_dir() and path != current and (never_switched or not (path / COMPLETE).exists()):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def _stable_links(published: Path) -> None:
    """``bilateral.duckdb``, ``parquet`` and ``site`` point through ``current``; an older layout (a
    plain file and a folder of Parquet versions) is replaced, the file atomically."""
    for name, target in (("bilateral.duckdb", "current/bilateral.duckdb"), ("parquet", "current/parquet"),
                         ("site", f"current/{SITE}")):
        path = published / name
        if path.is_symlink() and os.readlink(path) == target:
            continue
        if path.is_dir() and not path.is_symlink():
            _trash(path)
        _symlink(path, target)


def _prune(published: Path, keep: int = KEEP_RELEASES) -> None:
    releases = sorted(p for p in releases_dir(published).iterdir() if p.is_dir() and not p.name.startswith("."))
    current = current_release(published)
    protected = {current} | ({releases[releases.index(current) - 1]} if current in releases and releases.index(current) else set())
    for old in releases[:-keep]:
        if old not in protected:
            marker("publish:pruning")
            _trash(old)


# --- writing a publication -----------------------------------------------------------------------
def _copy_comments(con: duckdb.DuckDBPyConnection, table: str) -> None:
    comment = con.execute("select comment from duckdb_tables() where database_name = 'wh' and schema_name = 'marts' "
                          "and table_name = ?", [table]).fetchone()
    if comment and comment[0]:
        con.execute(f"comment on table out.marts.{_q(table)} is {_sql_str(comment[0])}")
    for col, text in con.execute("select column_name, comment from duckdb_columns() where database_name = 'wh' "
                                 "and schema_name = 'marts' and table_name = ? and comment is not null", [table]).fetchall():
        con.execute(f"comment on column out.marts.{_q(table)}.{_q(col)} is {_sql_str(text)}")


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[dict]:
    return [{"name": c, "type": t, "description": d or ""} for c, t, d in con.execute(
        "select column_name, data_type, comment from duckdb_columns() where database_name = 'wh' "
        "and schema_name = 'marts' and table_name = ? order by column_index", [table]).fetchall()]


def _write_duckdb(con: duckdb.DuckDBPyConnection, path: Path, run_id: str, published_at, checksum: str,
                  per_table: dict[str, tuple[int, str]]) -> None:
    con.execute(f"attach {_sql_str(str(path))} as out (storage_version '{STORAGE_VERSION}')")
    con.execute("create schema out.marts")
    con.execute("create schema out.meta")
    for table in per_table:
        con.execute(f"create table out.marts.{_q(table)} as select * from wh.marts.{_q(table)}")
        _copy_comments(con, table)
    con.execute("create table out.meta.publication as select ? as run_id, ? as published_at, ? as checksum, "
                "? as storage_version", [run_id, published_at, checksum, STORAGE_VERSION])
    con.execute("create table out.meta.tables (table_name varchar, row_count bigint, checksum varchar, description varchar)")
    for table, (rows, digest) in per_table.items():
        desc = con.execute("select comment from duckdb_tables() where database_name = 'out' and schema_name = 'marts' "
                           "and table_name = ?", [table]).fetchone()[0]
        con.execute("insert into out.meta.tables values (?, ?, ?, ?)", [table, rows, digest, desc])
    con.execute("detach out")


def _write_parquet(con: duckdb.DuckDBPyConnection, folder: Path, run_id: str, checksum: str, tables: list[str]) -> None:
    folder.mkdir()
    for table in tables:
        meta = {"bilateral_run_id": run_id, "bilateral_checksum": checksum, "bilateral_table": table,
                "bilateral_columns": json.dumps({c["name"]: c["description"] for c in _columns(con, table)})}
        kv = ", ".join(f"{k}: {_sql_str(v)}" for k, v in meta.items())
        con.execute(f"copy (select * from wh.marts.{_q(table)}) to {_sql_str(str(folder / f'{table}.parquet'))} "
                    f"(format parquet, compression zstd, kv_metadata {{{kv}}})")


def manifest_extras(con: duckdb.DuckDBPyConnection, run_id: str, tables: list[str]) -> dict:
    """What file readers need beside the tables: sample or real data, and each table's data period."""
    return {**publication_kind(con, run_id),
            "periods": {t: period for t in tables if (period := data_period(con, t))}}


def _failure(exc: BaseException, path: Path, action: str, published: Path) -> BilateralError:
    """What a failed publish says: a storage fault names the path and what to do, anything else is
    a PublishError; both say readers still see the current publication."""
    current = current_release(published)
    untouched = f"readers still see {current.name if current else 'no publication yet'}, untouched"
    fault = storage_fault(exc, path, action)
    if fault is not None:
        return StorageError(fault.path, fault.action, fault.reason, f"{fault.todo}; {untouched}")
    return PublishError(f"publishing failed while trying to {action} {path} ({type(exc).__name__}: {exc}); {untouched}")


def _has_site(published: Path) -> bool:
    current = current_release(published)
    return current is not None and (current / SITE / "index.html").is_file()


def _write_site(site: SiteWriter, staging: Path, con: duckdb.DuckDBPyConnection, run_id: str, published: Path) -> None:
    """The report site into the release being written; any failure is a PublishError (the release is
    then never switched to)."""
    try:
        site(staging, con, run_id)
    except (duckdb.Error, OSError):
        raise
    except Exception as exc:  # noqa: BLE001 - a chart or page that cannot be made: the publish fails cleanly
        current = current_release(published)
        raise PublishError(f"building the report site in {staging / SITE} failed ({type(exc).__name__}: {exc}); "
                           f"readers still see {current.name if current else 'no publication yet'}, untouched") from None


def publish(db_path: Path, published_dir: Path, run_id: str, site: SiteWriter | None = None) -> PublishReport:
    """Publish the working warehouse's marts; ``site`` writes the report site into the new release."""
    published = Path(published_dir)
    releases = releases_dir(published)
    try:
        releases.mkdir(parents=True, exist_ok=True)
        recover(published)
    except OSError as exc:
        raise _failure(exc, releases, "prepare the publication folder", published) from None
    con = duckdb.connect()
    staging = releases / f".{run_id}.tmp"
    final = releases / run_id
    try:
        con.execute(f"attach {_sql_str(str(Path(db_path).resolve()))} as wh (read_only)")
        checksum, per_table = content_checksum(con, "wh")
        if not per_table:
            raise PublishError(f"no tables in schema marts of {db_path}; nothing to publish (did dbt build run?)")
        tables = {t: rows for t, (rows, _) in per_table.items()}
        if published_checksum(published) == checksum and (site is None or _has_site(published)):
            _stable_links(published)
            current = current_release(published)
            return _pruned(published, PublishReport(False, True, checksum, tables, str(published / "bilateral.duckdb"),
                                                    str(published / "parquet"), current.name if current else ""))
        marker("publish:writing")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        published_at = utcnow()
        _write_duckdb(con, staging / "bilateral.duckdb", run_id, published_at, checksum, per_table)
        _write_parquet(con, staging / "parquet", run_id, checksum, list(per_table))
        manifest = {"run_id": run_id, "published_at": published_at.isoformat(), "checksum": checksum,
                    "storage_version": STORAGE_VERSION,
                    "tables": {t: {"rows": rows, "checksum": digest, "columns": _columns(con, t)}
                               for t, (rows, digest) in per_table.items()}}
        manifest.update(manifest_extras(con, run_id, list(per_table)))
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
        if site is not None:
            _write_site(site, staging, con, run_id, published)
        (staging / COMPLETE).write_text(f"{run_id}\n")
    except (duckdb.Error, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _failure(exc, staging, "write the new publication", published) from None
    except PublishError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        con.close()
    try:
        _fsync_tree(staging)
        if final.exists():
            _trash(final)
        os.replace(staging, final)
        _fsync(releases)
        marker("publish:release_written")
        _symlink(published / "current", f"releases/{run_id}")  # the one switch
        _fsync(published)
        marker("publish:switched")
        _stable_links(published)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _failure(exc, final, "switch readers to", published) from None
    report = PublishReport(True, False, checksum, tables, str(published / "bilateral.duckdb"),
                           str(published / "parquet"), run_id)
    report.site_path = str(published / SITE / "index.html") if (final / SITE).is_dir() else ""
    return _pruned(published, report)


def _pruned(published: Path, report: PublishReport) -> PublishReport:
    """Prune old publications; a failure is a note (the current publication is complete either way)."""
    try:
        _prune(published)
    except OSError as exc:
        report.notes.append(f"[publish] old publications were not pruned ({type(exc).__name__}: {exc}); "
                            "the next publish tries again")
    return report
