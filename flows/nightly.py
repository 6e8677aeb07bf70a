"""The nightly Prefect flow: extract -> land -> load -> dbt build -> validate -> publish.

Coarse tasks: one extract task per source x period (retried on network failures only), one load
task, one dbt build task (every node listed in the ``dbt-nodes`` artifact; ``dbt.task_per_node``
makes each node a task of its own), one validation task, one publish task. Every run writes
``audit.runs`` / ``audit.run_steps`` and a ``nightly-summary`` artifact. Nothing is published
unless every selected source extracted and loaded cleanly (or ``publish_on_source_failure``), dbt
build passed, and every Great Expectations suite passed.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from flows import extract, load_batches, loading, progress, publish, quarantine, transform, validation
from flows.config import load_config
from flows.errors import SourceUnavailable, StorageError
from flows.paths import find_project
from flows.run import RunContext, RunFailed, RunSummary, Step
from flows.run_inputs import check_run_inputs, today_in
from flows.sources.base import ExtractResult, Partition

__all__ = ["RunFailed", "RunSummary", "nightly"]


@flow(name="nightly", log_prints=False, validate_parameters=False)
def nightly(mode: str = "live", replay_dir: str | None = None, sources: list[str] | None = None,
            run_date: date | None = None, full_refresh: bool = False, config_path: str | None = None,
            overrides: list[str] | None = None,
            project_dir: str | None = None) -> RunSummary:
    """Run one night. ``mode`` is live (the APIs), sample (the bundled sample) or replay (``replay_dir``)."""
    config = load_config(config_path, overrides, project=find_project(project_dir))
    check_run_inputs(config, mode, run_date, replay_dir, sources)  # scheduled runs are checked too
    run = RunContext(config, mode, run_date or today_in(config.schedule_timezone), sources, replay_dir,
                     full_refresh)
    with run.running():
        results = extract_and_land(run)
        loaded = load(run, results)
        record_source_outcomes(run)
        return build_validate_publish(run, loaded.rows_loaded)


def build_validate_publish(run: RunContext, rows_loaded: int) -> RunSummary:
    """What every run does after loading (the nightly, a backfill): dbt build, validate (refused
    records quarantined and the marts built again without them), publish, and the run's outcome."""
    config = run.config
    problem = run.source_problem()
    if problem and rows_loaded == 0 and not config.publish_on_source_failure:
        return run.fail(problem, "nothing new was loaded, nothing published")

    built = build(run)
    if not built.success:
        return run.fail(problem, f"dbt build failed: {built.message}")

    checked = validate(run)
    if not checked.success and refuse(run, checked):  # refused records quarantined: build without them
        built = build(run)
        checked = validate(run) if built.success else checked
    if not checked.success:
        return run.fail(problem, checked.failure_message())
    if sum(run.summary.quarantined.values()) > config.max_quarantined_per_night:
        return run.fail(problem, f"{sum(run.summary.quarantined.values())} records were quarantined tonight, more "
                                 f"than warehouse.max_quarantined_per_night = {config.max_quarantined_per_night}: "
                                 "a source looks broken; `bilateral quarantine` lists them; nothing published")

    if problem and not config.publish_on_source_failure:
        return run.fail(problem, "nothing published (set warehouse.publish_on_source_failure = true "
                                 "to publish the rest)")
    publish_marts(run)
    if problem:
        return run.finish("partial", f"published without {run.summary.failed_sources}")
    return run.finish("success")


# --- steps -----------------------------------------------------------------------------------------
def extract_and_land(run: RunContext) -> list[ExtractResult]:
    """One task per source x period, all submitted at once; a failed one does not stop the others."""
    with run.step("extract") as step:
        submitted = []
        for source in run.sources:
            run.summary.source_status[source] = "ok"
        unreachable = extract.preflight(run)  # unreachable hosts: not extracted, no retries tonight
        for source in run.sources:
            if source in unreachable:
                continue
            # Prefect retries a source x period when the network stays down past the HTTP client's own
            # retries; the delays scale with the source's backoff (10x, 20x backoff_seconds)
            backoff = run.config.sources[source].backoff_seconds
            task_ = extract_task.with_options(retry_delay_seconds=[backoff * 5 * 2 ** i for i in range(1, 3)])
            planned = extract.plan(run, source)
            progress.event("planned", step="extract", source=source, unit="periods", total=len(planned))
            for period, partitions in planned.items():
                submitted.append((source, period, task_.submit(quote(run), source, period, partitions)))
        results: list[ExtractResult] = []
        disk_fault: StorageError | None = None
        for source, period, future in submitted:  # every task has ended before the step does
            future.wait()
            try:
                results.extend(future.result())
            except StorageError as exc:
                disk_fault = disk_fault or exc
            except Exception as exc:  # noqa: BLE001 - reported; the other sources go on
                results.extend(run.completed_in(source, period))
                run.source_failed(source, str(exc))
        if disk_fault:
            raise disk_fault  # the disk, not a source: the whole run ends with one message
        extract.record_outcomes(run, results)
        step.rows = sum(run.summary.rows_landed.values())
    return results


