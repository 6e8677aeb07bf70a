"""Cases, repeats, the side-by-side table and the JSON of ``bilateral bench``.

A case measures bilateral's way of doing one job against a baseline doing the same job, each in
a child process, ``repeat`` times, alternating, and reports medians: wall seconds, input rows/s,
input MB/s, peak RSS, and the ratio bilateral / baseline with the case's target. A load case also
checks that both produced the same output (the same rows: an order-independent hash of every
record column; dlt, which renames and drops all-null columns, by row count): a mismatch fails the run.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flows.bench import generate
from flows.bench.sizes import Size
from flows.errors import BilateralError

CASE_GROUPS = ("load", "dlt", "night", "serve", "transform", "validate")  # dlt: the load cases' dlt rows


ROOT = Path(__file__).resolve().parents[2]


def child_env() -> dict[str, str]:
    """The environment of a measured child process: this one's, with the project importable."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


class BenchFailed(BilateralError):
    """A measured variant failed or two variants did not produce the same output."""


def error_line(stderr: str) -> str:
    """The exception line of a child's traceback (the last ``SomethingError: ...`` line)."""
    found = re.findall(r"^[A-Za-z_.]*(?:Error|Exception|Failed): .*$", stderr, flags=re.MULTILINE)
    return found[-1] if found else (stderr.strip().splitlines() or ["no message"])[-1]


@dataclass
class Measured:
    variant: str
    label: str
    runs: list[dict] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)


@dataclass
class Row:
    """One line of the table: a measured variant beside its baseline."""

    case: str
    variant: str
    baseline: str
    seconds: float
    baseline_seconds: float
    rows: int
    mb: float
    rss_mb: float
    baseline_rss_mb: float
    target: float | None  # the largest ratio that meets the case's target
    target_text: str
    note: str = ""
    repeats: list[float] = field(default_factory=list)
    baseline_repeats: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else float("nan")

    @property
    def met(self) -> str:
        if self.target is None:
            return ""
        return "met" if self.ratio <= self.target else "MISSED"


