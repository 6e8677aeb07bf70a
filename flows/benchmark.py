"""``bilateral benchmark``: wall time and peak memory of a sample run, split by step.

Runs the nightly flow on the bundled sample in a scratch warehouse (the real one is untouched)
and prints, per step, seconds and the peak resident memory of this process plus its children
(Prefect's temporary API server is a child process) sampled every 100 ms. "Prefect start-up"
is everything between calling the flow and the flow body starting (waiting for the local API server
the CLI started before importing Prefect, flow-run bookkeeping), shown apart from the data work as
orchestration overhead.

``--nights N`` runs the same sample night N times in the one scratch warehouse (same run date): the
first builds everything, the later ones find nothing new upstream and take the incremental path
(docs/architecture.md, "Incremental nights"). Each night gets a column of wall seconds, and the CPU
seconds of this process per step are printed beside them (less sensitive to a busy machine).
"""
from __future__ import annotations

import os
import sys
import shutil
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

from flows.config import Config


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    """Direct children from /proc/<pid>/task/*/children (cheap: no scan of every process)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as fh:
                    out.extend(int(c) for c in fh.read().split())
            except OSError:
                continue
    except OSError:
        pass
    return out


def _tree_rss() -> int:
    me = os.getpid()
    return _rss_bytes(me) + sum(_rss_bytes(child) for child in _children(me))


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


class MemorySampler:
    """Resident memory of the process tree and CPU seconds of this process, every ``interval`` s."""

    def __init__(self, interval: float = 0.1) -> None:
        self.samples: list[tuple[float, int]] = []
        self.cpu: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.interval = interval

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            self.samples.append((now, _tree_rss()))
            self.cpu.append((now, _cpu_seconds()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)

    def cpu_between(self, start: float, end: float) -> float:
        inside = [c for t, c in self.cpu if start <= t <= end]
        return inside[-1] - inside[0] if len(inside) > 1 else 0.0


def run_benchmark(config: Config, args, process_start: float, keep: bool = False, nights: int = 1, api=None) -> int:
    """``api``: the local Prefect API the CLI started at once (flows/prefect_api.py); the first night's
    start-up includes waiting for it."""
    t0 = time.perf_counter()
    from flows.nightly import RunFailed, nightly  # imports Prefect, prefect-dbt

    import_seconds = time.perf_counter() - t0
    scratch = Path(tempfile.mkdtemp(prefix="bilateral-bench-"))
    overrides = [*args.overrides, f"warehouse.dir={scratch / 'warehouse'}"]
    try:
        summaries, timings = [], []
        with MemorySampler() as mem:
            run_date = None
            for _ in range(max(1, nights)):
                called = time.time()
                if api is not None:
                    from flows.prefect_api import ApiNotStarted

                    try:
                        api.import_while_booting()  # as `bilateral run` does
                        api.require()
                    except ApiNotStarted as exc:
                        print(f"bilateral: benchmark: {exc}", file=sys.stderr)
                        return 1
                    api = None
                try:
                    summary = nightly(mode="sample", config_path=str(config.path), overrides=overrides, run_date=run_date)
                except RunFailed as exc:
                    summary = exc.summary
                returned = time.time()
                run_date = date.fromisoformat(summary.run_date)  # the later nights: the same date again
                summaries.append(summary)
                timings.append(_night_rows(summary, mem, called, returned))
        total = time.perf_counter() - process_start
        first = summaries[0]
        print(f"bilateral benchmark: sample run ({', '.join(s.status for s in summaries)}), countries "
              f"{', '.join(config.countries)}, sources {', '.join(first.source_status)}"
              + (f", {len(summaries)} nights on run date {first.run_date}" if len(summaries) > 1 else ""))
        print(f"{'python + Prefect import':<42}{import_seconds:>10.2f}")
        if len(summaries) == 1:
            print(f"{'step':<42}{'seconds':>10}{'CPU s':>8}{'peak RSS MB':>14}")
            for name, secs, cpu, peak in timings[0]:
                print(f"{name:<42}{secs:>10.2f}{cpu:>8.1f}{(peak / 2**20 if peak else float('nan')):>14.0f}")
        else:
            names = [row[0] for row in timings[0]]
            print(f"{'step (wall s / CPU s)':<42}" + "".join(f"{'night ' + str(i + 1):>16}" for i in range(len(timings))))
            for k, name in enumerate(names):
                cells = []
                for rows in timings:
                    match = [r for r in rows if r[0] == name]
                    cells.append(f"{match[0][1]:>9.2f} /{match[0][2]:>5.1f}" if match else f"{'-':>16}")
                print(f"{name:<42}" + "".join(cells))
        print(f"{'wall time, process start to end':<42}{total:>10.2f}{'':>8}{max(r for _, r in mem.samples) / 2**20:>14.0f}")
        for i, s in enumerate(summaries):
            print(f"night {i + 1}: rows landed {sum(s.rows_landed.values())}, loaded {sum(s.rows_loaded.values())}, "
                  f"published tables {len(s.tables)}" + (", published content unchanged" if s.publish_unchanged else ""))
        print("target: under 30 s a night on a 2-core machine, Prefect start-up + wrap-up <= 5 s")
        return 0 if all(s.status == "success" for s in summaries) else 1
    finally:
        if keep:
            print(f"scratch warehouse kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _night_rows(summary, mem: MemorySampler, called: float, returned: float) -> list[tuple[str, float, float, int]]:
    """(label, wall seconds, CPU seconds, peak RSS) per step of one night, with Prefect's overhead."""
    windows = summary.step_windows
    first_start, last_end = windows[0][1], windows[-1][2]
    rows = [("Prefect start-up (API server, flow run)", first_start - called, mem.cpu_between(called, first_start),
             mem.peak(called, first_start))]
    for name, start, end in windows:
        rows.append((f"  {name}", end - start, mem.cpu_between(start, end), mem.peak(start, end)))
    rows.append(("Prefect wrap-up (states, artifact)", returned - last_end, mem.cpu_between(last_end, returned),
                 mem.peak(last_end, returned)))
    data_seconds = sum(end - start for _, start, end in windows)
    rows.append(("data work (extract..publish)", data_seconds, mem.cpu_between(first_start, last_end), 0))
    rows.append(("night, flow call to return", returned - called, mem.cpu_between(called, returned), mem.peak(called, returned)))
    return rows
