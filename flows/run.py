"""One nightly run: what it is (RunContext), the steps it records as they happen, and its summary.

The run object travels explicitly from step to step (and into Prefect tasks): run id, configuration,
mode, warehouse, per-source outcomes and timings. Nothing about a run lives in module state.
``render_summary`` is the one renderer of a run's outcome: the CLI prints it and the Prefect
``nightly-summary`` artifact shows it.
"""
from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterator

from flows import progress, warehouse
from flows.config import Config
from flows.errors import BilateralError, RunLocked, StorageError, WarehouseLocked
from flows.storage import guarded
from flows.http import HttpClient, LiveTransport, Transport
from flows.landing import FileSequence, Lander
from flows.recording import ReplayTransport
from flows.secrets import Redactor, redacting
from flows.sources import discover_sources
from flows.sources.base import Circuit, ExtractResult, Source


@dataclass
class RunSummary:
    """The outcome of one run, as the CLI, the artifact, the benchmark and the tests read it."""

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
    quarantined: dict[str, int] = field(default_factory=dict)  # records refused tonight, per source
    quarantined_total: int = 0  # records still in quarantine after the run, all sources
    data_docs: str = ""
    step_windows: list[tuple[str, float, float]] = field(default_factory=list)  # (step, wall start, wall end)
    #: sources the preflight could not reach, with why (not fetched tonight, no retries)
    unreachable: dict[str, str] = field(default_factory=dict)
    warehouse: str = ""  # the warehouse folder; the header says so when it lies outside the project
    outside_project: bool = False

    @property
    def failed_sources(self) -> list[str]:
        return [s for s, st in self.source_status.items() if st == "failed"]

    @property
    def stale_sources(self) -> list[str]:
        return [s for s, st in self.source_status.items() if st == "stale"]


class RunFailed(BilateralError):
    def __init__(self, summary: RunSummary) -> None:
        self.summary = summary
        super().__init__(f"run {summary.run_id} failed: {summary.message}")


@dataclass
class Step:
    """One recorded step; the block that runs it may set its status, counts and message."""

    name: str
    status: str = "ok"
    rows: int | None = None
    files: int | None = None
    message: str = ""  # what went wrong (errors only)
    source: str | None = None
    notes: str = ""  # informational: worth knowing, not an error


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


LOCK_FILE = ".nightly.lock"


