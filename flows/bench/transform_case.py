"""The ``transform`` case of ``bilateral bench``: dbt against the same SQL run directly, and an
incremental night against a full rebuild, on a warehouse loaded with the size's data.

Rows (each variant in a child process, flows/bench/transform_variants.py; the warehouse is prepared
once, untimed, by flows/bench/transform_data.py):

- ``transform (models)``: ``dbt run`` of every model against the compiled SQL of the same models
  run statement by statement in DAG order on one DuckDB connection (like for like: models only,
  no seeds, snapshot or tests); target <= 1.5x. Every mart must have the same row count.
- ``transform (build)``: ``dbt build`` as the nightly runs it (models + seeds + snapshot + data tests;
  no unit tests) beside the same direct SQL: not like for like, it shows what the tests add.
- ``incremental night``: one new night of data after a full build, then the nightly's ``dbt build``
  against ``dbt build --full-refresh`` of the same warehouse; target <= 0.15x. Both must give the
  same marts (per mart: rows and an order-independent hash).
- ``trade models`` and ``tariff models``: those models' node times inside the two ``transform
  (models)`` variants (what the former benchmarks/bench_trade.py and bench_tariffs.py measured).
"""
from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from flows.bench import generate
from flows.bench.sizes import Size
from flows.bench.suite import BenchFailed, Measured, Row, Runner, child_env
from flows.bench.transform_data import next_night_files

TRADE_MODELS = ("stg_comtrade__", "int_trade__", "trade_", "dim_country", "dim_product")
RECONCILIATION = ("int_trade__mirror_observations", "int_trade__cif_margins", "int_trade__reporter_reliability",
                  "int_trade__reconciled_flows", "trade_reconciled")
TARIFF_MODELS = ("stg_wits__", "stg_tariffs__", "int_tariffs__", "tariff_")
INCREMENTAL_MODELS = ("stg_gdelt_events__events", "stg_comtrade__records")
# dbt selection by size (default: the whole project, as the nightly builds it). Tiny, the tests'
# size, builds the trade marts and relations_daily (both incremental staging models) to stay short.
SELECT_BY_SIZE = {"tiny": ["--select", "+path:models/marts/trade", "+relations_daily", "--indirect-selection", "cautious"]}


class TransformRunner(Runner):
    """Runner whose children are flows.bench.transform_variants, all on one prepared folder."""

    module = "flows.bench.transform_variants"
    case = "case transform: "

    def command(self, variant: str, scratch: Path, prepared: Path | None) -> tuple[list[str], dict]:
        return [sys.executable, "-m", self.module, variant, "-", str(prepared)], child_env()


def compare_marts(case: str, label: str, marts: dict[str, list], ref_label: str, ref: dict[str, list],
                  by_hash: bool) -> None:
    """Raise BenchFailed (one line) unless both runs built the same marts with the same row counts
    (and, ``by_hash``, the same order-independent hash of their rows)."""
    if set(marts) != set(ref):
        only = sorted(set(marts) ^ set(ref))
        raise BenchFailed(f"bench: case {case}: {label} and {ref_label} did not build the same marts "
                          f"(only in one: {', '.join(only)}); their times do not compare")
    differ = [m for m in sorted(ref) if marts[m][0] != ref[m][0] or (by_hash and marts[m][1] != ref[m][1])]
    if differ:
        m = differ[0]
        raise BenchFailed(f"bench: case {case}: {label} and {ref_label} built different marts ({len(differ)} of "
                          f"{len(ref)}): marts.{m} has {marts[m][0]:,} rows (hash {marts[m][1]}) against "
                          f"{ref[m][0]:,} (hash {ref[m][1]}); their times do not compare; look at the two runs' SQL")


def _check_all(case: str, ms: dict[str, Measured], ref: str, other: str, by_hash: bool) -> None:
    for run in ms[other].runs:
        compare_marts(case, ms[other].label, run["marts"], ms[ref].label, ms[ref].runs[0]["marts"], by_hash)


def _node_seconds(m: Measured, prefixes: tuple[str, ...]) -> float:
    return statistics.median(sum(s for n, s in r["nodes"].items() if n.startswith(prefixes)) for r in m.runs)


def _kinds(m: Measured) -> str:
    """The run's node thread seconds by kind (models, data tests, seeds, snapshot), medians of the runs."""
    kinds = sorted({k for r in m.runs for k in r.get("node_kinds", {})})
    medians = {k: statistics.median(r.get("node_kinds", {}).get(k, 0.0) for r in m.runs) for k in kinds}
    return ", ".join(f"{k}s {s:.1f}" for k, s in medians.items() if s > 0)  # exposures take no time


def _overhead(m: Measured) -> str:
    """dbt's wall time split: start-up + parse + wrap-up (wall - run_results elapsed) and the nodes."""
    wall, elapsed = m.median("seconds"), m.median("dbt_elapsed_s")
    return f"{m.label} {wall:.1f} s = start-up/parse {wall - elapsed:.1f} s + nodes {elapsed:.1f} s"


