"""Extract and land: run a source's connector over its partitions, one source x period at a time.

Tonight's partitions come from each connector's ``partitions()``; they are grouped by
``Partition.period`` into one unit of work (one Prefect task). Inside a unit every partition is
fetched and landed; error bodies and malformed payloads fail their partition only (its landed files
are rejected); a network failure that outlasts the HTTP retries trips the source's circuit and
fails the unit, which Prefect may retry: the retry fetches only the partitions not yet completed,
and the source's other periods fail at once instead of each waiting out the same outage.
"""
from __future__ import annotations

from collections import defaultdict

from flows import progress, warehouse
from flows.errors import SourceError, SourceUnavailable
from flows.run import RunContext
from flows.run_markers import marker
from flows.sources.base import ExtractResult, Partition


def plan(run: RunContext, source: str) -> dict[str, list[Partition]]:
    """Tonight's partitions of one source, by period (one unit of work each)."""
    state = warehouse.source_state(run.db, source)
    by_period: dict[str, list[Partition]] = defaultdict(list)
    for partition in run.connector(source, state).partitions():
        by_period[partition.period].append(partition)
    return dict(by_period)


def preflight(run: RunContext) -> list[str]:
    """Live runs: the selected sources whose host (or proxy) cannot be reached, each marked so in the
    run (see flows.preflight); they are not extracted tonight. Replay and sample runs reach no host."""
    if run.mode != "live":
        return []
    from flows import preflight as probe

    targets = [probe.target_for(name, run.config.sources[name].base_url) for name in run.sources]
    unreachable = probe.check(targets)
    for name, problem in unreachable.items():
        run.source_unreachable(name, problem.message)
    return list(unreachable)


def _scrubbed(run: RunContext, exc: SourceError) -> SourceError:
    """The same error without tonight's secrets: an error leaving a task becomes a Prefect state and event."""
    return type(exc)(exc.source, run.redactor.scrub(exc.where), run.redactor.scrub(exc.problem),
                     run.redactor.scrub(exc.hint))


def extract_period(run: RunContext, source: str, period: str, partitions: list[Partition]) -> list[ExtractResult]:
    """Fetch and land one source x period. Raises SourceUnavailable when the network stays down."""
    try:
        run.circuits[source].check(period)
    except SourceError as exc:  # the answer that stopped the source, told again
        raise _scrubbed(run, exc) from None
    connector = run.connector(source, warehouse.source_state(run.db, source))
    lander = run.lander(source)
    out = []
    for partition in partitions:
        done = run.completed(source, partition.key)
        if done is not None:
            out.append(done)
            continue
        first_file = len(lander.files)
        try:
            result = connector.extract(partition, lander)
        except SourceUnavailable as exc:
            run.circuits[source].trip(exc, period)
            raise _scrubbed(run, exc) from None
        except SourceError as exc:
            result = ExtractResult(source, partition.key, partition.period, files=lander.files[first_file:],
                                   error=run.redactor.scrub(exc))
            for f in result.files:
                if f.status == "landed":
                    lander.reject(f, f"partition {partition.key} failed: {run.redactor.scrub(exc.problem)}")
        run.complete(result)
        out.append(result)
        marker("extract:landed")
    progress.event("done", step="extract", source=source, files=sum(len(r.files) for r in out),
                   records=sum(r.records for r in out))
    return out


def record_outcomes(run: RunContext, results: list[ExtractResult]) -> None:
    """Per-source counts, notes and failed partitions of tonight's extraction, into the summary."""
    s = run.summary
    for r in results:
        s.files_landed[r.source] = s.files_landed.get(r.source, 0) + len(r.files)
        s.rows_landed[r.source] = s.rows_landed.get(r.source, 0) + r.records
        s.notes.extend(f"[{r.source}] {n}" for n in r.notes)
        if r.error:
            run.source_failed(r.source, r.error)
        elif r.stale:
            run.source_stale(r.source)
