"""Load landed files into append-only ``raw`` tables, record by record, idempotent by content hash.

Files of one kind (and the same load parameters) are parsed together by DuckDB into temporary
tables (flows/sources/loadspec.py), one statement per batch of at most ``warehouse.load_batch_mb``
landed bytes (flows/load_batches.py): a batch is parsed and checked, its parse tables dropped, before
the next is parsed, so memory is bounded by a batch (plus the checked records of the partitions
being stored), not by the night. Records that break the record
contract go to ``quarantine.<raw_table>`` with the file, the record number, the rule and the
record's own text; the file's valid records load. A file is refused whole only when it cannot be
read at all (not JSON, a truncated or changed envelope) or when its share of bad records passes its
source's ``max_bad_record_share`` (default 1%), which signals format drift rather than bad records;
the refusal is itself a quarantine entry (record_no null), so it is listed and can be released after
a fix. One bad record costs one record, not the file, and never a later night. Fields the record
contract does not know (a new or renamed field, the spec's ``unknown_fields``) are noted, and named
in a refusal.

A file whose sha256 is already in ``audit.loaded_files`` for its raw table is not loaded again, so
re-running a night stores nothing twice; it is still recorded in ``audit.landed_files``, the
observation log by which staging resolves "latest answer wins" (a revision back to an earlier
answer sticks).

Each extracted partition is stored whole or not at all. Partitions are taken in windows of at most
one batch of bytes; a window's files are parsed and checked first (no transaction is open then: a
file DuckDB cannot read fails its own statement, never a partition's transaction), then the window's
partitions are stored in one transaction (all of them or none), then the window is dropped. A
partition larger than a batch (GDELT: one partition of a day's 96 files, or more) is a window of its
own, parsed in several batches whose checked records (for GDELT only the configured pairs' events)
accumulate until its window's transaction stores them. A failure while a window is parsed or
stored leaves its partitions as they were; earlier windows' partitions stay
stored (their transactions committed), and a re-run skips them by content hash.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from flows import load_batches, progress
from flows.landing import LandedFile
from flows.sources import load_specs
from flows.sources.base import ExtractResult
from flows.sources.loadspec import LoadSpec, literal
from flows.run_markers import marker
from flows.storage import storage_fault
from flows.warehouse import RAW_META_COLUMNS, connect, utcnow

DEFAULT_MAX_BAD_SHARE = 0.01


@dataclass(frozen=True)
class FileRefusal:
    """A landed file refused whole: nothing of it loaded; it is listed in quarantine."""

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
    quarantined_by_source: dict[str, int] = field(default_factory=dict)
    failures: list[FileRefusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def rows_quarantined(self) -> int:
        return sum(self.quarantined_by_source.values())


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


class _Batch:
    """Files of one kind and one set of load parameters, parsed and checked together."""

    def __init__(self, con: duckdb.DuckDBPyConnection, n: int, spec: LoadSpec, files: list[LandedFile],
                 run_date: date, shares: dict[str, float]) -> None:
        self.con, self.spec, self.files, self.run_date, self.shares = con, spec, files, run_date, shares
        self.parsed, self.kept, self.bad, self.ready = (f"_load_{n}_{x}" for x in ("parsed", "kept", "bad", "ready"))
        self.rejects, self.scans, self.split = f"_load_{n}_rejects", f"_load_{n}_scans", f"_load_{n}_split"
        self.strict = True  # {store_rejects} empty: a scan that fails on a bad line is repeated storing rejects
        self.refused: dict[str, str] = {}  # file -> why
        self.unknown: dict[str, list[str]] = {}  # file -> fields its records carry that the contract does not know

    def sql(self, text: str, files: list[LandedFile] | None = None) -> str:
        files = files if files is not None else self.files
        store = "" if self.strict else ", store_rejects=true, rejects_table={rejects}, rejects_scan={rejects_scan}"
        text = (text.replace("{store_rejects}", store).replace("{parsed}", self.kept).replace("{split}", self.split).replace("{rejects}", f"'{self.rejects}'")
                .replace("{rejects_scan}", f"'{self.scans}'")
                .replace("{files}", literal([f.path for f in files]))
                .replace("{file}", literal(files[0].path) if files else "''"))
        return self.spec.render(text, {**self.files[0].load_params, "run_date": self.run_date.isoformat()})

    def _exists(self, table: str) -> bool:
        return bool(self.con.execute("select count(*) from duckdb_tables() where table_name = ?", [table]).fetchone()[0])

    def prepare(self) -> None:
        """Parse, number, check; decide which files are refused; leave good and bad records in tables."""
        self._parse()
        if self.spec.keep_in_parse:  # the parse's per-file rows: all its records, the first one's _k
            self.con.execute(f"create or replace temp table {self.parsed}_files as "
                             f"select _file, _k as first_k, _n as n from {self.parsed} where _n is not null")
            self.con.execute(f"delete from {self.parsed} where _n is not null")
        if self.spec.csv_rejects:
            self._number_lines()
        self._check()
        self._refuse_drift()
        self._find_unknown_fields()
        cols = ", ".join(f'"{c}"' for c in self.spec.columns)
        self.con.execute(f"""
            create or replace temp table {self.ready} as
            select _file, {cols} from {self.kept} as k
            where not exists (select 1 from {self.bad} as b where b._file = k._file and b.record_no = k.record_no)""")

    def _parse_files(self, files: list[LandedFile], create: bool) -> None:
        """``parse_sql`` over ``files`` (after ``split_sql``, when the spec has one) into the parse table."""
        if self.spec.split_sql:  # in the scan's order (the default), so that a parse may number rows by rowid
            self.con.execute("set preserve_insertion_order = true")
            self.con.execute(f"create or replace temp table {self.split} as {self.sql(self.spec.split_sql, files)}")
        body = self.sql(self.spec.parse_sql, files)
        self.con.execute(f"create or replace temp table {self.parsed} as {body}" if create else
                         f"insert into {self.parsed} {body}")
        self.con.execute(f"drop table if exists {self.split}")

    def _parse(self) -> None:
        # a CSV line the strict scan cannot parse: the whole batch again, storing such lines as rejects
        for strict in (True, False) if self.spec.csv_rejects else (True,):
            self.strict = strict
            self.drop_parse()
            try:
                self._parse_files(self.files, create=True)
                return
            except duckdb.Error:
                pass
        # a file DuckDB cannot read: parse one by one to name it and keep the others
        self.drop_parse()
        for f in self.files:
            try:
                self._parse_files([f], create=not self._exists(self.parsed))
            except duckdb.Error as exc:
                self.refused[f.path] = f"the file cannot be read as the source's format ({_first_line(exc)})"
        if not self._exists(self.parsed):  # every file unreadable: an empty table of the right shape
            self.con.execute(f"create temp table {self.parsed} as select null::varchar as _file, null::bigint as _k, "
                             "null::varchar as _raw, " + ("null::bigint as _n, " if self.spec.keep_in_parse else "")
                             + ", ".join(f'null::{t} as "{c}"' for c, t in self.spec.columns.items()) + " where false")

    def _number_lines(self) -> None:
        """CSV: the reader keeps file order, so the k-th row of a file is its k-th line the reader did
        not reject; record_no becomes that line number. Rejected lines are structural bad records."""
        if self._exists(self.rejects):
            # DuckDB reports a short line once per missing column ("Found: 1" .. "Found: 60"): the
            # smallest count is the line's; other errors (encoding, casts) are named as DuckDB words them
            rejected = f"""(select s.file_path as _file, e.line,
                                   coalesce('expected ' || max(regexp_extract(e.error_message, 'Expected Number of Columns: (\\d+)', 1))
                                            || ' fields, found ' || min(try_cast(regexp_extract(e.error_message, 'Found: (\\d+)', 1) as integer)),
                                            first(e.error_message order by e.column_idx)) as problem,
                                   first(e.csv_line) as _raw
                            from {self.rejects} as e join {self.scans} as s using (scan_id, file_id)
                            group by s.file_path, e.line)"""
        else:
            rejected = "(select null::varchar as _file, null::bigint as line, null as problem, null as _raw where false)"
        self.con.execute(f"create or replace temp table {self.parsed}_rejected as select * from {rejected}")
        if self.spec.keep_in_parse:
            self._number_kept_lines()
            return
        self.con.execute(f"""
            create or replace temp table {self.parsed} as
            with ordinal as (
                select *, _k - min(_k) over (partition by _file) + 1 as _ord from {self.parsed}),
            counts as (
                select _file, count(*) as accepted from {self.parsed} group by _file),
            lines as (
                select c._file, unnest(range(1, c.accepted + coalesce(r.n, 0) + 1)) as line
                from counts as c
                left join (select _file, count(*) as n from {self.parsed}_rejected group by _file) as r using (_file)),
            good as (
                select l._file, l.line, row_number() over (partition by l._file order by l.line) as _ord
                from lines as l
                where not exists (select 1 from {self.parsed}_rejected as r where r._file = l._file and r.line = l.line))
            select g.line as record_no, o.* exclude (record_no, _k, _ord)
            from ordinal as o join good as g using (_file, _ord)""")

    def _number_kept_lines(self) -> None:
        """Only the kept records are parsed (keep_in_parse): the o-th accepted line of a file is line
        o + the number of rejected lines before it, i.e. of rejected lines r_j (the j-th) with r_j - j < o."""
        self.con.execute(f"""
            create or replace temp table {self.parsed} as
            with rejected as (
                select _file, line - row_number() over (partition by _file order by line) as accepted_before
                from {self.parsed}_rejected),
            ordinal as (
                select p.*, p._k - f.first_k + 1 as _ord from {self.parsed} as p join {self.parsed}_files as f using (_file))
            select o._ord + (select count(*) from rejected as r where r._file = o._file and r.accepted_before < o._ord)
                   as record_no, o.* exclude (record_no, _k, _ord, _n)
            from ordinal as o""")

    def _check(self) -> None:
        keep = f"where {self.sql(self.spec.keep)}" if self.spec.keep else ""
        self.con.execute(f"create or replace temp view {self.kept} as select * from {self.parsed} {keep}")
        files = self.files
        if self.spec.file_checks_if_empty:
            with_records = {r[0] for r in self.con.execute(f"select distinct _file from {self.parsed}").fetchall()}
            files = [f for f in self.files if f.path not in with_records]
        for check in self.spec.file_checks if files else ():
            try:
                for path, problem in self.con.execute(self.sql(check, files)).fetchall():
                    self.refused.setdefault(path, f"changed format: {problem}")
            except duckdb.Error as exc:
                for f in files:
                    self.refused.setdefault(f.path, f"the file's format cannot be checked ({_first_line(exc)})")
        parts = [f"select * from ({self.sql(check)}) as c(_file, record_no, rule, problem)" for check in self.spec.checks]
        union = " union all ".join(parts) or \
            "select null::varchar as _file, null::bigint as record_no, null as rule, null as problem where false"
        structural = (f" union all select _file, line, 'malformed_line', problem, _raw from {self.parsed}_rejected"
                      if self.spec.csv_rejects else "")
        try:
            self.con.execute(f"""
                create or replace temp table {self.bad} as
                with found as ({union}),
                per_record as (
                    select _file, record_no, min(rule) as rule, string_agg(problem, '; ' order by problem) as problem
                    from found group by _file, record_no)
                select b._file, b.record_no, b.rule, b.problem, k._raw as raw_record
                from per_record as b left join {self.kept} as k using (_file, record_no){structural}""")
        except duckdb.Error as exc:
            raise RuntimeError(f"the record checks of load spec {self.spec.kind} fail: {_first_line(exc)}") from exc

    def _find_unknown_fields(self) -> None:
        """Fields the records carry that the record contract does not know: a new or renamed field."""
        if not self.spec.unknown_fields:
            return
        try:
            found = self.con.execute(f"select distinct _file, field from ({self.sql(self.spec.unknown_fields)}) "
                                     "as u(_file, field) order by all").fetchall()
        except duckdb.Error as exc:
            raise RuntimeError(f"the unknown-field check of load spec {self.spec.kind} fails: {_first_line(exc)}") from exc
        for path, name in found:
            self.unknown.setdefault(path, []).append(name)
        for path in self.refused.keys() & self.unknown.keys():  # a refusal names them: a renamed field reads clearly
            self.refused[path] += f"; unknown fields: {', '.join(self.unknown[path])}"

    def _refuse_drift(self) -> None:
        rejected = f"(select _file, count(*) as n from {self.parsed}_rejected group by _file)" if self.spec.csv_rejects \
            else "(select null::varchar as _file, 0 as n where false)"
        totals = self.con.execute(f"""
            with parsed as ({f"select _file, n from {self.parsed}_files" if self.spec.keep_in_parse else
                             f"select _file, count(*) as n from {self.parsed} group by _file"}),
            bad as (select _file, count(*) as n, min(record_no) as first from {self.bad} group by _file)
            select coalesce(p._file, r._file), coalesce(p.n, 0) + coalesce(r.n, 0), coalesce(b.n, 0)
            from parsed as p full join {rejected} as r using (_file) left join bad as b on b._file = coalesce(p._file, r._file)
        """).fetchall()
        by_path = {f.path: f for f in self.files}
        for path, total, n_bad in totals:
            if path not in by_path or path in self.refused or not total:
                continue
            share = self.shares.get(by_path[path].source, DEFAULT_MAX_BAD_SHARE)
            if n_bad / total > share:
                first = self.con.execute(f"select record_no, problem from {self.bad} where _file = ? "
                                         "order by record_no limit 3", [path]).fetchall()
                listed = "; ".join(f"record {n}: {p}" for n, p in first)
                self.refused[path] = (f"{n_bad} of {total} records ({n_bad / total:.1%}) break the record contract, "
                                      f"more than sources.{by_path[path].source}.max_bad_record_share = {share:.1%}: "
                                      f"the format may have changed (first: {listed})")

    def store(self, con: duckdb.DuckDBPyConnection, files: list[LandedFile], run_id: str) -> tuple[int, int]:
        """Inside a partition's transaction: these files' good records into raw, their bad ones into
        quarantine, each file into audit.loaded_files. Returns (rows loaded, rows quarantined)."""
        table = self.spec.raw_table
        cols = ", ".join(f'"{c}"' for c in [*self.spec.columns, *RAW_META_COLUMNS])
        values = ", ".join(f'r."{c}"' for c in self.spec.columns)
        con.execute("create or replace temp table _load_meta (path varchar, sha256 varchar, origin varchar, "
                    "synthetic boolean, source varchar)")
        con.execute("insert into _load_meta values " + ", ".join(["(?, ?, ?, ?, ?)"] * len(files)),
                    [v for f in files for v in (f.path, f.sha256, f.origin, f.synthetic, f.source)])
        now = utcnow()
        loaded = con.execute(f"""
            insert into raw.{table} ({cols})
            select {values}, ?, m.path, m.sha256, ?, m.origin, m.synthetic
            from {self.ready} as r join _load_meta as m on m.path = r._file""", [run_id, now]).fetchone()[0]
        quarantined = con.execute(f"""
            insert into quarantine.{table}
            select substr(md5(? || b._file || coalesce(b.record_no::varchar, 'file') || b.rule), 1, 12), ?, m.source,
                   b._file, m.sha256, b.record_no, b.rule, b.problem, b.raw_record, 'load', 'quarantined', ?, null, ''
            from {self.bad} as b join _load_meta as m on m.path = b._file""", [run_id, run_id, now]).fetchone()[0]
        con.execute(f"""
            insert into audit.loaded_files
            select ?, m.sha256, ?, m.path, coalesce(n.rows, 0), ?
            from _load_meta as m left join (select _file, count(*) as rows from {self.ready} group by _file) as n
                 on n._file = m.path""", [table, run_id, now])
        return int(loaded), int(quarantined)

    def drop_parse(self) -> None:
        """Drop the parse tables; the checked records (``ready``, ``bad``) stay for ``store``."""
        self.con.execute(f"drop view if exists {self.kept}")
        for name in (f"{self.parsed}_rejected", f"{self.parsed}_files", self.parsed, self.rejects, self.scans, self.split):
            self.con.execute(f"drop table if exists {name}")

    def absorb(self, other: "_Batch") -> None:
        """Take over the checked records and verdicts of ``other`` (a later chunk of the same group)."""
        self.con.execute(f"insert into {self.ready} by name select * from {other.ready}")
        self.con.execute(f"insert into {self.bad} by name select * from {other.bad}")
        self.files = [*self.files, *other.files]
        self.refused.update(other.refused)
        self.unknown.update(other.unknown)

    def drop(self) -> None:
        self.drop_parse()
        for name in (self.ready, self.bad):
            self.con.execute(f"drop table if exists {name}")


_LANDED_COLUMNS = ("run_id", "source", "kind", "path", "request_url", "http_status", "bytes", "sha256", "fetched_at",
                   "origin", "synthetic", "status", "problem")


def _record_landed(con: duckdb.DuckDBPyConnection, files: list[LandedFile]) -> None:
    """One statement for a partition's files (a GDELT day has 96): not one per file."""
    if not files:
        return
    now = utcnow()
    rows = [[*(asdict(f)[k] for k in _LANDED_COLUMNS), json.dumps(f.load_params, sort_keys=True), now] for f in files]
    values = ", ".join(["(" + ", ".join(["?"] * (len(_LANDED_COLUMNS) + 2)) + ")"] * len(rows))
    con.execute(f"insert into audit.landed_files ({', '.join(_LANDED_COLUMNS)}, load_params, landed_at) "
                f"values {values}", [v for row in rows for v in row])


