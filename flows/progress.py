"""Progress of a run as events, and the two console views of them.

The steps report what they do through :func:`event` (log records of the ``bilateral.progress``
logger carrying a ``progress`` dict); they know nothing about the console. The CLI attaches one
view: :class:`LiveView` (a rich live display: current step, per-source files and records, dbt
nodes and suites done/total, elapsed time and ETA) on a terminal, :class:`LineView` (one plain line
per event, throttled, for cron, CI and log files) otherwise. Nothing is attached when bilateral runs
as a library or under ``bilateral serve``: the events then cost a level check.

Events (``kind`` and its fields):

- ``note``: text (a line of its own, e.g. what the run is about to do)
- ``step``: step, state (started | ok | failed), seconds
- ``planned``: step, unit, total, source (optional): how much work the step has
- ``done``: step, n (units finished, default 1), source (optional), files, records, item, total
  (when the total is only known as the work goes, e.g. dbt's nodes)
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from typing import IO

LOGGER = logging.getLogger("bilateral.progress")


def event(kind: str, **data) -> None:
    """Report progress; a no-op (one level check) when no view is attached."""
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(kind, extra={"progress": {"kind": kind, **data}})


class _Counter:
    def __init__(self, unit: str = "", total: int | None = None) -> None:
        self.unit, self.total, self.done, self.files, self.records = unit, total, 0, 0, 0
        self.started = time.monotonic()

    def add(self, data: dict) -> None:
        self.done += data.get("n", 1)
        self.files += data.get("files", 0)
        self.records += data.get("records", 0)

    def eta(self) -> float | None:
        if not self.total or not self.done or self.done >= self.total:
            return None
        return (time.monotonic() - self.started) / self.done * (self.total - self.done)

    def describe(self) -> str:
        parts = [f"{self.done}/{self.total} {self.unit}" if self.total else f"{self.done} {self.unit}".strip()]
        if self.files:
            parts.append(f"{self.files} files")
        if self.records:
            parts.append(f"{self.records:,} records")
        return ", ".join(p for p in parts if p)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


class _View(logging.Handler):
    """Keeps the counters of the run's steps (by step and source) from the events."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started = time.monotonic()
        self.counters: dict[tuple[str, str], _Counter] = {}
        self.step = ""
        self._mutex = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        data = getattr(record, "progress", None)
        if not data:
            return
        with self._mutex:
            key = (data.get("step", self.step), data.get("source", ""))
            if data["kind"] == "note":
                self.on_note(data["text"])
            elif data["kind"] == "step":
                if data["state"] == "started":
                    self.step = data["step"]
                self.on_step(data)
            elif data["kind"] == "planned":
                self.counters[key] = _Counter(data.get("unit", ""), data.get("total"))
                self.on_count(key, self.counters[key], data, planned=True)
            elif data["kind"] == "done":
                counter = self.counters.setdefault(key, _Counter(data.get("unit", "")))
                counter.total = data.get("total", counter.total)
                counter.add(data)
                self.on_count(key, counter, data, planned=False)

    def on_step(self, data: dict) -> None: ...

    def on_note(self, text: str) -> None: ...

    def on_count(self, key: tuple[str, str], counter: _Counter, data: dict, planned: bool) -> None: ...

    def elapsed(self) -> str:
        return _clock(time.monotonic() - self.started)


class LineView(_View):
    """One plain line per step start and end, and per counter at most every ``every`` seconds (and
    when it completes): ``[m:ss] extract comtrade: 12/40 periods, 36 files, 10,234 records (ETA 0:30)``."""

    def __init__(self, stream: IO[str] | None = None, every: float = 5.0) -> None:
        super().__init__()
        self.stream, self.every = stream or sys.stderr, every
        self._last: dict[tuple[str, str], float] = {}

    def _print(self, text: str) -> None:
        print(f"[{self.elapsed()}] {text}", file=self.stream, flush=True)

    def on_note(self, text: str) -> None:
        self._print(text)

    def on_step(self, data: dict) -> None:
        if data["state"] == "started":
            self._print(f"{data['step']} ...")
        else:
            self._print(f"{data['step']} {data['state']} in {data.get('seconds', 0):.1f}s")

    def on_count(self, key, counter, data, planned) -> None:
        step, source = key
        now = time.monotonic()
        complete = counter.total is not None and counter.done >= counter.total
        due = key not in self._last or now - self._last[key] >= self.every  # monotonic time starts anywhere
        if planned or not (complete or due):
            return
        self._last[key] = now
        eta = counter.eta()
        self._print(f"{step}{' ' + source if source else ''}: {counter.describe()}"
                    + (f" (ETA {_clock(eta)})" if eta is not None else ""))


class LiveView(_View):
    """A rich live display on a terminal: one bar per counter (step and source), the current step,
    elapsed time and ETA; it stays on screen as the last state when the run ends."""

    def __init__(self, console=None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        super().__init__()
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console or Console(stderr=True), redirect_stdout=False, redirect_stderr=False)
        self.tasks: dict[tuple[str, str], int] = {}
        self.steps: dict[str, int] = {}

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def on_note(self, text: str) -> None:
        self.progress.console.print(text)

    def on_step(self, data: dict) -> None:
        step = data["step"]
        if data["state"] == "started":
            self.steps[step] = self.progress.add_task(f"[bold]{step}[/]", total=None, detail="")
        elif step in self.steps:
            self.progress.update(self.steps[step], total=1, completed=1,
                                 detail=f"{data['state']} in {data.get('seconds', 0):.1f}s")

    def on_count(self, key, counter, data, planned) -> None:
        step, source = key
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(f"  {step} {source}".rstrip(), total=counter.total, detail="")
        self.progress.update(self.tasks[key], total=counter.total, completed=counter.done,
                             detail=counter.describe().split(", ", 1)[1] if ", " in counter.describe() else counter.unit)


def attach(view: _View) -> _View:
    """Send the run's progress events to ``view`` (and nowhere else)."""
    LOGGER.addHandler(view)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False
    if isinstance(view, LiveView):
        view.start()
    return view


def detach(view: _View) -> None:
    """Stop sending events to ``view``; with no view left, events are no-ops again."""
    LOGGER.removeHandler(view)
    if not any(isinstance(h, _View) for h in LOGGER.handlers):
        LOGGER.setLevel(logging.NOTSET)
        LOGGER.propagate = True
    if isinstance(view, LiveView) and view.progress.live.is_started:
        view.stop()
