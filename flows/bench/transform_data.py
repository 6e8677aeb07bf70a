"""The ``transform`` case's warehouse: its inputs and its prepared states (untimed).

The parent (:mod:`flows.bench.transform_case`) generates the size's files (flows/bench/generate.py:
GDELT export CSVs, Comtrade answers) and one new night's worth (:func:`next_night_files`), and writes
``PREPARED/inputs.json``. A child process then runs :func:`prepare`:

1. a fresh warehouse ``PREPARED/wh``: the sample night's raw data (sizes with a night: every
   source's sample extracted and loaded by bilateral's own connectors and load, no Prefect), then
   the generated files through bilateral's load (flows/loading.py);
2. ``dbt seed`` (the reference tables both transform variants read; no model reads the snapshot);
3. state ``raw``: a copy of ``wh`` (raw data, seeds, no model built yet);
4. a full ``dbt build`` recorded as a successful night (audit.run_steps: the watermark the
   incremental models compare with); its manifest gives the direct-SQL plan (``PREPARED/plan.json``:
   the compiled SQL of every model it ran); then the new night's files loaded: state ``night``.

``inputs.json`` may restrict every dbt invocation to a selection (``select``: dbt arguments, e.g.
``["--select", "+path:models/marts/trade"]``; the tiny size, to keep its test short).
"""
from __future__ import annotations

import json
import shutil
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from flows.bench import generate
from flows.bench.generate import GDELT_PAIRS, FileSet

RUN_DATE = date(2026, 11, 30)
HISTORY_RUN_ID = "bench-history"
FULL_BUILD_RUN_ID = "bench-night1"
GDELT_START = datetime(2025, 3, 1)
DAY_FILES = 96  # GDELT export files a day (one every 15 minutes)