def _refuse(con: duckdb.DuckDBPyConnection, spec: LoadSpec, f: LandedFile, run_id: str, problem: str) -> None:
    """The whole file is refused: it stays landed (rejected) and is listed in quarantine."""
    con.execute("update audit.landed_files set status = 'rejected', problem = ? where run_id = ? and path = ?",
                [problem, run_id, f.path])
    if not con.execute(f"select 1 from quarantine.{spec.raw_table} where landed_file = ? and record_no is null "
                       "and status = 'quarantined'", [f.path]).fetchone():
        con.execute(f"insert into quarantine.{spec.raw_table} values "
                    "(substr(md5(? || ? || 'file'), 1, 12), ?, ?, ?, ?, null, 'file_refused', ?, null, 'load', "
                    "'quarantined', ?, null, '')",
                    [run_id, f.path, run_id, f.source, f.path, f.sha256, problem, utcnow()])


def _duplicates(con: duckdb.DuckDBPyConnection, spec: LoadSpec, run_id: str) -> int:
    if not spec.natural_key:
        return 0
    key = ", ".join(f'"{c}"' for c in spec.natural_key)
    return con.execute(f"select coalesce(sum(n - 1), 0) from (select count(*) as n from raw.{spec.raw_table} "
                       f"where _run_id = ? group by {key} having count(*) > 1)", [run_id]).fetchone()[0]