class Runner:
    def __init__(self, work: Path, repeat: int, dlt_python: str | None, log=print) -> None:
        self.work, self.repeat, self.dlt_python, self.log = work, repeat, dlt_python, log
        self._n = 0

    module = "flows.bench.variants"  # the child processes' module (python -m MODULE VARIANT WORK FILESET)
    case = ""  # named in a failed variant's message, e.g. "case transform: "

    def command(self, variant: str, scratch: Path, fileset: Path | None) -> tuple[list[str], dict]:
        """The child's argv and environment (the dlt variants may run under another interpreter)."""
        is_dlt = variant.startswith("dlt_")
        python = (self.dlt_python or sys.executable) if is_dlt else sys.executable
        env = child_env()
        if is_dlt:
            from flows.sources.gdelt_events.load import EXPORT_COLUMNS

            env["BILATERAL_BENCH_GDELT_COLUMNS"] = json.dumps(EXPORT_COLUMNS)
        module = "flows.bench.dlt_load" if is_dlt else self.module
        return [python, "-m", module, variant, str(scratch), str(fileset) if fileset else "-"], env

    def describe(self, result: dict) -> str:
        return f"{result['rows_out']:,} rows out"

    def child(self, variant: str, fileset: Path | None) -> dict:
        """One run of a variant in a fresh child process and a fresh scratch directory."""
        self._n += 1
        scratch = self.work / "runs" / f"{self._n:03d}-{variant}"
        shutil.rmtree(scratch, ignore_errors=True)
        argv, env = self.command(variant, scratch, fileset)
        t0 = time.perf_counter()
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT)
        if out.returncode != 0:
            raise BenchFailed(f"bench: {self.case}variant {variant} failed (exit {out.returncode}) in {scratch}: "
                              f"{error_line(out.stderr)}\n" + out.stderr.strip()[-2000:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        self.log(f"  {variant:<22} {result['seconds']:8.2f} s  (child {time.perf_counter() - t0:.1f} s, "
                 f"{self.describe(result)}, peak RSS {result['peak_rss_mb']:.0f} MB)")
        shutil.rmtree(scratch, ignore_errors=True)
        return result

    def measure(self, variants: dict[str, str], fileset: Path | None, once: bool = False) -> dict[str, Measured]:
        """Each variant ``repeat`` times, interleaved (a, b, a, b...) so a busy spell hits all alike;
        dlt's dict-row path once (it is minutes where the others are seconds)."""
        out = {v: Measured(v, label) for v, label in variants.items()}
        for i in range(self.repeat):
            for v in variants:
                if i == 0 or not (once or v.startswith("dlt_dict")):
                    out[v].runs.append(self.child(v, fileset))
        return out


def dlt_available(dlt_python: str | None) -> bool:
    if dlt_python:
        return subprocess.run([dlt_python, "-c", "import dlt, pyarrow"], capture_output=True).returncode == 0
    return importlib.util.find_spec("dlt") is not None and importlib.util.find_spec("pyarrow") is not None


def _same_rows(case: str, ms: dict[str, Measured], reference: str, others: list[str], by_digest: bool) -> None:
    ref = ms[reference].runs[0]
    for v in others:
        for run in ms[v].runs:
            if run["rows_out"] != ref["rows_out"] or (by_digest and run["digest"] != ref["digest"]):
                raise BenchFailed(
                    f"bench: case {case}: {ms[v].label} produced {run['rows_out']:,} rows (hash {run['digest'] or '-'}), "
                    f"{ms[reference].label} {ref['rows_out']:,} (hash {ref['digest'] or '-'}): not the same output, "
                    "so their times do not compare; look at the two load paths' filters")


def load_case(runner: Runner, source: str, fs: generate.FileSet, fileset: Path, use_dlt: bool, dlt_dict: bool) -> list[Row]:
    key = "gdelt" if source == "gdelt_events" else "comtrade"
    variants = {f"bilateral_{key}": "bilateral", f"bare_{key}": "bare DuckDB"}
    if use_dlt:
        variants[f"dlt_arrow_{key}"] = "dlt arrow"
        if dlt_dict:
            variants[f"dlt_dict_{key}"] = "dlt dict"
    runner.log(f"load {source}: {len(fs.files)} files, {fs.rows:,} records, {fs.mb:.1f} MB")
    ms = runner.measure(variants, fileset)
    case = f"load {source}"
    _same_rows(case, ms, f"bilateral_{key}", [f"bare_{key}"], by_digest=True)
    _same_rows(case, ms, f"bilateral_{key}", [v for v in variants if v.startswith("dlt_")], by_digest=False)
    bil = ms[f"bilateral_{key}"]

    def row(baseline: str, target: float | None, text: str) -> Row:
        b = ms[baseline]
        return Row(case, bil.label, b.label, bil.median("seconds"), b.median("seconds"), fs.rows, fs.mb,
                   bil.median("peak_rss_mb"), b.median("peak_rss_mb"), target, text,
                   note=f"{bil.runs[0]['rows_out']:,} rows out",
                   repeats=[r["seconds"] for r in bil.runs], baseline_repeats=[r["seconds"] for r in b.runs])

    rows = [row(f"bare_{key}", 1.3, "<= 1.3x")]
    if use_dlt:
        rows.append(row(f"dlt_arrow_{key}", 1.0, "< 1x (faster than dlt)"))
        if dlt_dict:
            rows.append(row(f"dlt_dict_{key}", 1 / 3, "<= 0.33x (3x faster)"))
            rows[-1].note += "; dlt dict: 1 run"
    return rows


#: variant: (row name, what it is): a new warehouse and Prefect database; the night after it in the same
#: warehouse; a new warehouse with PREFECT_API_URL naming a running server (as scheduled nights use)
NIGHT_VARIANTS = {"sample_night_cli": ("night (first)", "first night"),
                  "sample_night_cli_later": ("night (later)", "later night"),
                  "sample_night_cli_on_server": ("night (server)", "on a server"),
                  "sample_night_cli_on_server_later": ("night (server, later)", "later night on a server")}


def night_case(runner: Runner) -> list[Row]:
    runner.log("night: `bilateral run --sample` in a scratch warehouse, as a scheduled night runs: the first "
               "night (new warehouse, new Prefect database); in another, the night after it; in a third, the "
               "first night on a Prefect server that runs already; in a fourth, the night after that one on the "
               "same server (how a scheduled deployment runs every night after its first)")
    ms = runner.measure({v: about for v, (_, about) in NIGHT_VARIANTS.items()}, None, once=True)
    for m in ms.values():
        if any(r["status"] != "success" for r in m.runs):
            raise BenchFailed(f"bench: the sample night ({m.label}) ended {m.runs[0]['status']}: run "
                              "`bilateral run --sample` to see why")
    return [_night_row(name, ms[v]) for v, (name, _) in NIGHT_VARIANTS.items()]


def _night_row(case: str, m: Measured) -> Row:
    overhead = statistics.median(r["startup_s"] + r["wrapup_s"] for r in m.runs)
    startup, wrapup = statistics.median(r["startup_s"] for r in m.runs), statistics.median(r["wrapup_s"] for r in m.runs)
    steps = ", ".join(f"{k} {v:.1f}" for k, v in m.runs[0]["steps"].items())
    return Row(case, m.label, "its data work", m.median("seconds"),
               m.median("baseline_seconds"), m.runs[0]["rows_out"], 0.0, m.median("peak_rss_mb"), 0.0, None, "< 30 s wall",
               note=f"1 run; wall {'met' if m.median('seconds') < 30 else 'MISSED'} (< 30 s); orchestration "
                    f"(Prefect start-up + wrap-up) {overhead:.1f} s ({startup:.1f} + {wrapup:.1f}), "
                    f"{'met' if overhead <= 5 else 'MISSED'} (<= 5 s); "
                    f"steps s: {steps}",
               repeats=[r["seconds"] for r in m.runs], baseline_repeats=[r["baseline_seconds"] for r in m.runs])


SERVE_TARGET_S = 0.100  # p95 of every query of the set under 100 ms
SERVE_SCALE = 10


def _serve_row(label: str, timings, repeat: int) -> Row:
    slowest = max(timings, key=lambda t: t.p95_ms)
    return Row(f"serve p95 ({label})", f"slowest: {slowest.query}", "100 ms", slowest.p95_ms / 1000, SERVE_TARGET_S,
               sum(t.rows for t in timings), 0.0, 0.0, 0.0, 1.0, "p95 < 100 ms",
               note=f"{len(timings)} queries x {repeat} runs; p50 of the slowest {slowest.p50_ms:.1f} ms")


def serve_case(runner: Runner, published: Path, min_repeat: int = 20) -> tuple[list[Row], list[str]]:
    """The README's and the report site's query set on a published file (flows/query_latency.py):
    p95 of the slowest query at the published size and on a copy ``SERVE_SCALE`` times as big,
    against the 100 ms target."""
    from flows.example_queries import readme_blocks, report_queries
    from flows.query_latency import QueryFailed, measure, scaled_copy

    if not published.exists():
        return [], [f"serve: skipped, no published file at {published} (run `./bilateral run --sample` first)"]
    queries = readme_blocks() + report_queries()
    repeat = max(runner.repeat, min_repeat)  # a p95 needs 20 samples or more
    runner.log(f"serve: {len(queries)} queries on {published}, then on a {SERVE_SCALE}x copy")
    big = runner.work / "serve" / "bilateral.duckdb"
    big.parent.mkdir(parents=True, exist_ok=True)
    try:
        rows = [_serve_row("published", measure(published, queries, repeat), repeat)]
        scaled_copy(published, big, SERVE_SCALE)
        rows.append(_serve_row(f"{SERVE_SCALE}x", measure(big, queries, repeat), repeat))
    except QueryFailed as exc:  # e.g. a file published before a mart changed: said, the other cases still count
        return [], [f"serve: not measured: a query of the set failed on {published}: {exc}; fix the query "
                    "(README.md or flows/report/queries/) or publish again (`./bilateral run --sample`)"]
    finally:
        shutil.rmtree(big.parent, ignore_errors=True)
    return rows, []


def run_suite(size: Size, work: Path, repeat: int, groups: list[str], dlt_python: str | None, log=print,
              published: Path | None = None) -> tuple[list[Row], list[str]]:
    """``published``: the file the serve case reads (default: the project's published file)."""
    runner = Runner(work, repeat, dlt_python, log)
    rows: list[Row] = []
    notes: list[str] = []
    if "load" in groups or "dlt" in groups:
        use_dlt = "dlt" in groups and dlt_available(dlt_python)
        if "dlt" in groups and not use_dlt:
            notes.append("dlt: not installed, its rows are left out (pip install -e '.[bench]', or --dlt-python PATH "
                         "to an interpreter that has dlt and pyarrow)")
        for source in ("gdelt_events", "comtrade"):
            if use_dlt and source not in size.dlt_dict:
                notes.append(f"dlt dict row of {source}: left out at size {size.name} (Comtrade on dlt's dict path "
                             "measured 192 s and 3.6 GB RSS for 30k records; see --size tiny)")
        t0 = time.perf_counter()
        sets = {"gdelt_events": generate.gdelt_files(work / "data" / "gdelt_events", size.gdelt_files, size.gdelt_rows_per_file),
                "comtrade": generate.comtrade_files(work / "data" / "comtrade", size.comtrade_records)}
        log(f"data for size {size.name} ready in {time.perf_counter() - t0:.1f} s under {work / 'data'}")
        for source, fs in sets.items():
            fileset = work / "data" / source / "manifest.json"
            rows += load_case(runner, source, fs, fileset, use_dlt, source in size.dlt_dict)
    if "night" in groups:
        if size.night:
            rows += night_case(runner)
        else:
            notes.append(f"night: left out at size {size.name}")
    if "serve" in groups:
        from flows.query_latency import DEFAULT_DB

        r, n = serve_case(runner, published or DEFAULT_DB)
        rows += r
        notes += n
    if "transform" in groups:
        from flows.bench.transform_case import transform_case  # it imports this module

        r, n = transform_case(runner, size, work)
        rows += r
        notes += n
    if "validate" in groups:
        from flows.bench.validate_case import validate_case

        rows += validate_case(runner, size)
    return rows, notes


def render(rows: list[Row], size: Size, repeat: int) -> str:
    head = (f"{'case':<22}{'bilateral / baseline':<32}{'wall s':>14}{'rows/s':>20}{'MB/s':>14}{'peak RSS MB':>14}"
            f"{'ratio':>8}  {'target':<24}")
    lines = [f"bilateral bench --size {size.name} ({size.about}); medians of {repeat} run(s); "
             f"{os.cpu_count()} CPUs", head, "-" * len(head)]
    for r in rows:
        rps = f"{r.rows / r.seconds:,.0f} / {r.rows / r.baseline_seconds:,.0f}" if r.mb else ""
        mbs = f"{r.mb / r.seconds:.1f} / {r.mb / r.baseline_seconds:.1f}" if r.mb else ""
        rss = f"{r.rss_mb:.0f} / {r.baseline_rss_mb:.0f}" if r.baseline_rss_mb else f"{r.rss_mb:.0f}"
        lines.append(f"{r.case:<22}{r.variant + ' / ' + r.baseline:<32}{r.seconds:>6.2f} /{r.baseline_seconds:>6.2f}"
                     f"{rps:>20}{mbs:>14}{rss:>14}{r.ratio:>7.2f}x  {r.target_text:<24}{r.met}")
        if r.note:
            lines.append(f"{'':<22}{r.note}")
    return "\n".join(lines)


def to_json(rows: list[Row], notes: list[str], size: Size, repeat: int) -> dict:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[2]).stdout.strip()
    return {"size": asdict(size), "repeat": repeat, "commit": commit, "cpus": os.cpu_count(),
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "notes": notes,
            "rows": [{**asdict(r), "ratio": r.ratio, "met": r.met} for r in rows]}