def _row(case: str, a: Measured, b: Measured, rows: int, target: float | None, text: str, note: str,
         seconds: tuple[float, float] | None = None) -> Row:
    sa, sb = seconds or (a.median("seconds"), b.median("seconds"))
    return Row(case, a.label, b.label, sa, sb, rows, 0.0, a.median("peak_rss_mb"), b.median("peak_rss_mb"),
               target, text, note=note, repeats=[r["seconds"] for r in a.runs],
               baseline_repeats=[r["seconds"] for r in b.runs])


def prepare_inputs(work: Path, size: Size, log) -> Path:
    """Generate (or reuse) the size's files and the new night's, and write the inputs of the prepare
    step into the prepared folder (``work/data/transform``: kept with --keep-data, like the data)."""
    t0 = time.perf_counter()
    data = work / "data"
    gdelt = generate.gdelt_files(data / "gdelt_events", size.gdelt_files, size.gdelt_rows_per_file)
    comtrade = generate.comtrade_files(data / "comtrade", size.comtrade_records)
    gdelt_next, comtrade_next = next_night_files(data, gdelt, comtrade, size.gdelt_rows_per_file)
    prepared = data / "transform"
    prepared.mkdir(parents=True, exist_ok=True)
    files = {"gdelt": data / "gdelt_events", "comtrade": data / "comtrade", "gdelt_next": data / "gdelt_next",
             "comtrade_next": data / "comtrade_next"}
    (prepared / "inputs.json").write_text(json.dumps({
        "sample_night": size.night, "select": SELECT_BY_SIZE.get(size.name, []), "files": {k: str(v / "manifest.json") for k, v in files.items()}}))
    log(f"transform: data for size {size.name} ready in {time.perf_counter() - t0:.1f} s: {gdelt.rows:,} GDELT events, "
        f"{comtrade.rows:,} Comtrade records; new night: {len(gdelt_next.files)} GDELT file(s) ({gdelt_next.rows:,} events), "
        f"{comtrade_next.rows:,} Comtrade records (every reporter's next period)")
    return prepared


def prepared_states(runner: Runner, prepared: Path) -> dict:
    """The prepare step's report; the step runs unless an earlier run prepared the same inputs (--keep-data)."""
    marker, inputs = prepared / "COMPLETE", (prepared / "inputs.json").read_text()
    if marker.exists() and marker.read_text() == inputs:
        runner.log(f"transform: reusing the prepared warehouse states in {prepared}")
        return json.loads((prepared / "about.json").read_text())
    runner.log("transform: preparing the warehouse (raw load, seeds, a full build, the new night's load)")
    about = runner.child("transform_prepare", prepared)
    (prepared / "about.json").write_text(json.dumps(about))
    marker.write_text(inputs)
    return about


def transform_case(base: Runner, size: Size, work: Path) -> tuple[list[Row], list[str]]:
    runner = TransformRunner(work, base.repeat, None, log=base.log)
    prepared = prepare_inputs(work, size, base.log)
    try:
        about = prepared_states(runner, prepared)
        ms = runner.measure({"dbt_run": "dbt run", "direct_sql": "direct SQL"}, prepared)
        _check_all("transform", ms, "dbt_run", "direct_sql", by_hash=False)
        if size.name not in SELECT_BY_SIZE:  # the context row: left out of the tests' short run
            ms.update(runner.measure({"dbt_build": "dbt build"}, prepared, once=True))
        ms.update(runner.measure({"dbt_night": "dbt build (night)", "dbt_full_refresh": "--full-refresh"}, prepared))
        _check_all("incremental night", ms, "dbt_full_refresh", "dbt_night", by_hash=True)
    finally:
        shutil.rmtree(prepared / "wh", ignore_errors=True)  # the states stay with the data (--keep-data)
    return _rows(ms, about, size), _notes(ms, size)