def _unknown_field_notes(results: list[ExtractResult], todo: dict[int, list[LandedFile]],
                         batches: dict[str, _Batch]) -> list[str]:
    """One note per source and raw table naming the fields loaded files carry that their record
    contract does not know: the records loaded without them, the landed files keep them."""
    found: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for i, files in todo.items():
        for f in files:
            batch = batches[f.path]
            if f.path in batch.unknown and f.path not in batch.refused:
                fields, paths = found.setdefault((results[i].source, batch.spec.raw_table), (set(), []))
                fields.update(batch.unknown[f.path])
                paths.append(f.path)
    return [f"[{source}] {len(paths)} file(s) of raw.{table} carry fields its record contract does not know "
            f"(unknown fields: {', '.join(sorted(fields))}; first {paths[0]}): their records loaded without them and "
            f"the landed files keep them; if the source added or renamed a field, update flows/sources/{source}/load.py"
            for (source, table), (fields, paths) in sorted(found.items())]


def _to_load(con: duckdb.DuckDBPyConnection, results: list[ExtractResult], specs: dict[str, LoadSpec],
             report: LoadReport) -> dict[int, list[LandedFile]]:
    """Record every landed file (rejected ones too); return, per result, the files still to load:
    loadable kinds, not loaded before (same content), each identical answer once."""
    todo: dict[int, list[LandedFile]] = {}
    seen: set[tuple[str, str]] = set(con.execute(  # loaded before: one look-up for the night, not one per file
        "select raw_table, sha256 from audit.loaded_files where sha256 in (select unnest(?::varchar[]))",
        [sorted({f.sha256 for r in results for f in r.files if f.sha256})]).fetchall())
    con.execute("begin transaction")  # one commit for the night's observations, not one per partition
    for result in results:
        _record_landed(con, result.files)
    con.execute("commit")
    for i, result in enumerate(results):
        if not result.ok:
            continue
        for f in result.files:
            if f.status != "landed" or f.kind not in specs:
                continue
            key = (specs[f.kind].raw_table, f.sha256)
            if key in seen:
                report.files_skipped += 1
                continue
            seen.add(key)
            todo.setdefault(i, []).append(f)
    return todo


