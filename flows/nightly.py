"""The nightly Prefect flow: extract -> land -> load -> dbt build -> validate -> publish.

Coarse tasks: one extract task per source x period (retried on network failures only), one load
task, dbt (each dbt node becomes its own task run through prefect-dbt), one validation task,
one publish task. Every run writes ``audit.runs`` / ``audit.run_steps`` and a summary artifact.
Nothing is published unless every enabled source extracted and loaded cleanly (configurable),
dbt build passed, and every Great Expectations suite passed.
"""
from __future__ import annotations

import fcntl
import time
import uuid
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows import loading, publish as publishing, transform, validation, warehouse
from flows.config import Config, load_config
from flows.connectors import CONNECTORS, ExtractResult, Partition
from flows.errors import BilateralError, SourceError, SourceUnavailable
from flows.http import HttpClient, LiveTransport
from flows.landing import Lander
from flows.recording import ReplayTransport


@dataclass
class RunSummary:
    run_id: str
    run_date: str
    mode: str
    status: str = "running"
    message: str = ""
    published: bool = False
    publish_unchanged: bool = False
    checksum: str = ""
    source_status: dict[str, str] = field(default_factory=dict)
    source_errors: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rows_landed: dict[str, int] = field(default_factory=dict)
    files_landed: dict[str, int] = field(default_factory=dict)
    rows_loaded: dict[str, int] = field(default_factory=dict)
    dbt: dict[str, int] = field(default_factory=dict)
    validations: list[dict] = field(default_factory=list)
    durations: dict[str, float] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    data_docs: str = ""
    step_windows: list[tuple[str, float, float]] = field(default_factory=list)  # (step, wall start, wall end)


class RunFailed(BilateralError):
    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(f"run {summary.run_id} failed: {summary.message}")


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


@contextmanager
def single_run_lock(warehouse_dir: Path) -> Iterator[None]:
    """One nightly run per warehouse at a time (DuckDB allows one writing process per file)."""
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    with open(warehouse_dir / ".nightly.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BilateralError(f"another bilateral run holds {warehouse_dir / '.nightly.lock'}; "
                                 "wait for it to finish (one writer per warehouse)") from None
        yield


def make_transport(mode: str, replay_dir: str | None):
    if mode == "live":
        return LiveTransport()
    return ReplayTransport(Path(replay_dir))


# Completed partitions survive a task retry: the retry only fetches what is still missing.
_COMPLETED: dict[str, dict[tuple[str, str], ExtractResult]] = defaultdict(dict)
# Circuit breaker: once a source stayed unreachable past its HTTP retries, its other periods in the
# same run fail at once instead of each waiting out the same outage (the task that hit it retries).
_UNREACHABLE: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)  # run -> source -> (period, error)


def _only_network_failures(task, task_run, state) -> bool:
    try:
        state.result()
    except SourceUnavailable:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(name="extract", task_run_name="extract-{source}-{period}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[10, 20], retry_jitter_factor=0.5,
      retry_condition_fn=_only_network_failures)
def extract_source_period(config: Config, source: str, period: str, partitions: list[Partition], run_id: str,
                          run_date: date, mode: str, replay_dir: str | None, state: dict[str, str],
                          full_refresh: bool, backfill: tuple[date, date] | None) -> list[ExtractResult]:
    """Fetch and land one source x period. Error bodies and malformed payloads fail their partition
    only; a network failure that outlasts the HTTP retries fails the task (and Prefect retries it)."""
    src = config.sources[source]
    cls = CONNECTORS[source]
    client = HttpClient(src, make_transport(mode, replay_dir), secret_params=cls.secret_params)
    connector = cls(config, src, client, run_date, state=state, full_refresh=full_refresh, backfill=backfill)
    lander = Lander(config.landing_dir, source, run_date.isoformat(), run_id)
    done = _COMPLETED[run_id]
    tripped = _UNREACHABLE[run_id].get(source)
    if tripped and tripped[0] != period:
        raise SourceError(source, f"period {period}", f"skipped: the source was unreachable earlier in this run "
                          f"(period {tripped[0]}): {tripped[1]}", "the next nightly run fetches it")
    out = []
    for partition in partitions:
        if (source, partition.key) in done:
            out.append(done[(source, partition.key)])
            continue
        first_file = len(lander.files)
        try:
            result = connector.extract(partition, lander)
        except SourceUnavailable as exc:
            _UNREACHABLE[run_id].setdefault(source, (period, exc.problem))
            raise
        except SourceError as exc:
            result = ExtractResult(source, partition.key, partition.period, files=lander.files[first_file:], error=str(exc))
            for f in result.files:
                if f.status == "landed":
                    lander.reject(f, f"partition {partition.key} failed: {exc.problem}")
        done[(source, partition.key)] = result
        out.append(result)
    return out


