"""The backfill flow: history of some sources between two dates, in chunks, resumable.

``bilateral backfill --source S --from D1 --to D2`` plans the range once (each connector's
partitions for it: a GDELT month of files, a Comtrade reporter and year, a WITS year...); each
partition is a chunk: fetched and landed (one Prefect task, with the nightly's retries), loaded in
its own transactions, then recorded as done in ``audit.backfill_chunks`` under the backfill's key
(sources, range). Then dbt build, validation and publishing run once, as in the nightly.

Killed, the next ``bilateral backfill`` with the same sources and range goes on where it stopped
(the chunks recorded as done are not fetched again; what the killed run had landed but not loaded
is settled by the next run's recovery) and ends with the same marts as an uninterrupted backfill.
Run twice, the second fetches nothing and publishes the same marts (``--restart`` fetches every
chunk again). While a nightly holds the warehouse it is refused (exit 3), like a second nightly.
"""
from __future__ import annotations

import hashlib
from datetime import date

from prefect import flow
from prefect.utilities.annotations import quote

from flows import extract, progress, warehouse
from flows.config import load_config
from flows.errors import StorageError
from flows.nightly import build_validate_publish, extract_task, load, record_source_outcomes
from flows.paths import find_project
from flows.run import RunContext, RunSummary
from flows.run_inputs import check_run_inputs, today_in
from flows.run_markers import marker

CHUNKS_DDL = """
create table if not exists audit.backfill_chunks (
    backfill_key varchar, source varchar, chunk varchar, run_id varchar, files bigint, records bigint,
    finished_at timestamptz)
"""


def backfill_key(sources: list[str], start: date, end: date) -> str:
    """The identity of a backfill: the same sources and range resume each other."""
    text = f"{','.join(sorted(sources))}|{start.isoformat()}|{end.isoformat()}"
    return f"{start.isoformat()}..{end.isoformat()}:{hashlib.sha256(text.encode()).hexdigest()[:12]}"


@flow(name="backfill", log_prints=False, validate_parameters=False)
def backfill(date_from: date, date_to: date, mode: str = "live", replay_dir: str | None = None,
             sources: list[str] | None = None, run_date: date | None = None, restart: bool = False,
             config_path: str | None = None, overrides: list[str] | None = None,
             project_dir: str | None = None) -> RunSummary:
    """Fill ``sources`` (default: every enabled source) between ``date_from`` and ``date_to``."""
    config = load_config(config_path, overrides, project=find_project(project_dir))
    check_run_inputs(config, mode, run_date, replay_dir, sources, (date_from, date_to))
    run = RunContext(config, mode, run_date or today_in(config.schedule_timezone), sources, replay_dir,
                     False, (date_from, date_to))
    with run.running():
        rows = fetch_and_load_chunks(run, backfill_key(list(run.sources), date_from, date_to), restart)
        record_source_outcomes(run)
        return build_validate_publish(run, rows)


def fetch_and_load_chunks(run: RunContext, key: str, restart: bool) -> int:
    """Every chunk not done yet under ``key``: fetched, landed, loaded, recorded. A source whose
    chunk fails stops (the next backfill resumes at that chunk); the others go on. Rows loaded."""
    with warehouse.connect(run.db) as con:
        con.execute(CHUNKS_DDL)
        done = set() if restart else {tuple(r) for r in con.execute(
            "select source, chunk from audit.backfill_chunks where backfill_key = ?", [key]).fetchall()}
    for source in run.sources:
        run.summary.source_status[source] = "ok"
    unreachable = extract.preflight(run)
    rows = 0
    for source in [s for s in run.sources if s not in unreachable]:
        chunks = [p for partitions in extract.plan(run, source).values() for p in partitions]
        todo = [p for p in chunks if (source, p.key) not in done]
        progress.event("planned", step="backfill", source=source, unit="chunks", total=len(chunks))
        progress.event("done", step="backfill", source=source, n=len(chunks) - len(todo))
        if len(todo) < len(chunks):
            run.summary.notes.append(f"[{source}] backfill {key}: {len(chunks) - len(todo)} of {len(chunks)} chunks "
                                     "were done by an earlier run; going on with the rest")
        for chunk in todo:
            with run.step("extract", source=source) as step:
                try:
                    results = extract_task(quote(run), source, chunk.period, [chunk])
                except StorageError:
                    raise  # the disk, not the source: the run ends with one message
                except Exception as exc:  # noqa: BLE001 - the source stops here; the next backfill resumes
                    run.source_failed(source, f"{exc} (backfill chunk {chunk.key}; run the backfill again to resume)")
                    step.status = "failed"
                    break
                extract.record_outcomes(run, results)
                step.files, step.rows = sum(len(r.files) for r in results), sum(r.records for r in results)
            report = load(run, results)
            rows += report.rows_loaded
            if report.failures or any(r.error for r in results):
                break  # the chunk stays to do: the next backfill fetches it again
            with warehouse.connect(run.db) as con:
                con.execute("insert into audit.backfill_chunks values (?, ?, ?, ?, ?, ?, ?)",
                            [key, source, chunk.key, run.run_id, step.files, step.rows, warehouse.utcnow()])
            progress.event("done", step="backfill", source=source, files=step.files, records=step.rows)
            marker("backfill:chunk")
    return rows