def _groups(files: list[LandedFile], specs: dict[str, LoadSpec]) -> list[tuple[str, list[LandedFile]]]:
    """Files by kind and load parameters (a non-batching kind: one file each), in a stable order."""
    groups: dict[tuple[str, str], list[LandedFile]] = {}
    for f in files:
        single = "" if specs[f.kind].batch else f.path
        groups.setdefault((f.kind, json.dumps(f.load_params, sort_keys=True) + single), []).append(f)
    return [(kind, group) for (kind, _), group in sorted(groups.items())]


class _Window:
    """The batches of one window (flows/load_batches.py): parsed and checked chunk by chunk, each
    chunk's parse tables dropped once its records are checked, so at most one chunk's exist at a time;
    a group's checked records (and refusals) accumulate in its first chunk's batch."""

    def __init__(self, con: duckdb.DuckDBPyConnection, specs: dict[str, LoadSpec], run_date: date,
                 shares: dict[str, float], limit: int, prepared: list[_Batch]) -> None:
        self.con, self.specs, self.run_date, self.shares, self.limit = con, specs, run_date, shares, limit
        self.prepared = prepared  # every batch of the load, so that a failure drops them all

    def prepare(self, files: list[LandedFile]) -> dict[str, _Batch]:
        """Parse and check ``files``; file path -> the batch holding its checked records."""
        by_file: dict[str, _Batch] = {}
        for kind, group in _groups(files, self.specs):
            merged: _Batch | None = None
            for chunk in load_batches.chunks(group, self.limit):
                batch = _Batch(self.con, len(self.prepared), self.specs[kind], chunk, self.run_date, self.shares)
                self.prepared.append(batch)
                batch.prepare()
                batch.drop_parse()
                if merged is None:
                    merged = batch
                else:
                    merged.absorb(batch)
                    batch.drop()
            by_file.update((f.path, merged) for f in group)
        return by_file


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.Error:  # the transaction is already gone (e.g. the write that failed ended it)
        pass