@task(name="load", cache_policy=NO_CACHE)
def load_task(db_path: Path, run_id: str, results: list[ExtractResult]) -> loading.LoadReport:
    return loading.load_results(db_path, run_id, results)


@task(name="dbt build", cache_policy=NO_CACHE)
def dbt_build_task(db_path: Path, run_id: str) -> transform.DbtReport:
    """One task for the whole build; every node is listed in the ``dbt-nodes`` artifact."""
    report = transform.build(db_path, run_id)
    _dbt_nodes_artifact(report)
    return report


def _dbt_nodes_artifact(report: transform.DbtReport) -> None:
    try:
        create_table_artifact(key="dbt-nodes", table=report.nodes,
                              description=f"dbt build: {report.counts()}")
    except Exception:  # noqa: BLE001 - an artifact must never fail the run
        pass


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(db_path: Path, run_id: str, gx_root: Path, enabled_sources: list[str]) -> validation.ValidationReport:
    return validation.validate(db_path, run_id, gx_root, enabled_sources=enabled_sources)


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(db_path: Path, published_dir: Path, run_id: str) -> publishing.PublishReport:
    return publishing.publish(db_path, published_dir, run_id)


def _markdown(summary: RunSummary) -> str:
    lines = [f"# bilateral nightly {summary.run_id}", "",
             f"- status: **{summary.status}**  mode: **{summary.mode}**  run date: {summary.run_date}",
             f"- published: {summary.published} (unchanged: {summary.publish_unchanged})"]
    if summary.message:
        lines.append(f"- message: {summary.message}")
    lines += ["", "| source | status | files landed | rows landed | rows loaded |", "|---|---|---|---|---|"]
    for s, st in summary.source_status.items():
        lines.append(f"| {s} | {st} | {summary.files_landed.get(s, 0)} | {summary.rows_landed.get(s, 0)} | "
                     f"{sum(v for k, v in summary.rows_loaded.items() if k.startswith(s))} |")
    lines += ["", "| step | seconds |", "|---|---|"] + [f"| {k} | {v:.2f} |" for k, v in summary.durations.items()]
    lines += ["", f"dbt: {summary.dbt}", "", "| suite | success | failed expectations | rows |", "|---|---|---|---|"]
    lines += [f"| {v['suite']} | {v['success']} | {v['failed']} | {v['rows_checked']} |" for v in summary.validations]
    if summary.notes:
        lines += ["", "Notes:"] + [f"- {n}" for n in summary.notes]
    return "\n".join(lines)


@flow(name="nightly", log_prints=False, validate_parameters=False)
def nightly(mode: str = "live", replay_dir: str | None = None, sources: list[str] | None = None,
            run_date: date | None = None, full_refresh: bool = False, config_path: str | None = None,
            overrides: list[str] | None = None, backfill: tuple[date, date] | None = None) -> RunSummary:
    """Run one night. ``mode`` is live (the APIs), sample (the bundled sample) or replay (``replay_dir``)."""
    config = load_config(config_path, overrides)
    run_date = run_date or datetime.now(timezone.utc).date()
    with single_run_lock(config.warehouse_dir):
        return _run(config, mode, replay_dir, sources, run_date, full_refresh, backfill)


