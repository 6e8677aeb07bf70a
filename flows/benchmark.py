"""``bilateral benchmark``: wall time and peak memory of a sample run, split by step.

Runs the nightly flow on the bundled sample in a scratch warehouse (the real one is untouched)
and prints, per step, seconds and the peak resident memory of this process plus its children
(Prefect's temporary API server is a child process) sampled every 100 ms. "Prefect start-up"
is everything between calling the flow and the flow body starting (ephemeral API server start,
flow-run bookkeeping), shown apart from the data work as orchestration overhead.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
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


class MemorySampler:
    def __init__(self, interval: float = 0.1) -> None:
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.interval = interval

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), _tree_rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def run_benchmark(config: Config, args, process_start: float, keep: bool = False) -> int:
    t0 = time.perf_counter()
    from flows.nightly import RunFailed, nightly  # imports Prefect, prefect-dbt

    import_seconds = time.perf_counter() - t0
    scratch = Path(tempfile.mkdtemp(prefix="bilateral-bench-"))
    overrides = [*args.overrides, f"warehouse.dir={scratch / 'warehouse'}"]
    try:
        with MemorySampler() as mem:
            called = time.time()
            try:
                summary = nightly(mode="sample", config_path=str(config.path), overrides=overrides)
            except RunFailed as exc:
                summary = exc.summary
            returned = time.time()
        windows = summary.step_windows
        first_start, last_end = windows[0][1], windows[-1][2]
        rows = [("python + Prefect import", import_seconds, 0)]
        rows.append(("Prefect start-up (API server, flow run)", first_start - called, mem.peak(called, first_start)))
        for name, start, end in windows:
            rows.append((f"  {name}", end - start, mem.peak(start, end)))
        rows.append(("Prefect wrap-up (states, artifact)", returned - last_end, mem.peak(last_end, returned)))
        data_seconds = sum(end - start for _, start, end in windows)
        total = time.perf_counter() - process_start
        print(f"bilateral benchmark: sample run ({summary.status}), countries {', '.join(config.countries)}, "
              f"sources {', '.join(summary.source_status)}")
        print(f"{'step':<42}{'seconds':>10}{'peak RSS MB':>14}")
        for name, secs, peak in rows:
            print(f"{name:<42}{secs:>10.2f}{(peak / 2**20 if peak else float('nan')):>14.0f}")
        print(f"{'data work (extract..publish)':<42}{data_seconds:>10.2f}")
        print(f"{'orchestration overhead (Prefect)':<42}{(returned - called) - data_seconds:>10.2f}")
        print(f"{'wall time, process start to end':<42}{total:>10.2f}{max(r for _, r in mem.samples) / 2**20:>14.0f}")
        print(f"rows landed {sum(summary.rows_landed.values())}, loaded {sum(summary.rows_loaded.values())}, "
              f"published tables {len(summary.tables)}; target: under 60 s on a 2-core machine")
        return 0 if summary.status == "success" else 1
    finally:
        if keep:
            print(f"scratch warehouse kept at {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