def _store_window(con: duckdb.DuckDBPyConnection, parts: list[tuple[ExtractResult, list[LandedFile]]],
                  batches: dict[str, _Batch], run_id: str, report: LoadReport) -> None:
    """A window's partitions in one transaction: each partition's files' records (or their refusal) and
    its state, all of them or none. One insert per batch for the window's files, and one commit: a
    commit per small partition (a Comtrade reporter-year) wrote each one through the WAL."""
    marker("load:partition")
    loaded: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    con.execute("begin transaction")
    try:
        by_batch: dict[int, list[LandedFile]] = {}
        for _, files in parts:
            for f in files:
                batch = batches[f.path]
                if f.path in batch.refused:
                    _refuse(con, batch.spec, f, run_id, batch.refused[f.path])
                else:
                    by_batch.setdefault(id(batch), []).append(f)
        for group in by_batch.values():
            batch = batches[group[0].path]
            n, q = batch.store(con, group, run_id)
            loaded[batch.spec.raw_table] = loaded.get(batch.spec.raw_table, 0) + n
            if q:
                quarantined[group[0].source] = quarantined.get(group[0].source, 0) + q
        for result, _ in parts:
            for key, value in result.state_updates.items():
                con.execute("insert or replace into audit.source_state values (?, ?, ?, ?, ?)",
                            [result.source, key, value, run_id, utcnow()])
        con.execute("commit")
    except duckdb.Error as exc:
        _rollback(con)
        if storage_fault(exc, "", "") is not None:
            raise  # connect() names the file and what to do
        first, last = parts[0][0], parts[-1][0]
        named = f"{first.source} {first.partition}" + (f" .. {last.source} {last.partition} ({len(parts)} partitions)"
                                                       if len(parts) > 1 else "")
        raise RuntimeError(f"storing partition {named} failed: {_first_line(exc)}; nothing of it was stored "
                           "(partitions stored before it stay; a re-run loads the rest)") from exc
    report.files_loaded += sum(len(g) for g in by_batch.values())
    report.rows_loaded += sum(loaded.values())
    for table, n in loaded.items():
        report.rows_by_table[table] = report.rows_by_table.get(table, 0) + n
    for source, q in quarantined.items():
        report.quarantined_by_source[source] = report.quarantined_by_source.get(source, 0) + q
    for result, files in parts:
        for f in files:
            why = batches[f.path].refused.get(f.path)
            if why:
                f.status, f.problem = "rejected", why
                report.failures.append(FileRefusal(
                    result.source, result.partition, f.path,
                    f"[{result.source} {result.partition}] refused to load {f.path}: {why}; "
                    "the file is kept and listed by `bilateral quarantine`"))
        progress.event("done", step="load", files=len(files))