def load(run: RunContext, results: list[ExtractResult]) -> loading.LoadReport:
    with run.step("load") as step:
        report = load_task(quote(run), results)
        for table, n in report.rows_by_table.items():
            run.summary.rows_loaded[table] = run.summary.rows_loaded.get(table, 0) + n
        run.summary.notes.extend(report.notes)
        for source, n in report.quarantined_by_source.items():
            run.quarantined(source, n)
        for failure in report.failures:
            run.source_failed(failure.source, failure.message)
        step.status, step.rows, step.files = ("failed" if report.failures else "ok"), report.rows_loaded, report.files_loaded
    return report


def record_source_outcomes(run: RunContext) -> None:
    """Each source's outcome tonight as an ``extract`` step row (what `bilateral status` reads)."""
    for source, status in run.summary.source_status.items():
        notes = [n for n in run.summary.notes if n.startswith(f"[{source}]")]
        run.record_step(Step("extract", status=status, source=source,
                                     files=run.summary.files_landed.get(source, 0),
                                     rows=run.summary.rows_landed.get(source, 0),
                                     message=" | ".join(run.summary.source_errors.get(source, [])),
                                     notes=" | ".join(notes)))


def build(run: RunContext) -> transform.DbtReport:
    with run.step("dbt") as step:
        if run.config.dbt_task_per_node:  # prefect-dbt: each node its own task run (slower)
            report = transform.build(run.config.project, run.db, run.run_id, transform.NIGHTLY_BUILD,
                                     task_per_node=True, full_refresh=run.full_refresh,
                                     memory_limit=run.config.duckdb_memory_limit)
            _dbt_nodes_artifact(report)
        else:
            report = dbt_build_task(quote(run))
        run.summary.dbt = report.counts()
        step.status, step.rows, step.message = ("ok" if report.success else "failed"), len(report.nodes), report.message
    return report


def validate(run: RunContext) -> validation.ValidationReport:
    with run.step("validate") as step:
        report = validate_task(quote(run))
        run.summary.notes.extend(f"[validation] skipped suite {s}" for s in report.skipped)
        run.summary.validations = [{k: v for k, v in asdict(s).items() if k not in ("failures", "refused")}
                                   for s in report.suites]
        run.summary.notes.extend(f"[validation] warning: {line}" for line in report.warning_lines())
        run.summary.data_docs = report.data_docs
        step.status = "ok" if report.success else "failed"
    return report


def refuse(run: RunContext, report: validation.ValidationReport) -> int:
    """Quarantine the records failed raw-batch suites named, so that they never reach a mart (tonight
    after a rebuild, or any later night); returns how many."""
    with run.step("refuse") as step:
        added = quarantine.refuse_validated(run.db, run.run_id, [s for s in report.suites if s.refused])
        for source, count in added.items():
            run.quarantined(source, count)
        n = sum(added.values())
        run.summary.notes.append(f"[validation] {n} record(s) or file(s) refused by raw-batch suites were quarantined; "
                                 "the marts were built again without them")
        step.rows = n
    return n


def publish_marts(run: RunContext) -> publish.PublishReport:
    with run.step("publish") as step:
        report = publish_task(quote(run))
        s = run.summary
        s.published, s.publish_unchanged, s.checksum, s.tables = report.published, report.unchanged, report.checksum, report.tables
        s.notes.extend(report.notes)
        step.rows = sum(report.tables.values())
    return report


# --- tasks -----------------------------------------------------------------------------------------
def _only_network_failures(task, task_run, state) -> bool:
    try:
        state.result()
    except SourceUnavailable:
        return True
    except Exception:  # noqa: BLE001 - anything else is not worth retrying
        return False
    return False


@task(name="extract", task_run_name="extract-{source}-{period}", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=[10, 20], retry_jitter_factor=0.5, retry_condition_fn=_only_network_failures)
def extract_task(run: RunContext, source: str, period: str, partitions: list[Partition]) -> list[ExtractResult]:
    return extract.extract_period(run, source, period, partitions)


@task(name="load", cache_policy=NO_CACHE)
def load_task(run: RunContext, results: list[ExtractResult]) -> loading.LoadReport:
    shares = {name: run.config.sources[name].max_bad_record_share for name in run.sources}
    return loading.load_results(run.db, run.run_id, results, run_date=run.run_date, max_bad_share=shares,
                                batch_bytes=run.config.load_batch_mb * load_batches.MB)


@task(name="dbt build", cache_policy=NO_CACHE)
def dbt_build_task(run: RunContext) -> transform.DbtReport:
    report = transform.build(run.config.project, run.db, run.run_id, transform.NIGHTLY_BUILD,
                             full_refresh=run.full_refresh, memory_limit=run.config.duckdb_memory_limit)
    _dbt_nodes_artifact(report)
    return report


@task(name="validate", cache_policy=NO_CACHE)
def validate_task(run: RunContext) -> validation.ValidationReport:
    return validation.validate(run.db, run.run_id, run.config.gx_dir, suites_dir=run.config.project.suites_dir,
                               enabled_sources=run.config.enabled_sources)


@task(name="publish", cache_policy=NO_CACHE)
def publish_task(run: RunContext) -> publish.PublishReport:
    from flows.report.build import site_writer

    return publish.publish(run.db, run.config.published_dir, run.run_id, site=site_writer(run.config))


def _dbt_nodes_artifact(report: transform.DbtReport) -> None:
    try:
        create_table_artifact(key="dbt-nodes", table=report.nodes, description=f"dbt build: {report.counts()}")
    except Exception:  # noqa: BLE001 - an artifact must never fail the run
        pass
