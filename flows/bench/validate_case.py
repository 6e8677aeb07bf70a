"""The ``validate`` case of ``bilateral bench``: bilateral's GX validation against the same
expectations as plain SQL in DuckDB (flows/bench/sql_checks.py), on a warehouse at the bench size.

The warehouse: at ``tiny``, the generated GDELT and Comtrade files loaded by bilateral's loader and
the two raw-batch suites of those tables; at the other sizes, the sample night run into a scratch
warehouse and every suite of its enabled sources, then the same again on a copy ``SCALE`` times as
big (marts grown by flows/query_latency.scaled_copy, raw tables by copies of their rows under earlier
run ids, so the raw batch stays the same and the tables grow): peak RSS at two sizes shows whether
validation's memory follows the batch or the table.

Each variant runs in a child process of its own:

    python -m flows.bench.validate_case VARIANT SCRATCH SETUP_JSON

and prints one JSON line: ``seconds`` (validation only; for GX, ``import great_expectations``
included and also given apart as ``import_seconds``), ``failed`` (the failed expectations'
keys by suite), ``rows_out`` (batch rows checked), ``peak_rss_mb``. The two sides must fail the same
expectations; a difference fails the bench (exit 1), because then they did not do the same job.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from flows.bench.suite import ROOT, BenchFailed, Row, Runner, child_env

SCALE = 10
TARGET = 2.0  # GX at most twice the plain SQL checks
TINY_SUITES = ("raw_gdelt_events", "raw_comtrade")


# ---- the warehouse at the bench size -------------------------------------------------------------

def _tiny_warehouse(work: Path, size) -> Path:
    from flows.bench import generate, variants

    data = work / "data"
    gdelt = generate.gdelt_files(data / "gdelt_events", size.gdelt_files, size.gdelt_rows_per_file)
    comtrade = generate.comtrade_files(data / "comtrade", size.comtrade_records)
    wh = work / "validate" / "tiny"
    shutil.rmtree(wh, ignore_errors=True)
    wh.mkdir(parents=True)
    variants.bilateral_gdelt(wh, gdelt)
    variants.bilateral_comtrade(wh, comtrade)
    return wh / "bilateral.duckdb"


def _night_warehouse(work: Path) -> Path:
    """The sample night into a scratch warehouse, in a child process (as the night case runs it);
    kept with the generated data (``--keep-data``) and then reused."""
    scratch = work / "data" / "validate-night"
    db = scratch / "wh" / "bilateral.duckdb"
    if (scratch / "built").exists() and db.exists():
        return db
    shutil.rmtree(scratch, ignore_errors=True)
    out = subprocess.run([sys.executable, "-m", "flows.bench.variants", "sample_night", str(scratch), "-"],
                         capture_output=True, text=True, cwd=ROOT, env=child_env())
    if out.returncode != 0 or not db.exists():
        raise BenchFailed(f"bench: validate: the sample night did not build a warehouse in {scratch} "
                          f"(exit {out.returncode}):\n{out.stderr.strip()[-2000:]}\nrun `bilateral run --sample` to see why")
    (scratch / "built").write_text("")
    return db


def _latest_run(db: Path) -> str:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        row = con.execute("select run_id from audit.runs order by started_at desc limit 1").fetchone()
    finally:
        con.close()
    return row[0] if row else "bench"


def grow_raw(db: Path, factor: int) -> dict[str, int]:
    """Each raw table with a ``_run_id`` grown to ``factor`` times its rows by copies under run ids of
    no run in audit.runs (history): the tables grow, the run's batch does not."""
    import duckdb

    con = duckdb.connect(str(db))
    grown = {}
    try:
        tables = con.execute("select table_name from duckdb_columns() where schema_name = 'raw' "
                             "and column_name = '_run_id' order by 1").fetchall()
        for (table,) in tables:
            ref = f'raw."{table}"'
            con.execute(f"insert into {ref} select t.* replace ('history-' || k.i as _run_id) "
                        f"from {ref} as t, range(1, {int(factor)}) as k(i)")
            grown[table] = con.execute(f"select count(*) from {ref}").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return grown


