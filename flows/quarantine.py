"""Records bilateral refused, and what a user can do about them.

``quarantine.<raw_table>`` holds one row per refused record (or, with record_no null, per refused
file): refused at load (the record never reached raw; its own text is kept) or by validation (a
raw-batch suite's failed expectation named it; it stays in raw, and staging leaves it out). A row is
``quarantined`` until someone ``release``-s it (re-admitted: staging reads it again; a record
refused at load is loaded from its landed file) or ``drop``-s it (discarded for good). Nothing
quarantined ever reaches a mart, and no later night can publish it by accident.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from flows.landing import LandedFile
from flows.sources import load_specs
from flows.warehouse import RAW_META_COLUMNS, connect, utcnow

COLUMNS = ["quarantine_id", "source", "raw_table", "run_id", "status", "rule", "refused_by", "landed_file",
           "record_no", "problem", "raw_record", "quarantined_at", "resolved_at"]


class QuarantineError(ValueError):
    """A release or drop that cannot be done: the message says which id and why."""


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'quarantine' "
                                      "order by table_name").fetchall()]


def _union(con: duckdb.DuckDBPyConnection) -> str:
    parts = [f"select *, '{t}' as raw_table from quarantine.{t}" for t in _tables(con)]
    return " union all ".join(parts) or ("select null as quarantine_id, null as source, null as raw_table, "
                                         "null as status where false")


def refuse_validated(db: Path, run_id: str, suites: list) -> int:
    """Quarantine what failed raw-batch suites named (``validation.SuiteResult.refused``), with the
    suite and expectation that refused it. Returns the number of new quarantine rows."""
    added = 0
    with connect(db) as con:
        for suite in suites:
            table = suite.quarantine
            for r in suite.refused if table else []:
                by = f"validation: {suite.suite} / {r['expectation']}" + (f" ({r['column']})" if r.get("column") else "")
                record = con.execute(f"select _run_id, _file_sha256, t::varchar from raw.{table} as t "
                                     "where _landed_file = ? and (record_no = ? or ? is null) limit 1",
                                     [r["landed_file"], r["record_no"], r["record_no"]]).fetchone()
                source = con.execute("select source from audit.landed_files where path = ? limit 1",
                                     [r["landed_file"]]).fetchone()
                if record is None or source is None or con.execute(
                        f"select 1 from quarantine.{table} where landed_file = ? and record_no is not distinct from ? "
                        "and status = 'quarantined'", [r["landed_file"], r["record_no"]]).fetchone():
                    continue
                whole = r["record_no"] is None
                con.execute(f"insert into quarantine.{table} values (substr(md5(? || ? || coalesce(?::varchar, 'file') "
                            "|| ?), 1, 12), ?, ?, ?, ?, ?, ?, ?, ?, ?, 'quarantined', ?, null, '')",
                            [run_id, r["landed_file"], r["record_no"], by, run_id, source[0], r["landed_file"],
                             record[1], r["record_no"], "batch_refused" if whole else "refused_by_validation",
                             f"{r['expectation']} failed" + (f" on column {r['column']}" if r.get("column") else ""),
                             None if whole else record[2], by, utcnow()])
                added += 1
    return added


def counts(db: Path, run_id: str | None = None) -> dict[str, dict[str, int]]:
    """Quarantined rows per source: {'tonight': n (of ``run_id``), 'total': n still quarantined}."""
    out: dict[str, dict[str, int]] = {}
    if not Path(db).exists():
        return out
    with connect(db, read_only=True) as con:
        if not _tables(con):
            return out
        for source, tonight, total in con.execute(
                f"select source, count(*) filter (where run_id = ?), count(*) filter (where status = 'quarantined') "
                f"from ({_union(con)}) group by source order by source", [run_id or ""]).fetchall():
            out[source] = {"tonight": int(tonight), "total": int(total)}
    return out


def rows(db: Path, source: str | None = None, rule: str | None = None, run: str | None = None,
         status: str | None = "quarantined", limit: int = 1000) -> tuple[list[str], list[tuple]]:
    """Quarantine rows, newest first, filtered by source, rule, run and status (None: any)."""
    with connect(db, read_only=True) as con:
        filters, params = [], []
        for column, value in (("source", source), ("rule", rule), ("run_id", run), ("status", status)):
            if value:
                filters.append(f"{column} = ?")
                params.append(value)
        where = f"where {' and '.join(filters)}" if filters else ""
        cur = con.execute(f"select {', '.join(COLUMNS)} from ({_union(con)}) {where} "
                          f"order by quarantined_at desc, landed_file, record_no limit {int(limit)}", params)
        return [d[0] for d in cur.description], cur.fetchall()


@dataclass
class _Entry:
    quarantine_id: str
    table: str
    status: str
    refused_by: str
    landed_file: str
    record_no: int | None
    rule: str


def _find(con: duckdb.DuckDBPyConnection, ids: list[str]) -> list[_Entry]:
    found = {}
    for table in _tables(con):
        for row in con.execute(f"select quarantine_id, status, refused_by, landed_file, record_no, rule "
                               f"from quarantine.{table} where quarantine_id in (select unnest(?))", [ids]).fetchall():
            found[row[0]] = _Entry(row[0], table, *row[1:])
    missing = [i for i in ids if i not in found]
    if missing:
        raise QuarantineError(f"no quarantined record with id {', '.join(missing)}; `bilateral quarantine` lists them")
    return [found[i] for i in ids]


def drop(db: Path, ids: list[str]) -> list[str]:
    """Discard quarantined records for good (they stay listed, status dropped)."""
    with connect(db) as con:
        entries = _find(con, ids)
        for e in entries:
            if e.status != "quarantined":
                raise QuarantineError(f"{e.quarantine_id} is {e.status}, not quarantined; nothing changed")
        for e in entries:
            con.execute(f"update quarantine.{e.table} set status = 'dropped', resolved_at = ? where quarantine_id = ?",
                        [utcnow(), e.quarantine_id])
    return [f"dropped {e.quarantine_id} ({e.table}, {e.landed_file} record {e.record_no})" for e in entries]


def release(db: Path, ids: list[str], run_date: date | None = None) -> list[str]:
    """Re-admit quarantined records: a record refused by validation is read by staging again; a
    record refused at load is loaded from its landed file now (a refused file: its valid records,
    whatever its bad share; its bad ones are quarantined one by one). Takes effect at the next run's
    dbt build. Refuses (QuarantineError, nothing changed) what cannot be parsed into its raw table."""
    specs = {spec.raw_table: spec for spec in load_specs().values()}
    messages = []
    with connect(db) as con:
        entries = _find(con, ids)
        for e in entries:
            if e.status != "quarantined":
                raise QuarantineError(f"{e.quarantine_id} is {e.status}, not quarantined; nothing changed")
            if e.refused_by == "load" and e.rule == "malformed_line":
                raise QuarantineError(f"{e.quarantine_id}: line {e.record_no} of {e.landed_file} does not parse into "
                                      f"raw.{e.table} (malformed line); it cannot be released: drop it, or fix the "
                                      "source's load spec and reload the file")
        for e in entries:
            if e.refused_by == "load":
                n = _load_refused(con, specs[e.table], e, run_date or date.today())
                messages.append(f"released {e.quarantine_id}: {n} record(s) of {e.landed_file} loaded into raw.{e.table}")
            else:
                messages.append(f"released {e.quarantine_id}: staging reads {e.landed_file} "
                                f"{'record ' + str(e.record_no) if e.record_no is not None else '(whole file)'} again")
            con.execute(f"update quarantine.{e.table} set status = 'released', resolved_at = ? where quarantine_id = ?",
                        [utcnow(), e.quarantine_id])
    return messages


def _load_refused(con: duckdb.DuckDBPyConnection, spec, e: _Entry, run_date: date) -> int:
    """Load a record (or a refused file's valid records) refused at load from its landed file."""
    from flows.loading import _Batch

    landed = con.execute("select run_id, source, kind, path, request_url, http_status, bytes, sha256, fetched_at, "
                         "origin, synthetic, load_params from audit.landed_files where path = ? "
                         "order by fetched_at desc limit 1", [e.landed_file]).fetchone()
    if landed is None or not Path(e.landed_file).exists():
        raise QuarantineError(f"{e.quarantine_id}: the landed file {e.landed_file} is gone; it cannot be released")
    f = LandedFile(
        run_id=landed[0], source=landed[1], kind=landed[2], path=landed[3], request_url=landed[4],
        http_status=landed[5], bytes=landed[6], sha256=landed[7], fetched_at=str(landed[8]), origin=landed[9],
        synthetic=landed[10], load_params=json.loads(landed[11]) if landed[11] else {})
    batch = _Batch(con, 999, spec, [f], run_date, {f.source: 1.0})
    try:
        batch.prepare()
        cols = ", ".join(f'"{c}"' for c in [*spec.columns, *RAW_META_COLUMNS])
        values = ", ".join(f'"{c}"' for c in spec.columns)
        wanted = "" if e.record_no is None else f" and record_no = {int(e.record_no)}"
        source = batch.kept if e.record_no is not None else batch.ready
        already = f"(select record_no from raw.{spec.raw_table} where _landed_file = ?)"
        n = con.execute(f"insert into raw.{spec.raw_table} ({cols}) select {values}, ?, ?, ?, ?, ?, ? from {source} "
                        f"where _file = ?{wanted} and record_no not in {already}",
                        [f"release-{e.quarantine_id}", f.path, f.sha256, utcnow(), f.origin, f.synthetic, f.path,
                         f.path]).fetchone()[0]
        if e.record_no is None:  # a refused file: its bad records go to quarantine one by one
            con.execute(f"""insert into quarantine.{spec.raw_table}
                select substr(md5(? || _file || coalesce(record_no::varchar, 'file') || rule), 1, 12), ?, ?, _file, ?,
                       record_no, rule, problem, raw_record, 'load', 'quarantined', ?, null, 'found on release'
                from {batch.bad}
                where record_no not in (select record_no from quarantine.{spec.raw_table}
                                        where landed_file = ? and record_no is not null)""",
                        [e.quarantine_id, f"release-{e.quarantine_id}", f.source, f.sha256, utcnow(), f.path])
        if not con.execute("select 1 from audit.loaded_files where raw_table = ? and sha256 = ?",
                           [spec.raw_table, f.sha256]).fetchone():
            con.execute("insert into audit.loaded_files values (?, ?, ?, ?, ?, ?)",
                        [spec.raw_table, f.sha256, f"release-{e.quarantine_id}", f.path, n, utcnow()])
        return int(n)
    finally:
        batch.drop()