def _run(config: Config, mode: str, replay_dir: str | None, sources: list[str] | None, run_date: date,
         full_refresh: bool, backfill: tuple[date, date] | None) -> RunSummary:
    prepared = time.perf_counter()
    if mode == "sample":
        from flows.samplegen import ensure_sample

        replay_dir = str(ensure_sample(config, run_date))
    selected = sources or config.enabled_sources
    unknown = [s for s in selected if s not in CONNECTORS]
    if unknown:
        raise BilateralError(f"unknown source(s) {unknown}; known: {sorted(CONNECTORS)}")
    run_id = new_run_id()
    db = config.duckdb_path
    summary = RunSummary(run_id=run_id, run_date=run_date.isoformat(), mode=mode)
    clock = time.perf_counter()
    steps: list[dict] = []

    def step(name: str, started: float, status: str, **kw) -> None:
        secs = time.perf_counter() - started
        wall_end = time.time()
        summary.durations[name] = round(summary.durations.get(name, 0.0) + secs, 3)
        summary.step_windows.append((name, wall_end - secs, wall_end))
        steps.append({"step": name, "status": status, "seconds": secs,
                      "started_at": datetime.fromtimestamp(wall_end - secs, timezone.utc), **kw})

    if mode == "sample":
        step("sample", prepared, "ok")
    warehouse.ensure_schemas(db)
    warehouse.start_run(db, run_id, run_date.isoformat(), mode, replay_dir or "", selected)
    try:
        # extract + land: one task per source x period
        t0 = time.perf_counter()
        futures = []
        for source in selected:
            src = config.sources[source]
            cls = CONNECTORS[source]
            state = warehouse.source_state(db, source)
            planner = cls(config, src, HttpClient(src, LiveTransport()), run_date, state=state,
                          full_refresh=full_refresh, backfill=backfill)
            by_period: dict[str, list[Partition]] = defaultdict(list)
            for p in planner.partitions():
                by_period[p.period].append(p)
            summary.source_status[source] = "ok"
            # Prefect retries the whole source x period when the network stays down past the HTTP
            # client's own retries; delays scale with the source's backoff (10x, 20x backoff_seconds).
            extract = extract_source_period.with_options(
                retry_delay_seconds=[src.backoff_seconds * 5 * 2 ** i for i in range(1, 3)])
            for period, parts in by_period.items():
                futures.append((source, period, extract.submit(
                    config, source, period, parts, run_id, run_date, mode, replay_dir, state, full_refresh, backfill)))
        results: list[ExtractResult] = []
        for source, period, fut in futures:
            fut.wait()
            if fut.state.is_completed():
                results.extend(fut.result())
            else:
                partial = [r for (s, _), r in _COMPLETED[run_id].items() if s == source and r.period == period]
                results.extend(partial)
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - reported, other sources go on
                    summary.source_status[source] = "failed"
                    summary.source_errors.setdefault(source, []).append(str(exc))
        for r in results:
            summary.files_landed[r.source] = summary.files_landed.get(r.source, 0) + len(r.files)
            summary.rows_landed[r.source] = summary.rows_landed.get(r.source, 0) + r.records
            summary.notes.extend(f"[{r.source}] {n}" for n in r.notes)
            if r.error:
                summary.source_status[r.source] = "failed"
                summary.source_errors.setdefault(r.source, []).append(r.error)
        step("extract", t0, "ok", rows=sum(summary.rows_landed.values()))
        _COMPLETED.pop(run_id, None)
        _UNREACHABLE.pop(run_id, None)

        t0 = time.perf_counter()
        report = load_task(db, run_id, results)
        summary.rows_loaded = dict(report.rows_by_table)
        for err in report.errors:
            src = err[1:].split(" ", 1)[0]
            summary.source_status[src] = "failed"
            summary.source_errors.setdefault(src, []).append(err)
        step("load", t0, "failed" if report.errors else "ok", rows=report.rows_loaded, files=report.files_loaded)
        for source, st in summary.source_status.items():  # per-source outcome of extract + load, for `bilateral status`
            steps.append({"step": "extract", "source": source, "status": st, "seconds": None,
                          "started_at": datetime.now(timezone.utc), "files": summary.files_landed.get(source, 0),
                          "rows": summary.rows_landed.get(source, 0),
                          "message": " | ".join([*summary.source_errors.get(source, []),
                                                 *(n for n in summary.notes if n.startswith(f"[{source}]"))])[:4000]})
        failed_sources = [s for s, st in summary.source_status.items() if st == "failed"]
        source_problem = ""
        if failed_sources:
            details = "; ".join(e for s in failed_sources for e in summary.source_errors.get(s, [])[:3])
            source_problem = f"source(s) {failed_sources} failed: {details}"

        if failed_sources and report.rows_loaded == 0 and not config.publish_on_source_failure:
            return _finish(summary, steps, "failed", f"{source_problem}; nothing new was loaded, nothing published", db)

        t0 = time.perf_counter()
        if config.dbt_task_per_node:  # prefect-dbt: each node its own task run (slower)
            dbt_report = transform.build(db, run_id, task_per_node=True)
            _dbt_nodes_artifact(dbt_report)
        else:
            dbt_report = dbt_build_task(db, run_id)
        summary.dbt = dbt_report.counts()
        step("dbt", t0, "ok" if dbt_report.success else "failed", rows=len(dbt_report.nodes), message=dbt_report.message)
        if not dbt_report.success:
            return _finish(summary, steps, "failed", _join(source_problem, f"dbt build failed: {dbt_report.message}"), db)

        t0 = time.perf_counter()
        vreport = validate_task(db, run_id, config.warehouse_dir / "gx", config.enabled_sources)
        summary.notes.extend(f"[validation] skipped suite {s}" for s in vreport.skipped)
        summary.validations = [{k: v for k, v in asdict(s).items() if k != "failures"} for s in vreport.suites]
        summary.data_docs = vreport.data_docs
        step("validate", t0, "ok" if vreport.success else "failed")
        if not vreport.success:
            return _finish(summary, steps, "failed", _join(source_problem, vreport.failure_message()), db)

        if failed_sources and not config.publish_on_source_failure:
            return _finish(summary, steps, "failed", f"{source_problem}; nothing published "
                           "(set warehouse.publish_on_source_failure = true to publish the rest)", db)

        t0 = time.perf_counter()
        preport = publish_task(db, config.published_dir, run_id)
        summary.published, summary.publish_unchanged = preport.published, preport.unchanged
        summary.checksum, summary.tables = preport.checksum, preport.tables
        step("publish", t0, "ok", rows=sum(preport.tables.values()))
        status = "success" if not failed_sources else "partial"
        return _finish(summary, steps, status, "" if not failed_sources else f"published without {failed_sources}", db)
    except RunFailed:
        raise
    except BaseException as exc:
        _finish(summary, steps, "failed", f"{type(exc).__name__}: {exc}", db, raise_on_failure=False)
        raise
    finally:
        summary.durations["flow_total"] = round(time.perf_counter() - clock, 3)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _finish(summary: RunSummary, steps: list[dict], status: str, message: str, db: Path,
            raise_on_failure: bool = True) -> RunSummary:
    summary.status, summary.message = status, message
    warehouse.record_steps(db, summary.run_id, steps)
    warehouse.finish_run(db, summary.run_id, status, message, sum(summary.rows_landed.values()),
                         sum(summary.rows_loaded.values()), summary.published, summary.durations)
    try:
        create_markdown_artifact(key="nightly-summary", markdown=_markdown(summary),
                                 description=f"bilateral nightly {summary.run_id}: {status}")
    except Exception:  # noqa: BLE001 - an artifact must never fail the run
        pass
    if status == "failed" and raise_on_failure:
        raise RunFailed(summary)
    return summary