def scaled_warehouse(db: Path, dest: Path, factor: int) -> None:
    from flows.query_latency import scaled_copy

    dest.parent.mkdir(parents=True, exist_ok=True)
    scaled_copy(db, dest, factor)
    grow_raw(dest, factor)


def suite_names(db: Path, tiny: bool) -> list[str]:
    """The suites the nightly validates on this warehouse (those of its enabled sources)."""
    from flows.config import load_config
    from flows.validation import _enabled, load_suites

    config = load_config(environ={})
    suites, _ = _enabled(load_suites(config.project.suites_dir), config.enabled_sources)
    return [s.name for s in suites if not tiny or s.name in TINY_SUITES]


# ---- the variants (child processes) -------------------------------------------------------------

def _suites(names: list[str]):
    from flows.config import load_config
    from flows.validation import load_suites

    by_name = {s.name: s for s in load_suites(load_config(environ={}).project.suites_dir)}
    return [by_name[n] for n in names]


def gx_validate(scratch: Path, setup: dict) -> dict:
    """flows.validation.validate as the nightly calls it (in-memory evaluation, result store, Data Docs, audit
    rows) on a copy of the warehouse (it writes audit.validations)."""
    from flows.validation import validate

    db = scratch / "bilateral.duckdb"
    shutil.copyfile(setup["db"], db)
    suites = _suites(setup["suites"])
    t0 = time.perf_counter()
    import great_expectations  # noqa: F401 - in the wall, and timed apart: a night imports it while Prefect's API boots

    imported = time.perf_counter()
    report = validate(db, setup["run_id"], scratch / "gx", suites=suites)
    seconds = time.perf_counter() - t0
    failed = {s.suite: sorted({f["expectation"] if f["expectation"] in ("query", "suite") else
                               _gx_key(f) for f in s.failures}) for s in report.suites}
    return {"seconds": seconds, "import_seconds": imported - t0, "failed": failed,
            "rows_out": sum(s.rows_checked for s in report.suites),
            "expectations": sum(len(s.expectations) for s in suites)}


def _gx_key(failure: dict) -> str:
    column = failure.get("column")
    if isinstance(column, list):
        column = ",".join(column)
    return f"{failure['expectation']}({column})" if column else failure["expectation"]


def sql_validate(scratch: Path, setup: dict) -> dict:
    """The same expectations as one DuckDB query each (flows/bench/sql_checks.py), read-only."""
    import duckdb

    from flows.bench.sql_checks import run_checks

    suites = _suites(setup["suites"])
    t0 = time.perf_counter()
    con = duckdb.connect(setup["db"], read_only=True)
    try:
        failed = run_checks(con, suites, setup["run_id"])
        rows = 0
    finally:
        con.close()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "failed": failed, "rows_out": rows,
            "expectations": sum(len(s.expectations) for s in suites)}


VARIANTS = {f.__name__: f for f in (gx_validate, sql_validate)}


def main(argv: list[str]) -> int:
    import flows  # noqa: F401 - runtime defaults (telemetry off, Prefect home)
    from flows.bench.variants import peak_rss_mb

    name, scratch, setup = argv[0], Path(argv[1]), json.loads(Path(argv[2]).read_text())
    scratch.mkdir(parents=True, exist_ok=True)
    out = VARIANTS[name](scratch, setup)
    out["peak_rss_mb"] = peak_rss_mb()
    out["digest"] = ""
    print(json.dumps(out))
    return 0


# ---- the case (parent) --------------------------------------------------------------------------

class ValidateRunner(Runner):
    """The suite's runner, with this module's child processes."""

    module = "flows.bench.validate_case"
    case = "validate: "

    def command(self, variant: str, scratch: Path, fileset: Path | None) -> tuple[list[str], dict]:
        return [sys.executable, "-m", self.module, variant, str(scratch), str(fileset)], child_env()

    def describe(self, result: dict) -> str:
        return f"{sum(map(len, result['failed'].values()))} failed expectations"