def new_gdelt_files(size_files: int) -> int:
    """GDELT files of the new night: one day of the stream, at most 1/24 of the history (at least 1)."""
    return max(1, min(DAY_FILES, size_files // 24))


def next_night_files(data: Path, gdelt: FileSet, comtrade: FileSet, gdelt_rows_per_file: int) -> tuple[FileSet, FileSet]:
    """One new night after the generated history: the next GDELT export files, and every reporter's
    next monthly Comtrade period (the latest period's records, one month on)."""
    n_new = new_gdelt_files(len(gdelt.files))
    gdelt_next = generate.gdelt_files(data / "gdelt_next", n_new, gdelt_rows_per_file, start=GDELT_START,
                                      first_file=len(gdelt.files))
    return gdelt_next, _next_comtrade_period(data / "comtrade_next", comtrade)


def _next_comtrade_period(directory: Path, history: FileSet) -> FileSet:
    if (fs := generate._cached(directory, generate.COMTRADE_VERSION)) is not None:  # of the same generator
        return fs
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    monthly = [p for p in history.files if p.endswith("_M.json")]
    answers = monthly or history.files  # a history too small for monthly periods (tiny): the next year
    last_year = max(Path(p).stem.split("_")[1] for p in answers)
    by_reporter: dict[str, list[dict]] = {}
    for path in (p for p in answers if Path(p).stem.split("_")[1] == last_year):
        records = json.loads(Path(path).read_bytes())["data"]
        last = max(r["period"] for r in records)
        by_reporter[Path(path).stem.split("_")[0]] = [_one_period_on(r) for r in records if r["period"] == last]
    paths, shas, rows = [], [], 0
    for reporter, records in sorted(by_reporter.items()):
        body = json.dumps({"elapsedTime": "1.00 secs", "count": len(records), "data": records, "error": ""}).encode()
        path = directory / f"{reporter}_{records[0]['period']}_next.json"
        path.write_bytes(body)
        paths.append(str(path))
        shas.append(generate._sha256(path))
        rows += len(records)
    return generate._save(directory, FileSet("comtrade", paths, shas, rows, sum(Path(p).stat().st_size for p in paths)),
                          generate.COMTRADE_VERSION)


def _one_period_on(record: dict) -> dict:
    """A Comtrade record one period later: the next month (monthly) or the next year (annual)."""
    if record["freqCode"] == "A":
        year = int(record["period"]) + 1
        return {**record, "period": str(year), "refYear": year, "refPeriodId": int(f"{year}0101")}
    y, m = divmod(int(record["period"][:4]) * 12 + int(record["period"][4:]), 12)  # m: this month = next month - 1
    return {**record, "period": f"{y}{m + 1:02d}", "refYear": y, "refMonth": m + 1, "refPeriodId": int(f"{y}{m + 1:02d}01")}


def _generated_results(gdelt: FileSet, comtrade: FileSet) -> list:
    """The generated files as the connectors' extract results (what flows.loading.load_results takes)."""
    from flows.bench.variants import _landed
    from flows.sources.base import ExtractResult

    events = _landed(gdelt, "gdelt_event", {"stream": "events", "countries": ["CAN", "CHN", "USA"], "pairs": GDELT_PAIRS})
    results = [ExtractResult("gdelt_events", "events", "events", files=events, records=gdelt.rows)]
    results += [ExtractResult("comtrade", Path(f.path).stem, Path(f.path).stem, files=[f])
                for f in _landed(comtrade, "comtrade_record", {})]
    return results


def _load(db: Path, run_id: str, results: list, run_date: date) -> int:
    from flows.loading import load_results

    report = load_results(db, run_id, results, run_date=run_date)
    if report.failures:
        raise RuntimeError(f"bench transform: bilateral's load refused a file: {report.failures[0].message}")
    return report.rows_loaded


def load_sample_night(wh: Path) -> int:
    """Every enabled source's bundled sample, extracted by its connector and loaded as a night does
    (flows.extract / flows.loading), without Prefect; the run is recorded as a success with no dbt step."""
    from flows import extract, warehouse
    from flows.config import load_config
    from flows.run import RunContext

    config = load_config(environ={}, overrides=[f"warehouse.dir={wh}"])
    run = RunContext(config, "sample", RUN_DATE)
    with run.running():
        results = []
        for source in run.sources:
            for period, partitions in extract.plan(run, source).items():
                results += extract.extract_period(run, source, period, partitions)
        failed = [r for r in results if r.error]
        if failed:
            raise RuntimeError(f"bench transform: the sample's {failed[0].source} partition {failed[0].partition} "
                               f"failed: {failed[0].error}")
        rows = _load(run.db, run.run_id, results, RUN_DATE)
        warehouse.finish_run(run.db, run.run_id, "success", "bench: extract and load only", 0, rows, False, {})
    shutil.rmtree(wh / "sample", ignore_errors=True)  # dbt reads the raw tables, not these files
    shutil.rmtree(wh / "landing", ignore_errors=True)
    return rows


def write_plan(target: Path, out: Path) -> int:
    """Every model the first full build ran (``target``: its dbt target folder: run_results.json,
    manifest.json) in DAG order: relation, schema, materialization and compiled SQL (a first build
    compiles the incremental models as full builds). Returns the number of models."""
    manifest = target / "manifest.json"
    doc = json.loads(manifest.read_text())
    ran = {r["unique_id"] for r in json.loads((target / "run_results.json").read_text())["results"]}
    models = {uid: n for uid, n in doc["nodes"].items() if n["resource_type"] == "model" and uid in ran}
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for dep in models[uid]["depends_on"]["nodes"]:
            if dep in models:
                visit(dep)
        order.append(uid)

    for uid in sorted(models):
        visit(uid)
    plan = []
    for uid in order:
        n = models[uid]
        if n.get("compiled_code") is None:
            raise RuntimeError(f"bench transform: dbt compile left model {n['name']} without compiled SQL ({manifest})")
        plan.append({"name": n["name"], "relation": n["relation_name"], "schema": f'"{n["database"]}"."{n["schema"]}"',
                     "materialized": n["config"]["materialized"], "sql": n["compiled_code"]})
    out.write_text(json.dumps(plan, indent=1))
    return len(plan)


def _dbt(db: Path, run_id: str, args: list[str]) -> None:
    from flows import transform
    from flows.paths import find_project

    report = transform.build(find_project(), db, run_id, args=args)
    if not report.success:
        raise RuntimeError(f"bench transform: dbt {' '.join(args)} failed on {db}: {report.message}")


def prepare(prepared: Path) -> dict:
    """States ``raw`` and ``night`` under ``prepared`` (see the module docstring)."""
    from flows import warehouse
    from flows.bench.transform_variants import RUN_ID, NIGHT_RUN_ID

    inputs = json.loads((prepared / "inputs.json").read_text())
    sets = {k: FileSet(**json.loads(Path(v).read_text())) for k, v in inputs["files"].items()}
    wh = prepared / "wh"
    for state in ("wh", "raw", "night"):
        shutil.rmtree(prepared / state, ignore_errors=True)
    wh.mkdir(parents=True)
    db = wh / "bilateral.duckdb"
    warehouse.ensure_schemas(db)
    rows = load_sample_night(wh) if inputs["sample_night"] else 0
    warehouse.start_run(db, HISTORY_RUN_ID, RUN_DATE.isoformat(), "replay", "", ["gdelt_events", "comtrade"])
    t0 = time.perf_counter()
    rows += _load(db, HISTORY_RUN_ID, _generated_results(sets["gdelt"], sets["comtrade"]), RUN_DATE)
    steps = {"load": time.perf_counter() - t0}
    warehouse.finish_run(db, HISTORY_RUN_ID, "success", "bench: generated history", 0, rows, False, {})
    select = inputs["select"]
    t0 = time.perf_counter()
    _dbt(db, RUN_ID, ["seed", *select])
    steps["seed"] = time.perf_counter() - t0
    shutil.copytree(wh, prepared / "raw")

    warehouse.start_run(db, FULL_BUILD_RUN_ID, RUN_DATE.isoformat(), "replay", "", ["gdelt_events", "comtrade"])
    started = warehouse.utcnow()
    t0 = time.perf_counter()
    _dbt(db, FULL_BUILD_RUN_ID, ["build", *select])
    steps["build"] = time.perf_counter() - t0
    models = write_plan(wh / "dbt" / "target", prepared / "plan.json")
    warehouse.record_steps(db, FULL_BUILD_RUN_ID, [{"step": "dbt", "status": "ok", "started_at": started, "seconds": 1.0}])
    warehouse.finish_run(db, FULL_BUILD_RUN_ID, "success", "bench: full build", 0, 0, False, {})
    night = RUN_DATE + timedelta(days=1)
    warehouse.start_run(db, NIGHT_RUN_ID, night.isoformat(), "replay", "", ["gdelt_events", "comtrade"])
    new_rows = _load(db, NIGHT_RUN_ID, _generated_results(sets["gdelt_next"], sets["comtrade_next"]), night)
    shutil.copytree(wh, prepared / "night")
    return {"raw_rows": rows, "new_rows": new_rows, "models": models, "steps": steps,
            "new_files": {"gdelt_events": len(sets["gdelt_next"].files), "comtrade": len(sets["comtrade_next"].files)}}
