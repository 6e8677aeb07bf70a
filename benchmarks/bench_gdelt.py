"""Benchmark: bilateral's GDELT events path against DuckDB's bare read_csv, on generated export files.

    .venv/bin/python benchmarks/bench_gdelt.py [--day-files 96] [--month-files 2880] [--rows-per-file 1736]

1. Generates full-stream-like 15-minute export files (61 tab-separated fields, ~40 actor countries of
   which CAN/CHN/USA pairs are a few percent, like the real stream) as zips with a master list, served
   by a local HTTP server on 127.0.0.1.
2. "day" (throughput): in a child process, bilateral's connector downloads, MD5-checks and
   stream-unzips every file (extract + land), then flows.loading.load_results loads them (DuckDB
   read_csv + pair filter, per file, one transaction); then, in the same run, DuckDB's bare read_csv
   of the same landed CSVs (all rows into a table, and a plain count). Prints rows/s and MB/s.
3. "month" (memory): the same bilateral path on a generated month (~5M events, 2880 files) in a
   child process; prints its peak RSS (target < 1 GB).

Not part of the test suite: it writes GBs to a temp dir and takes minutes.
"""
from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ACTORS = ["USA", "CHN", "CAN", "GBR", "RUS", "IND", "FRA", "DEU", "JPN", "ISR", "IRN", "UKR", "PAK", "AUS", "MEX",
          "BRA", "TUR", "KOR", "PRK", "SAU", "SYR", "AFG", "IRQ", "EGY", "NGA", "ZAF", "ITA", "ESP", "PHL", "IDN",
          "EUR", "AFR", "ASA", "MEA", "WSB", "GZS", "", "", "", ""]