def _rows(ms: dict[str, Measured], about: dict, size: Size) -> list[Row]:
    run, direct = ms["dbt_run"], ms["direct_sql"]
    night, full = ms["dbt_night"], ms["dbt_full_refresh"]
    marts = run.runs[0]["marts"]
    mart_rows = sum(n for n, _ in marts.values())
    first = run.runs[0]
    rows = [
        _row("transform (models)", run, direct, mart_rows, 1.5, "<= 1.5x",
             f"both: the {about['models']} models only (views and tables, no seeds/snapshot/tests), same row counts in "
             f"all {len(marts)} marts ({mart_rows:,} rows); {_overhead(run)} (parse: {first['partial_parse']}); "
             "direct: one DuckDB connection, statements in DAG order (dbt: 2 threads)")]
    if "dbt_build" in ms:
        build = ms["dbt_build"]
        rows.append(_row("transform (build)", build, direct, mart_rows, None, "(context, not like for like)",
                         f"dbt build = the nightly's invocation: the models + seeds, snapshot, data tests "
                         f"({build.runs[0]['node_count']} nodes); {_overhead(build)}; 1 run"))
    rebuilt = {m: (statistics.median(r["nodes"].get(m, 0.0) for r in night.runs),
                   statistics.median(r["nodes"].get(m, 0.0) for r in full.runs)) for m in INCREMENTAL_MODELS}
    new = about["new_files"]
    rows.append(_row("incremental night", night, full, sum(n for n, _ in night.runs[0]["marts"].values()), 0.15,
                     "<= 0.15x (15% of full)",
                     f"after a full build + one new night ({new['gdelt_events']} GDELT file(s), {new['comtrade']} Comtrade "
                     f"answers, {about['new_rows']:,} rows); both dbt build (tests included); same rows and hash in all "
                     f"{len(night.runs[0]['marts'])} marts; incremental staging night/full s: "
                     + ", ".join(f"{m} {a:.2f}/{b:.2f}" for m, (a, b) in rebuilt.items())
                     + f"; {_overhead(night)} (parse: {night.runs[0]['partial_parse']}); {_overhead(full)}"
                     + f"; node thread s, night: {_kinds(night)}; full: {_kinds(full)}"))
    if "steps" in about and size.name not in SELECT_BY_SIZE:
        rows.append(_first_night_row(about, size))
    trade = (_node_seconds(run, TRADE_MODELS), _node_seconds(direct, TRADE_MODELS))
    tariff = (_node_seconds(run, TARIFF_MODELS), _node_seconds(direct, TARIFF_MODELS))
    if trade[1]:
        rows.append(_trade_row(run, direct, marts, trade))
    if tariff[1]:  # left out where the selection has no tariff model (tiny)
        rows.append(_tariff_row(run, direct, marts, tariff))
    return rows


NIGHT_TARGET_S = 600.0  # a medium night under 10 minutes
NIGHT_RSS_MB = 4096.0  # ... with peak RSS under 4 GB


def _first_night_row(about: dict, size: Size) -> Row:
    """The prepare step is the size's first night without extract, validate and publish: the whole
    history loaded from the landed files, the seeds, a full ``dbt build``; against the 10-minute target."""
    steps = about["steps"]
    seconds = sum(steps.values())
    rss = about.get("peak_rss_mb", 0.0)
    return Row("night at size", "load + seed + dbt build", "10 min", seconds, NIGHT_TARGET_S, about["raw_rows"], 0.0,
               rss, 0.0, 1.0, "< 10 min, RSS < 4 GB",
               note=f"1 run, one process; {', '.join(f'{k} {v:.1f} s' for k, v in steps.items())}; peak RSS "
                    f"{rss:,.0f} MB ({'met' if rss < NIGHT_RSS_MB else 'MISSED'} < 4 GB); not in it: extract (the "
                    "files are landed already), validate and publish (see the night case's steps at the sample size)")


def _trade_row(run: Measured, direct: Measured, marts: dict, trade: tuple[float, float]) -> Row:
    recon = (_node_seconds(run, RECONCILIATION), _node_seconds(direct, RECONCILIATION))
    return _row("trade models", run, direct, marts.get("trade_reconciled", [0])[0], None, "(node times)",
            f"Comtrade staging + trade intermediates + trade marts, node seconds (dbt run_results / direct); "
            f"reconciliation ({len(RECONCILIATION)} models) {recon[0]:.2f} / {recon[1]:.2f} s; "
            f"trade_reconciled {marts.get('trade_reconciled', [0])[0]:,} rows, trade_by_product "
            f"{marts.get('trade_by_product', [0])[0]:,}", seconds=trade)


def _tariff_row(run: Measured, direct: Measured, marts: dict, tariff: tuple[float, float]) -> Row:
    sched = (_node_seconds(run, ("tariff_schedule",)), _node_seconds(direct, ("tariff_schedule",)))
    expo = (_node_seconds(run, ("tariff_exposure",)), _node_seconds(direct, ("tariff_exposure",)))
    return _row("tariff models", run, direct, marts.get("tariff_schedule", [0])[0], None, "(node times)",
            f"WITS/tariff staging + intermediates + tariff marts, node seconds; tariff_schedule "
            f"{sched[0]:.2f} / {sched[1]:.2f} s -> {marts.get('tariff_schedule', [0])[0]:,} intervals; "
            f"tariff_exposure {expo[0]:.2f} / {expo[1]:.2f} s -> {marts.get('tariff_exposure', [0])[0]:,} rows",
            seconds=tariff)


def _notes(ms: dict[str, Measured], size: Size) -> list[str]:
    slowest = sorted(ms["dbt_run"].runs[0]["nodes"].items(), key=lambda kv: -kv[1])[:5]
    direct = ms["direct_sql"].runs[0]["nodes"]
    notes = ["transform: slowest models (dbt run / direct s): "
             + ", ".join(f"{n} {s:.2f}/{direct.get(n, 0.0):.2f}" for n, s in slowest)]
    if size.name in SELECT_BY_SIZE:
        notes.append(f"transform: at size {size.name} every dbt invocation (and the direct SQL) covers only "
                     f"{' '.join(SELECT_BY_SIZE[size.name][1:3])} (tests: cautious), not the whole project")
    return notes