@contextmanager
def single_run_lock(warehouse_dir: Path) -> Iterator[None]:
    """One nightly run per warehouse at a time (DuckDB allows one writing process per file)."""
    lock = warehouse_dir / LOCK_FILE
    with guarded(lock, "create the run lock"):
        warehouse_dir.mkdir(parents=True, exist_ok=True)
        fh = open(lock, "a+")
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise RunLocked(f"another bilateral run ({holder}) is writing this warehouse and holds {lock}; "
                            "nothing was changed. Wait for it to finish (`bilateral status`), then run again "
                            "(one writer per warehouse)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        try:
            yield
        finally:  # an empty lock file: no run holds it (what `bilateral status` reads, never locking it)
            try:
                fh.seek(0)
                fh.truncate()
            except OSError:  # e.g. the disk became read-only: the holder's pid, gone, says the same
                pass


class RunContext:
    """Everything one run knows, passed to every step. Thread-safe where Prefect's extract tasks
    share it (completed partitions, circuits, file sequences)."""

    def __init__(self, config: Config, mode: str, run_date: date, sources: list[str] | None = None,
                 replay_dir: str | None = None, full_refresh: bool = False,
                 backfill: tuple[date, date] | None = None) -> None:
        known = discover_sources()
        selected = list(sources or config.enabled_sources)
        unknown = [s for s in selected if s not in known]
        if unknown:
            raise BilateralError(f"unknown source(s) {unknown}; known: {sorted(known)}")
        self.config, self.mode, self.run_date = config, mode, run_date
        self.replay_dir, self.full_refresh, self.backfill = replay_dir, full_refresh, backfill
        self.sources: dict[str, Source] = {name: known[name] for name in selected}
        self.run_id = new_run_id()
        self.db = config.duckdb_path
        self.summary = RunSummary(run_id=self.run_id, run_date=run_date.isoformat(), mode=mode,
                                  warehouse=str(config.warehouse_dir),
                                  outside_project=not config.warehouse_dir.is_relative_to(config.project.root.resolve()))
        self.circuits = {name: Circuit(name) for name in selected}
        #: tonight's secret values: scrubbed from every message, audit row, log record and artifact
        self.redactor = Redactor(config.sources[name].api_key() for name in selected
                                 if config.sources[name].api_key_env or config.sources[name].api_key_secret_block)
        self._sequences: dict[str, FileSequence] = {}
        self._completed: dict[tuple[str, str], ExtractResult] = {}
        self._lock = threading.Lock()
        self._clock = time.perf_counter()

    # --- lifecycle -------------------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator["RunContext"]:
        """Hold the warehouse lock, prepare the sample (sample mode), open the audit row, and close it
        however the run ends. Log records are scrubbed of tonight's secrets meanwhile."""
        from flows.recovery import settle_abandoned_runs

        with redacting(self.redactor), single_run_lock(self.config.warehouse_dir):
            warehouse.wait_for_working_file(self.db, self.config.working_file_wait_seconds,
                                            lambda text: progress.event("note", text=text))
            warehouse.ensure_schemas(self.db)
            self.summary.notes.extend(settle_abandoned_runs(self.config))  # runs killed before us: we hold the lock
            started, wall = time.perf_counter(), time.time()
            if self.mode == "sample":
                from flows.sample import ensure_sample

                progress.event("step", step="sample", state="started")
                self.replay_dir = str(ensure_sample(self.config, self.run_date))
                progress.event("step", step="sample", state="ok", seconds=time.perf_counter() - started)
            warehouse.start_run(self.db, self.run_id, self.summary.run_date, self.mode, self.replay_dir or "",
                                list(self.sources))
            self.snapshot()
            if self.mode == "sample":
                secs = time.perf_counter() - started
                self.summary.durations["sample"] = round(secs, 3)
                self.summary.step_windows.append(("sample", wall, wall + secs))
                self.record_step(Step("sample"), seconds=secs, started_at=datetime.fromtimestamp(wall, timezone.utc))
            try:
                yield self
            except RunFailed:
                raise
            except BaseException as exc:
                self.finish("failed", f"{type(exc).__name__}: {exc}", raise_on_failure=False)
                if self.redactor and self.redactor.scrub(exc) != str(exc):
                    raise BilateralError(self.redactor.scrub(exc)) from None
                raise
            finally:
                self.summary.durations["flow_total"] = round(time.perf_counter() - self._clock, 3)

    @contextmanager
    def step(self, name: str, source: str | None = None) -> Iterator[Step]:
        """Time a step and record it (durations, audit.run_steps) when it ends, however it ends."""
        record = Step(name, source=source)
        started, wall = time.perf_counter(), time.time()
        self._audit(warehouse.seen, self.db, self.run_id, name)
        self.snapshot()
        progress.event("step", step=name, state="started")
        try:
            yield record
        except BaseException as exc:
            record.status = "failed"
            record.message = record.message or f"{type(exc).__name__}: {exc}"
            raise
        finally:
            secs = time.perf_counter() - started
            progress.event("step", step=name, state=record.status, seconds=secs)
            self.summary.durations[name] = round(self.summary.durations.get(name, 0.0) + secs, 3)
            self.summary.step_windows.append((name, wall, wall + secs))
            self.record_step(record, seconds=secs, started_at=datetime.fromtimestamp(wall, timezone.utc))

    def record_step(self, record: Step, seconds: float | None = None, started_at: datetime | None = None) -> None:
        self._audit(warehouse.record_steps, self.db, self.run_id, [{
            "step": record.name, "source": record.source, "status": record.status, "seconds": seconds,
            "started_at": started_at or datetime.now(timezone.utc), "files": record.files, "rows": record.rows,
            "message": self.redactor.scrub(record.message)[:4000], "notes": self.redactor.scrub(record.notes)[:4000]}])

    def _audit(self, write, *args) -> None:
        """Write bookkeeping; on a full or read-only disk the run goes on to report its real problem
        (the run's row then stays ``running`` until the next run marks it abandoned)."""
        try:
            write(*args)
        except (StorageError, WarehouseLocked) as exc:
            note = f"[audit] the run's bookkeeping could not be written: {exc}"
            if note not in self.summary.notes:
                self.summary.notes.append(note)

    def snapshot(self) -> None:
        """Refresh the status snapshot (what ``bilateral status`` reads while this run holds the working
        file); a failure is a note: status then reads the working file once it is free."""
        from flows.status_snapshot import write_snapshot

        try:
            write_snapshot(self.db, self.config.warehouse_dir)
        except Exception as exc:  # noqa: BLE001 - the snapshot must never fail the run
            note = (f"[status] the status snapshot could not be written ({type(exc).__name__}: "
                    f"{str(exc).splitlines()[0] if str(exc) else ''}); `bilateral status` reads the working file when it is free")
            if note not in self.summary.notes:
                self.summary.notes.append(note)

    def finish(self, status: str, message: str = "", raise_on_failure: bool = True) -> RunSummary:
        from flows import quarantine

        s = self.summary
        s.status, s.message = status, self.redactor.scrub(message)
        s.notes = [self.redactor.scrub(n) for n in s.notes]
        s.source_errors = {k: [self.redactor.scrub(e) for e in v] for k, v in s.source_errors.items()}
        try:
            s.quarantined_total = sum(c["total"] for c in quarantine.counts(self.db).values())
        except (StorageError, WarehouseLocked):
            pass
        self._audit(warehouse.finish_run, self.db, self.run_id, status, s.message, sum(s.rows_landed.values()),
                    sum(s.rows_loaded.values()), s.published, s.durations)
        self.snapshot()
        self._alert()
        _summary_artifact(s)
        if status == "failed" and raise_on_failure:
            raise RunFailed(s)
        return s

    def _alert(self) -> None:
        """The one call site of alerts (flows/alerts.py): they never change the run's outcome."""
        from flows.alerts import alert_run

        alert_run(self.config, self.summary, self.config.enabled_sources,
                  record=lambda rows: self._audit(warehouse.record_alerts, self.db, rows), scrub=self.redactor.scrub)

    def fail(self, *problems: str) -> RunSummary:
        """End the run as failed (raises RunFailed): nothing is published."""
        return self.finish("failed", "; ".join(p for p in problems if p))

    # --- sources ---------------------------------------------------------------------------------
    def transport(self) -> Transport:
        if self.mode == "live":
            return LiveTransport()
        return ReplayTransport(Path(self.replay_dir))

    def connector(self, name: str, state: dict[str, str]):
        settings = self.config.sources[name]
        source = self.sources[name]
        client = HttpClient(settings, self.transport(), secret_params=source.secret_params)
        return source.connector(self.config, settings, client, self.run_date, state=state,
                                full_refresh=self.full_refresh, backfill=self.backfill, circuit=self.circuits[name])

    def lander(self, name: str) -> Lander:
        landing = self.config.landing_dir
        with self._lock:
            if name not in self._sequences:
                self._sequences[name] = FileSequence(landing / name / self.summary.run_date / self.run_id)
            sequence = self._sequences[name]
        return Lander(landing, name, self.summary.run_date, self.run_id, sequence=sequence, scrub=self.redactor.scrub)

    def completed(self, source: str, partition: str) -> ExtractResult | None:
        """A partition an earlier attempt of its task already finished (a retry fetches only the rest)."""
        with self._lock:
            return self._completed.get((source, partition))

    def complete(self, result: ExtractResult) -> None:
        with self._lock:
            self._completed[(result.source, result.partition)] = result

    def completed_in(self, source: str, period: str) -> list[ExtractResult]:
        with self._lock:
            return [r for (s, _), r in self._completed.items() if s == source and r.period == period]

    def source_failed(self, source: str, problem: str) -> None:
        self.summary.source_status[source] = "failed"
        self.summary.source_errors.setdefault(source, []).append(self.redactor.scrub(problem))

    def source_stale(self, source: str) -> None:
        """A best-effort source left some of its data as it was (its failures are in the notes)."""
        if self.summary.source_status.get(source) == "ok":
            self.summary.source_status[source] = "stale"

    def source_unreachable(self, source: str, problem: str) -> None:
        """The preflight could not reach the source's host: it is not fetched tonight. A best-effort
        source is stale (the marts keep its last data); any other source failed."""
        self.summary.unreachable[source] = problem
        if self.sources[source].best_effort:
            self.summary.source_status[source] = "stale"
            self.summary.source_errors.setdefault(source, []).append(self.redactor.scrub(problem))
        else:
            self.source_failed(source, problem)

    def quarantined(self, source: str, n: int) -> None:
        if n:
            self.summary.quarantined[source] = self.summary.quarantined.get(source, 0) + n

    def source_problem(self) -> str:
        failed = self.summary.failed_sources
        if not failed:
            return ""
        # each distinct failure once (a stopped source's later partitions repeat its reason), five at most per source
        details = [e for s in failed if s not in self.summary.unreachable  # the unreachable: their hosts, in short
                   for e in list(dict.fromkeys(self.summary.source_errors.get(s, [])))[:5]]
        hosts = sorted({self.summary.unreachable[s].split(": ", 1)[0].removeprefix("cannot reach ")
                        for s in failed if s in self.summary.unreachable})
        if hosts:
            details.insert(0, f"unreachable {', '.join(hosts)}")
        return f"source(s) {failed} failed: {'; '.join(details)}"


UNREACHABLE_TODO = ("check network access and proxy settings (HTTPS_PROXY, NO_PROXY) or the source's base_url "
                    "(sources.<name>.base_url); run offline with --sample or --replay DIR")


def render_summary(s: RunSummary) -> str:
    """The run's outcome in Markdown that also reads as plain text: the first word is the outcome."""
    lines = [f"{s.status.upper()}: bilateral nightly {s.run_id} (mode {s.mode}, run date {s.run_date})"]
    if s.outside_project:
        lines.append(f"  warehouse {s.warehouse} (an absolute warehouse.dir outside the project folder)")
    if s.unreachable:
        lines.append("  unreachable tonight (not fetched, no retries):")
        lines += [f"  - {src}{' (best effort: stale)' if s.source_status.get(src) == 'stale' else ''}: {problem}"
                  for src, problem in s.unreachable.items()]
        lines.append(f"  what to do: {UNREACHABLE_TODO}")
    if s.message:
        lines.append(f"  {s.message}")
    if stale := [src for src in s.stale_sources if src not in s.unreachable]:
        lines.append(f"  stale (best effort, last good data kept; see the notes): {', '.join(stale)}")
    if any(s.files_landed.values()) or len(s.unreachable) < len(s.source_status):
        lines += ["", "| source | status | files landed | records landed | quarantined |", "|---|---|---|---|---|"]
        lines += [f"| {src} | {st} | {s.files_landed.get(src, 0)} | {s.rows_landed.get(src, 0)} | {s.quarantined.get(src, 0)} |"
                  for src, st in s.source_status.items()]
    if s.rows_loaded:
        lines += ["", "loaded: " + ", ".join(f"raw.{t}={n}" for t, n in s.rows_loaded.items())]
    if s.dbt:
        lines.append("dbt: " + ", ".join(f"{k} {v}" for k, v in sorted(s.dbt.items())))
    if any(s.quarantined.values()) or s.quarantined_total:
        lines.append(f"quarantined: {sum(s.quarantined.values())} record(s) tonight, {s.quarantined_total} in quarantine "
                     "in all; `bilateral quarantine` lists them")
    if s.validations:
        failed = [v["suite"] for v in s.validations if not v["success"]]
        lines.append(f"validation: {len(s.validations) - len(failed)} of {len(s.validations)} suites passed"
                     + (f"; failed: {', '.join(failed)}" if failed else ""))
    if s.published:
        lines.append(f"published {len(s.tables)} marts: " + ", ".join(f"{t} ({n})" for t, n in s.tables.items()))
    elif s.publish_unchanged:
        lines.append("published marts unchanged (same content checksum); nothing rewritten")
    if s.mode != "live":
        lines.append("offline run from recorded/sample responses; rows from generated sample data have is_sample = true")
    if s.notes:
        shown = s.notes[:8]
        lines += ["", f"notes ({len(s.notes)}):"] + [f"- {n}" for n in shown]
        if len(s.notes) > len(shown):
            lines.append(f"- ... {len(s.notes) - len(shown)} more in audit.run_steps (and the nightly-summary artifact)")
    lines.append("steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in s.durations.items()))
    return "\n".join(lines)


def _summary_artifact(s: RunSummary) -> None:
    try:
        from prefect.artifacts import create_markdown_artifact

        notes = "\n".join(f"- {n}" for n in s.notes[8:])
        create_markdown_artifact(key="nightly-summary", markdown=render_summary(s) + (f"\n{notes}" if notes else ""),
                                 description=f"bilateral nightly {s.run_id}: {s.status}")
    except Exception:  # noqa: BLE001 - an artifact must never fail the run (e.g. outside a flow run)
        pass
