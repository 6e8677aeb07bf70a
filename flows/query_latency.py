"""Query latency on the published file: p50/p95 of the queries analysts and the report site run.

``python -m flows.query_latency [--db PATH] [--scale 10] [--repeat 20]`` runs every README ```sql
block and every ``flows/report/queries/*.sql`` (skipped when that folder is absent) on

- the published file as it is (the sample night's size), and
- a generated copy ``--scale`` times as big: the published file copied to a scratch folder and
  every mart with a country key grown to ``scale`` times its rows by copies whose country keys
  (``*_iso3``, ``pair``, ``country_a``/``_b``, ...) get a suffix (``CAN~1``): ten times the rows to
  scan, the same rows matching the queries' country filters (a join of two grown marts on their keys
  also matches copy to copy, so it returns more rows). The scratch copy is deleted afterwards.

Each query runs once to warm up, then ``--repeat`` times on one read-only connection with the
settings of ``flows.readonly`` (what a BI client gets). Prints one table: query, rows, p50 and p95
in milliseconds per size, and whether p95 is under the target (``--target-ms``, 100). Exit codes:
0 measured (1 with ``--strict`` when a p95 is over the target), 1 a query failed, 2 bad arguments
or no published file.
"""
from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flows.example_queries import PROJECT_ROOT, README, REPORT_QUERIES, Query, readme_blocks, report_queries
from flows.readonly import connect_read_only

DEFAULT_DB = PROJECT_ROOT / "warehouse" / "published" / "bilateral.duckdb"
TARGET_MS = 100.0
#: the columns that carry a country key; copies get a suffix on them so they match no filter
KEY_COLUMNS = ("reporter_iso3", "partner_iso3", "importer_iso3", "exporter_iso3", "imposing_iso3", "target_iso3",
               "pair", "country_a", "country_b", "source_country", "target_country", "country_iso3")


@dataclass
class Timing:
    query: str
    rows: int
    p50_ms: float
    p95_ms: float


class QueryFailed(Exception):
    """A query of the set failed: which one, and DuckDB's error."""

    def __init__(self, query: str, error: duckdb.Error) -> None:
        super().__init__(f"{query}: {type(error).__name__}: {error}")
        self.query = query


def percentile(samples: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank on the sorted samples)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def measure(db: Path, queries: list[Query], repeat: int) -> list[Timing]:
    """Time each query ``repeat`` times (after one warm-up run) on one locked read-only connection."""
    out = []
    with connect_read_only(db) as con:
        for query in queries:
            try:
                rows = len(con.execute(query.sql, query.params or None).fetchall())
            except duckdb.Error as exc:
                raise QueryFailed(query.name, exc) from None
            samples = []
            for _ in range(repeat):
                start = time.perf_counter()
                con.execute(query.sql, query.params or None).fetchall()
                samples.append((time.perf_counter() - start) * 1000)
            out.append(Timing(query.name, rows, statistics.median(samples), percentile(samples, 95)))
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scaled_copy(source: Path, dest: Path, factor: int) -> dict[str, int]:
    """Copy ``source`` to ``dest`` and grow each ``marts`` table with a country key to ``factor``
    times its rows (copies with suffixed keys). Returns the new row count per grown table."""
    shutil.copyfile(Path(source).resolve(), dest)
    grown = {}
    con = duckdb.connect(str(dest))
    try:
        tables = con.execute("select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()
        for (table,) in tables:
            cols = con.execute("select column_name, data_type from duckdb_columns() where schema_name = 'marts' "
                               "and table_name = ? order by column_index", [table]).fetchall()
            keys = [c for c, t in cols if c in KEY_COLUMNS and t == "VARCHAR"]
            if not keys:
                continue
            ref = f"marts.{_q(table)}"
            select = ", ".join(f"{_q(c)} || '~' || k.i" if c in keys else _q(c) for c, _ in cols)
            con.execute(f"insert into {ref} select {select} from {ref}, range(1, {int(factor)}) as k(i)")
            grown[table] = con.execute(f"select count(*) from {ref}").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return grown


def render(sizes: dict[str, list[Timing]], target_ms: float) -> str:
    names = list(sizes)
    header = ["query"] + [f"{n} {h}" for n in names for h in ("rows", "p50 ms", "p95 ms")] + [f"p95 < {target_ms:g} ms"]
    lines = []
    for i, timing in enumerate(sizes[names[0]]):
        row = [timing.query]
        ok = True
        for n in names:
            t = sizes[n][i]
            row += [str(t.rows), f"{t.p50_ms:.1f}", f"{t.p95_ms:.1f}"]
            ok = ok and t.p95_ms < target_ms
        lines.append(row + ["yes" if ok else "NO"])
    widths = [max(len(r[c]) for r in [header, *lines]) for c in range(len(header))]
    fmt = lambda r: "  ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, lines)])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flows.query_latency",
                                description="p50/p95 latency of the README and report queries on the published file")
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help=f"the published file (default {DEFAULT_DB})")
    p.add_argument("--scale", type=int, default=10, help="also measure a generated copy this many times as big "
                   "(default 10; 1 = only the file as it is)")
    p.add_argument("--repeat", type=int, default=20, help="timed runs per query (default 20)")
    p.add_argument("--target-ms", type=float, default=TARGET_MS, help="p95 target in ms (default 100)")
    p.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    p.add_argument("--queries-dir", type=Path, default=REPORT_QUERIES, help=argparse.SUPPRESS)
    p.add_argument("--strict", action="store_true", help="exit 1 when a p95 is over the target")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1 or args.scale < 1:
        print(f"query_latency: --repeat and --scale must be 1 or more (got {args.repeat}, {args.scale})", file=sys.stderr)
        return 2
    if not Path(args.db).exists():
        print(f"query_latency: no published file at {args.db}; run `./bilateral run --sample` first or pass "
              "--db PATH", file=sys.stderr)
        return 2
    queries = readme_blocks(args.readme) + report_queries(args.queries_dir)
    if not Path(args.queries_dir).is_dir():
        print(f"query_latency: {args.queries_dir} not found; measuring the README queries only", file=sys.stderr)
    if not queries:
        print(f"query_latency: no queries found in {args.readme} or {args.queries_dir}", file=sys.stderr)
        return 2
    sizes: dict[str, list[Timing]] = {}
    try:
        sizes["sample"] = measure(args.db, queries, args.repeat)
        if args.scale > 1:
            with tempfile.TemporaryDirectory(prefix="bilateral-latency-") as scratch:
                big = Path(scratch) / "bilateral.duckdb"
                grown = scaled_copy(args.db, big, args.scale)
                print(f"query_latency: {args.scale}x copy: " + ", ".join(f"{t} {n:,} rows" for t, n in grown.items()),
                      file=sys.stderr)
                sizes[f"{args.scale}x"] = measure(big, queries, args.repeat)
    except QueryFailed as exc:
        print(f"query_latency: a query failed on {args.db}: {exc}; fix the query (README.md or "
              f"{args.queries_dir}) or republish", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(f"query_latency: could not read {args.db}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(render(sizes, args.target_ms))
    over = [t.query for timings in sizes.values() for t in timings if t.p95_ms >= args.target_ms]
    print(f"\n{len(queries)} queries x {len(sizes)} sizes, {args.repeat} runs each; "
          + (f"p95 over {args.target_ms:g} ms: {sorted(set(over))}" if over else f"every p95 under {args.target_ms:g} ms"))
    return 1 if over and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
