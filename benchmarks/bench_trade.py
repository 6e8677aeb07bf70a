"""Benchmark: Comtrade load + trade transform (dbt) time and peak memory.

    .venv/bin/python benchmarks/bench_trade.py                 # the bundled sample and a 5M-record history
    .venv/bin/python benchmarks/bench_trade.py --sample-only
    .venv/bin/python benchmarks/bench_trade.py --records 1000000 --workdir /tmp/bench

Each phase runs in a fresh child process so its peak RSS (ru_maxrss) is its own. Phases:
  sample : generate the sample (keyed), replay it through the connector, land (extract) / load
           (flows.loading.load_results) / dbt build of the trade models and their tests.
  history: N synthetic Comtrade records in the exact API format (9 reporters x 8 partners x M, X x
           98 chapters + 13 products, annual 1995.. and monthly 2002..), written as keyed-style answers
           (one file per reporter x year x frequency), loaded and transformed the same way.
Reconciliation time: the dbt node times of the reconciliation models (estimation sample, margins,
reliability, reconciled flows, trade_reconciled) from run_results.json, and a second `dbt run` of
just those models on the loaded warehouse (rows of trade_reconciled beside it).
Not part of the test suite. Prints one line per phase: seconds, rows, peak RSS MB.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COUNTRIES = ["CAN", "CHN", "USA", "MEX", "JPN", "KOR", "DEU", "FRA", "GBR"]
DBT_SELECT = "+path:models/marts/trade"
RECONCILIATION = ["int_trade__mirror_observations", "int_trade__cif_margins", "int_trade__reporter_reliability",
                  "int_trade__reconciled_flows", "trade_reconciled"]


def _child(phase: str, workdir: Path, records: int) -> dict:
    """Run one phase in a child process; returns its JSON report plus its peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--workdir", str(workdir), "--records", str(records)],
                         capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"phase {phase} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    report = json.loads(out.stdout.strip().splitlines()[-1])
    report["peak_rss_mb_upper_bound"] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return report


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dbt(db: Path, workdir: Path, command: str = "build", select: list[str] | None = None) -> tuple[float, bool, str, dict]:
    env = {**os.environ, "BILATERAL_DUCKDB": str(db), "DBT_LOG_PATH": str(workdir / "dbt_logs"),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    t = time.perf_counter()
    out = subprocess.run([str(Path(sys.executable).parent / "dbt"), command, "--select", *(select or [DBT_SELECT]),
                          "--project-dir", str(ROOT / "dbt_project"), "--profiles-dir", str(ROOT / "dbt_project"),
                          "--target-path", str(workdir / "dbt_target")], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t
    node_seconds, nodes = 0.0, {}
    results = workdir / "dbt_target" / "run_results.json"
    if results.exists():
        doc = json.loads(results.read_text())
        node_seconds = doc.get("elapsed_time", 0.0)
        nodes = {r["unique_id"].split(".")[-1]: r.get("execution_time", 0.0) for r in doc.get("results", [])
                 if r["unique_id"].startswith("model.")}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    tail = "\n".join(out.stdout.splitlines()[-3:])
    return seconds, out.returncode == 0, f"{tail} | dbt nodes {node_seconds:.1f}s, dbt peak RSS {peak:.0f} MB", nodes


def _reconciliation(db: Path, workdir: Path, build_nodes: dict) -> dict:
    """Reconciliation time: its nodes inside the build, then a dbt run of just those models."""
    import duckdb

    in_build = {n: round(build_nodes.get(n, 0.0), 2) for n in RECONCILIATION}
    seconds, ok, _, nodes = _dbt(db, workdir / "reconcile", "run", RECONCILIATION)
    con = duckdb.connect(str(db), read_only=True)
    rows, flows = con.execute("""select count(*), count(*) filter (where reported_sides = 'both')
                                 from marts.trade_reconciled""").fetchone()
    mean_margin = con.execute("""select avg(cif_margin) from marts.trade_reconciled where hs_level = 'chapter'""").fetchone()[0]
    con.close()
    return {"reconciliation_nodes_in_build_s": round(sum(in_build.values()), 2), "by_model_s": in_build,
            "reconciliation_rerun_wall_s": round(seconds, 1), "reconciliation_rerun_nodes_s": round(sum(nodes.values()), 2),
            "rerun_ok": ok, "trade_reconciled_rows": rows, "rows_with_both_sides": flows,
            "mean_chapter_margin": round(mean_margin or 0.0, 4)}


def phase_sample(workdir: Path) -> dict:
    from datetime import date

    from flows.config import load_config
    from flows.sources.base import SampleContext
    from flows.sources.comtrade.connector import SECRET_PARAMS, ComtradeConnector
    from flows.http import HttpClient
    from flows.landing import Lander
    from flows.loading import load_results
    from flows.recording import ReplayTransport
    from flows.sources.comtrade import sample as samplegen
    from flows.warehouse import ensure_schemas

    cfg = load_config(environ={})
    run_date = date.today()
    rec, db = workdir / "sample_rec", workdir / "sample.duckdb"
    t0 = time.perf_counter()
    samplegen.generate(SampleContext(cfg, cfg.sources["comtrade"], rec, run_date))
    t1 = time.perf_counter()
    src = cfg.sources["comtrade"]
    conn = ComtradeConnector(cfg, src, HttpClient(src, ReplayTransport(rec), secret_params=SECRET_PARAMS),
                             run_date)
    lander = Lander(workdir / "landing", "comtrade", str(run_date), "bench")
    results = [conn.extract(p, lander) for p in conn.partitions()]
    t2 = time.perf_counter()
    ensure_schemas(db)
    report = load_results(db, "bench", results)
    t3 = time.perf_counter()
    load_rss = _rss_mb()
    dbt_s, ok, msg, nodes = _dbt(db, workdir)
    return {"phase": "sample", "generate_s": round(t1 - t0, 2), "extract_land_s": round(t2 - t1, 2),
            "load_s": round(t3 - t2, 2), "rows": report.rows_loaded, "files": report.files_loaded,
            "load_errors": [f.message for f in report.failures[:2]], "quarantined": report.rows_quarantined, "load_peak_rss_mb": round(load_rss), "dbt_s": round(dbt_s, 2),
            "dbt_ok": ok, "dbt": msg, **_reconciliation(db, workdir, nodes)}


def _history_files(workdir: Path, records: int) -> list[tuple[Path, str, int]]:
    """~``records`` synthetic records as keyed-style answers (the generator `bilateral bench` uses);
    returns (path, sha256, records in the file)."""
    from flows.bench.generate import comtrade_files

    fs = comtrade_files(workdir / "history", records)
    return [(Path(p), sha, len(json.loads(Path(p).read_bytes())["data"])) for p, sha in zip(fs.files, fs.sha256)]


def phase_history(workdir: Path, records: int) -> dict:
    from flows.sources.base import ExtractResult
    from flows.landing import LandedFile
    from flows.loading import load_results
    from flows.warehouse import ensure_schemas

    db = workdir / "history.duckdb"
    t0 = time.perf_counter()
    files = _history_files(workdir, records)
    t1 = time.perf_counter()
    results = []
    for path, sha, n in files:
        lf = LandedFile(run_id="bench", source="comtrade", kind="comtrade_record", path=str(path), request_url="bench",
                        http_status=200, bytes=path.stat().st_size, sha256=sha, fetched_at="2026-01-01T00:00:00+00:00",
                        origin="replay", synthetic=True)
        results.append(ExtractResult("comtrade", path.stem, path.stem, files=[lf], records=n))
    ensure_schemas(db)
    report = load_results(db, "bench", results)
    t2 = time.perf_counter()
    load_rss = _rss_mb()
    size_gb = sum(p.stat().st_size for p, _, _ in files) / 1e9
    dbt_s, ok, msg, nodes = _dbt(db, workdir)
    return {"phase": "history", "records_written": sum(n for _, _, n in files), "files": len(files),
            "json_gb": round(size_gb, 2), "generate_s": round(t1 - t0, 1), "load_s": round(t2 - t1, 1),
            "rows": report.rows_loaded, "load_errors": [f.message for f in report.failures[:2]], "quarantined": report.rows_quarantined, "load_peak_rss_mb": round(load_rss),
            "dbt_s": round(dbt_s, 1), "dbt_ok": ok, "dbt": msg, **_reconciliation(db, workdir, nodes)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=5_000_000)
    ap.add_argument("--sample-only", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:  # child process
        import flows  # noqa: F401 - runtime defaults
        args.workdir.mkdir(parents=True, exist_ok=True)
        report = phase_sample(args.workdir) if args.phase == "sample" else phase_history(args.workdir, args.records)
        print(json.dumps(report))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_trade_"))
    try:
        phases = ["sample"] + ([] if args.sample_only else ["history"])
        for phase in phases:
            sub = workdir / phase
            report = _child(phase, sub, args.records)
            print(json.dumps(report, indent=1))
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