def disagreement(gx: dict[str, list[str]], sql: dict[str, list[str]]) -> list[str]:
    """Per suite, the expectations that failed on one side only ('' when both agree)."""
    lines = []
    for suite in sorted(set(gx) | set(sql)):
        only_gx = sorted(set(gx.get(suite, [])) - set(sql.get(suite, [])))
        only_sql = sorted(set(sql.get(suite, [])) - set(gx.get(suite, [])))
        if only_gx:
            lines.append(f"suite {suite}: failed in GX only: {', '.join(only_gx)}")
        if only_sql:
            lines.append(f"suite {suite}: failed in the SQL checks only: {', '.join(only_sql)}")
    return lines


def check_agreement(label: str, gx_runs: list[dict], sql_runs: list[dict]) -> None:
    for gx in gx_runs:
        for sql in sql_runs:
            lines = disagreement(gx["failed"], sql["failed"])
            if lines:
                raise BenchFailed(
                    f"bench: case {label}: GX and the SQL checks disagree on which expectations fail, so their "
                    "times do not compare:\n  " + "\n  ".join(lines)
                    + "\nfix the translation in flows/bench/sql_checks.py (or the suite, if GX is wrong)")


def _measure(runner: ValidateRunner, label: str, db: Path, run_id: str, suites: list[str]) -> Row:
    setup = runner.work / "validate" / f"setup-{label.replace(' ', '_')}.json"
    setup.parent.mkdir(parents=True, exist_ok=True)
    setup.write_text(json.dumps({"db": str(db), "run_id": run_id, "suites": suites}))
    mb = db.stat().st_size / 1e6
    runner.log(f"validate ({label}): {len(suites)} suites on {db} ({mb:.0f} MB), run {run_id}")
    ms = runner.measure({"gx_validate": "GX (nightly)", "sql_validate": "SQL checks"}, setup)
    gx, sql = ms["gx_validate"], ms["sql_validate"]
    case = f"validate ({label})"
    check_agreement(case, gx.runs, sql.runs)
    failed_keys = [f"{suite}: {k}" for suite, keys in gx.runs[0]["failed"].items() for k in keys]
    failed = len(failed_keys)
    imported, base = gx.median("import_seconds"), sql.median("seconds")
    after_import = gx.median("seconds") - imported  # the row's wall, less the import
    return Row(case, gx.label, sql.label, gx.median("seconds"), sql.median("seconds"), gx.runs[0]["rows_out"], 0.0,
               gx.median("peak_rss_mb"), sql.median("peak_rss_mb"), TARGET, f"<= {TARGET:g}x",
               note=f"{len(suites)} suites, {gx.runs[0]['expectations']} expectations, {gx.runs[0]['rows_out']:,} "
                    f"batch rows, warehouse {mb:.0f} MB; {failed} failed on both sides (same expectations)"
                    + (f": {'; '.join(failed_keys[:4])}{' ...' if failed > 4 else ''}" if failed else "")
                    + f"; of GX's wall, import great_expectations {imported:.2f} s (a night imports it while "
                      f"Prefect's API boots): without it {after_import:.2f} s = "
                      f"{after_import / base if base else float('nan'):.2f}x",
               repeats=[r["seconds"] for r in gx.runs], baseline_repeats=[r["seconds"] for r in sql.runs])


def validate_case(runner: Runner, size) -> list[Row]:
    """The case at ``size``: one row, or two (the night's warehouse and its ``SCALE``x copy)."""
    vrunner = ValidateRunner(runner.work, runner.repeat, None, runner.log)
    tiny = not size.night
    runner.log(f"validate: building the warehouse for size {size.name}: "
               + ("the generated files loaded" if tiny else "the sample night (a minute or more)"))
    t0 = time.perf_counter()
    db = _tiny_warehouse(runner.work, size) if tiny else _night_warehouse(runner.work)
    run_id = "bench" if tiny else _latest_run(db)
    suites = suite_names(db, tiny)
    runner.log(f"validate: warehouse for size {size.name} built in {time.perf_counter() - t0:.1f} s")
    rows = [_measure(vrunner, size.name, db, run_id, suites)]
    if not tiny:
        big = runner.work / "validate" / f"x{SCALE}" / "bilateral.duckdb"
        scaled_warehouse(db, big, SCALE)
        rows.append(_measure(vrunner, f"{size.name} x{SCALE}", big, run_id, suites))
    shutil.rmtree(runner.work / "validate", ignore_errors=True)
    return rows


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