def generate(out: Path, n_files: int, rows: int, start: datetime) -> tuple[int, int]:
    """Write n_files export zips (+ masterfilelist.txt, lastupdate.txt) into out; return (rows, csv bytes)."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("create table actors as select unnest(?::varchar[]) as code, generate_subscripts(?::varchar[], 1) - 1 as i",
                [ACTORS, ACTORS])
    n_act = len(ACTORS)
    lines, total_rows, total_bytes = [], 0, 0
    tmp_csv = out / "tmp.csv"
    for f in range(n_files):
        ts = (start + timedelta(minutes=15 * f)).strftime("%Y%m%d%H%M%S")
        base = 1_100_000_000 + f * rows
        con.execute(f"""
            copy (
              with r as (select range as n, hash(range + {base}) as h from range({rows})),
              a as (select r.n, r.h, (select code from actors where i = r.h % {n_act}) as a1,
                           (select code from actors where i = (r.h >> 8) % {n_act}) as a2 from r)
              select {base} + n, '{ts[:8]}', '{ts[:6]}', '{ts[:4]}', '{ts[:4]}.5000',
                     a1 || 'GOV', 'NAME ' || a1, a1, '', '', '', '', 'GOV', '', '',
                     a2 || 'BUS', 'NAME ' || a2, a2, '', '', '', '', 'BUS', '', '',
                     '1', lpad(((h >> 16) % 20 + 1)::varchar, 2, '0') || '0', lpad(((h >> 16) % 20 + 1)::varchar, 2, '0') || '0',
                     lpad(((h >> 16) % 20 + 1)::varchar, 2, '0'), ((h >> 24) % 4 + 1)::varchar, '-2.0',
                     ((h >> 28) % 20 + 1)::varchar, '1', '2', '-1.234567',
                     '1', 'Somewhere, Country', 'XX', 'XX', '', '10.5', '20.5', 'XX',
                     '1', 'Somewhere, Country', 'XX', 'XX', '', '10.5', '20.5', 'XX',
                     '4', 'A City, Some Region, Country', 'XX', 'XX01', '12345', '10.5', '20.5', '-123456',
                     '{ts}', 'https://news.example.com/2025/' || ({base} + n)::varchar || '/a-long-article-slug-about-events.html'
              from a
            ) to '{tmp_csv}' (delimiter '\t', header false, quote '', escape '')
        """)
        name = f"{ts}.export.CSV.zip"
        with zipfile.ZipFile(out / name, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.write(tmp_csv, f"{ts}.export.CSV")
        body = (out / name).read_bytes()
        total_bytes += tmp_csv.stat().st_size
        total_rows += rows
        lines.append(f"{len(body)} {hashlib.md5(body).hexdigest()} http://data.gdeltproject.org/gdeltv2/{name}")
    tmp_csv.unlink()
    (out / "masterfilelist.txt").write_text("\n".join(lines) + "\n")
    (out / "lastupdate.txt").write_text(lines[-1] + "\n")
    return total_rows, total_bytes


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = lambda *a, **kw: _Handler(*a, directory=str(directory), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def child_bilateral(files_dir: Path, work: Path) -> dict:
    """bilateral's path: connector (download, MD5, stream-unzip, land) then load_results."""
    from flows.config import load_config
    from flows.sources.gdelt_events.connector import GdeltEventsConnector
    from flows.http import HttpClient, LiveTransport
    from flows.landing import Lander
    from flows.loading import load_results
    from flows.warehouse import ensure_schemas

    server, url = serve(files_dir)
    cfg = work / "bilateral.toml"
    cfg.write_text(f'[countries]\nfocus = ["CAN", "CHN", "USA"]\n[warehouse]\ndir = "{work / "wh"}"\n'
                   f'[sources.gdelt_events]\nbase_url = "{url}"\nmax_retries = 0\ntail_bytes = 1000000000\n'
                   'max_files_per_run = 100000\n')
    config = load_config(cfg, environ={})
    src = config.sources["gdelt_events"]
    connector = GdeltEventsConnector(config, src, HttpClient(src, LiveTransport()), date(2026, 11, 28))
    lander = Lander(work / "landing", "gdelt_events", "2026-11-28", "bench")
    t0 = time.perf_counter()
    results = [connector.extract(p, lander) for p in connector.partitions()]
    t_extract = time.perf_counter() - t0
    db = work / "wh" / "bilateral.duckdb"
    ensure_schemas(db)
    t0 = time.perf_counter()
    report = load_results(db, "bench", results)
    t_load = time.perf_counter() - t0
    server.shutdown()
    csvs = [f.path for r in results for f in r.files if f.kind == "gdelt_event" and f.status == "landed"]
    return {"files": len(csvs), "rows_in_files": sum(r.records for r in results), "rows_loaded": report.rows_by_table.get("gdelt_event", 0),
            "csv_bytes": sum(Path(p).stat().st_size for p in csvs), "extract_s": t_extract, "load_s": t_load,
            "errors": report.errors[:3], "csvs": csvs,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_bare(csvs: list[str], work: Path) -> dict:
    import duckdb

    from flows.sources.gdelt_events.load import read_export_sql

    con = duckdb.connect(str(work / "bare.duckdb"))
    pairs = ["CAN-CHN", "CAN-USA", "CHN-USA"]
    t0 = time.perf_counter()
    kept = con.execute(f"""select count(*) from {read_export_sql('?')}
        where "Actor1CountryCode" <> "Actor2CountryCode" and list_contains(?, least("Actor1CountryCode", "Actor2CountryCode")
              || '-' || greatest("Actor1CountryCode", "Actor2CountryCode"))""", [csvs, pairs]).fetchone()[0]
    t_filter = time.perf_counter() - t0
    t0 = time.perf_counter()
    n = con.execute(f"select count(*) from {read_export_sql('?')}", [csvs]).fetchone()[0]
    t_count = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute(f"create table t as select * from {read_export_sql('?')}", [csvs])
    t_table = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.execute("create table t2 as select * from " + read_export_sql("?") + " limit 0", [csvs[:1]])
    for p in csvs:
        con.execute(f"insert into t2 select * from {read_export_sql('?')}", [p])
    t_per_file = time.perf_counter() - t0
    return {"rows": n, "kept": kept, "filter_s": t_filter, "count_s": t_count, "create_table_s": t_table, "insert_per_file_s": t_per_file,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--day-files", type=int, default=96)
    ap.add_argument("--month-files", type=int, default=2880, help="0 skips the month (memory) run")
    ap.add_argument("--rows-per-file", type=int, default=1736, help="~1,736 x 2,880 = 5M events a month")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    ap.add_argument("--child", choices=["bilateral", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--files-dir", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "bilateral":
        print(json.dumps(child_bilateral(Path(args.files_dir), Path(args.work))))
        return
    if args.child == "bare":
        csvs = json.loads(Path(args.files_dir).read_text())
        print(json.dumps(child_bare(csvs, Path(args.work))))
        return

    tmp = Path(tempfile.mkdtemp(prefix="bench_gdelt_"))
    try:
        start = datetime(2025, 3, 1)
        t0 = time.perf_counter()
        rows, nbytes = generate(tmp / "day", args.day_files, args.rows_per_file, start)
        print(f"generated day: {args.day_files} files, {rows:,} rows, {nbytes / 1e6:.1f} MB CSV in {time.perf_counter() - t0:.1f} s")
        (tmp / "w_day").mkdir()
        b = run_child("--child", "bilateral", "--files-dir", str(tmp / "day"), "--work", str(tmp / "w_day"))
        (tmp / "csvs.json").write_text(json.dumps(b["csvs"]))
        (tmp / "w_bare").mkdir()
        bare = run_child("--child", "bare", "--files-dir", str(tmp / "csvs.json"), "--work", str(tmp / "w_bare"))
        mb = b["csv_bytes"] / 1e6
        print(f"\nday: {b['files']} export files, {b['rows_in_files']:,} events ({mb:.1f} MB CSV), "
              f"{b['rows_loaded']:,} kept for CAN/CHN/USA pairs, errors: {b['errors']}")
        print(f"  bilateral extract+land (HTTP, MD5, stream-unzip): {b['extract_s']:.2f} s  "
              f"= {b['rows_in_files'] / b['extract_s']:,.0f} rows/s, {mb / b['extract_s']:.1f} MB/s")
        print(f"  bilateral load (load_results: read_csv + pair filter, per file): {b['load_s']:.2f} s  "
              f"= {b['rows_in_files'] / b['load_s']:,.0f} rows/s, {mb / b['load_s']:.1f} MB/s")
        print(f"  bare DuckDB read_csv, all files into one table:  {bare['create_table_s']:.2f} s  "
              f"= {bare['rows'] / bare['create_table_s']:,.0f} rows/s, {mb / bare['create_table_s']:.1f} MB/s")
        print(f"  bare DuckDB read_csv, file by file into a table: {bare['insert_per_file_s']:.2f} s  "
              f"= {bare['rows'] / bare['insert_per_file_s']:,.0f} rows/s, {mb / bare['insert_per_file_s']:.1f} MB/s")
        print(f"  bare DuckDB count(*) over read_csv:              {bare['count_s']:.2f} s  "
              f"= {bare['rows'] / bare['count_s']:,.0f} rows/s, {mb / bare['count_s']:.1f} MB/s")
        print(f"  bare DuckDB read_csv + the same pair filter (one query, {bare['kept']:,} rows): {bare['filter_s']:.2f} s  "
              f"= {bare['rows'] / bare['filter_s']:,.0f} rows/s, {mb / bare['filter_s']:.1f} MB/s")
        print(f"  ratio bilateral load / bare read_csv: vs all rows into one table {b['load_s'] / bare['create_table_s']:.2f}x; "
              f"vs file by file {b['load_s'] / bare['insert_per_file_s']:.2f}x; vs filtered scan {b['load_s'] / bare['filter_s']:.2f}x; "
              f"vs count(*) {b['load_s'] / bare['count_s']:.2f}x  (target <= 1.5x)")
        shutil.rmtree(tmp / "day")
        shutil.rmtree(tmp / "w_day")
        shutil.rmtree(tmp / "w_bare")
        if args.month_files:
            t0 = time.perf_counter()
            rows, nbytes = generate(tmp / "month", args.month_files, args.rows_per_file, start)
            print(f"\ngenerated month: {args.month_files} files, {rows:,} rows, {nbytes / 1e9:.2f} GB CSV "
                  f"in {time.perf_counter() - t0:.1f} s")
            (tmp / "w_month").mkdir()
            m = run_child("--child", "bilateral", "--files-dir", str(tmp / "month"), "--work", str(tmp / "w_month"))
            print(f"month: {m['files']} files, {m['rows_in_files']:,} events, {m['rows_loaded']:,} loaded; "
                  f"extract+land {m['extract_s']:.1f} s, load {m['load_s']:.1f} s; "
                  f"peak RSS of the bilateral process: {m['peak_rss_mb']:.0f} MB (target < 1024 MB)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