def load_results(db_path: Path, run_id: str, results: list[ExtractResult], specs: dict[str, LoadSpec] | None = None,
                 run_date: date | None = None, max_bad_share: dict[str, float] | None = None,
                 batch_bytes: int | None = None) -> LoadReport:
    """``batch_bytes``: the landed bytes parsed at a time (default load_batches.DEFAULT_BATCH_MB MB)."""
    specs = load_specs() if specs is None else specs
    limit = batch_bytes or load_batches.DEFAULT_BATCH_MB * load_batches.MB
    report = LoadReport()
    prepared: list[_Batch] = []
    batches: dict[str, _Batch] = {}
    with connect(db_path) as con:
        try:
            todo = _to_load(con, results, specs, report)
            window = _Window(con, specs, run_date or date.today(), max_bad_share or {}, limit, prepared)
            progress.event("planned", step="load", unit="partitions", total=sum(r.ok for r in results))
            sizes = [(i, sum(f.bytes or 0 for f in todo.get(i, []))) for i, r in enumerate(results) if r.ok]
            for run in load_batches.windows(sizes, limit):
                held = len(prepared)
                batches.update(window.prepare([f for i in run for f in todo.get(i, [])]))
                _store_window(con, [(results[i], todo.get(i, [])) for i in run], batches, run_id, report)
                for batch in prepared[held:]:
                    batch.drop()
            report.notes.extend(_unknown_field_notes(results, todo, batches))
            loaded = {batches[f.path].spec.kind: results[i].source for i, files in todo.items() for f in files}
            for kind, source in sorted(loaded.items()):
                dup = _duplicates(con, specs[kind], run_id)
                if dup:
                    report.notes.append(f"[{source}] {dup} record(s) of raw.{specs[kind].raw_table} repeat a natural key "
                                        f"({', '.join(specs[kind].natural_key)}) within tonight's answers; "
                                        "the latest answer wins")
        finally:
            for batch in prepared:
                batch.drop()
    return report
