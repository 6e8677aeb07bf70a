"""Where ``bilateral status`` reads the audit tables from, without ever getting in a run's way.

1. The working file, read-only, when it is free: no run holds the run lock and no other process
   holds DuckDB's write lock. (A reader's lock between two steps would make the run's next step
   fail, so a live run's working file is never opened.)
2. Otherwise the status snapshot the run keeps (``<warehouse>/status.duckdb``, see
   :mod:`flows.status_snapshot`): as of the start of the run's current step.
3. Otherwise (no snapshot yet, e.g. another program holds the working file) a copy of the working
   file in a temporary folder, read-only: as of the file's last checkpoint. A copy whose file
   changed while it was copied is taken again.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import duckdb

from flows.config import Config
from flows.errors import BilateralError
from flows.readonly import LOCKED, connect_read_only
from flows.run import LOCK_FILE
from flows.status_snapshot import snapshot_path

COPY_ATTEMPTS = 3


class StatusUnavailable(BilateralError):
    """Neither the working file, nor the snapshot, nor a copy could be read."""


@dataclass(frozen=True)
class ReadFrom:
    kind: str   # working | snapshot | working copy
    path: Path  # the file read (the original for a copy)
    why: str = ""  # why not the working file itself


def process_alive(pid: int | None, host: str | None) -> bool | None:
    """Whether a process still exists (None: it runs on another host, we cannot tell)."""
    if pid is None or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run_lock_holder(warehouse_dir: Path) -> str | None:
    """``pid N on HOST`` when the run lock names a live process on this host, else None. A run empties
    the file when it lets go; a killed run's pid is gone. The file is only read: probing the lock
    itself could make a run starting that instant give up."""
    try:
        words = (Path(warehouse_dir) / LOCK_FILE).read_text().split()
    except OSError:
        return None
    if len(words) >= 4 and words[0] == "pid" and words[1].isdigit() and words[2] == "on":
        if process_alive(int(words[1]), words[3]):
            return " ".join(words[:4])
    return None


def _locked(exc: duckdb.Error) -> bool:
    return "lock" in str(exc).lower()


@contextmanager
def open_audit(config: Config) -> Iterator[tuple[duckdb.DuckDBPyConnection, ReadFrom] | None]:
    """A read-only connection holding schemas ``audit`` and ``quarantine``, and where it came from;
    None when there is nothing yet (no working file, no snapshot)."""
    working, snapshot = config.duckdb_path.resolve(), snapshot_path(config.warehouse_dir).resolve()
    if not working.exists():
        if snapshot.exists():
            with connect_read_only(snapshot) as con:
                yield con, ReadFrom("snapshot", snapshot, f"{working} does not exist")
        else:
            yield None
        return
    holder = run_lock_holder(config.warehouse_dir)
    why = f"a run ({holder}) holds the warehouse" if holder else ""
    if not holder:
        try:
            con = duckdb.connect(str(working), read_only=True, config=dict(LOCKED))
        except duckdb.Error as exc:
            if not _locked(exc):
                raise
            holder_pid = re.search(r"PID (\d+)", str(exc))
            why = (f"another process{f' (pid {holder_pid.group(1)})' if holder_pid else ''} holds the write lock "
                   f"on {working}")
        else:
            try:
                yield con, ReadFrom("working", working)
            finally:
                con.close()
            return
    if snapshot.exists():
        with connect_read_only(snapshot) as con:
            yield con, ReadFrom("snapshot", snapshot, why)
        return
    with _copy(working, why) as copied, connect_read_only(copied) as con:
        yield con, ReadFrom("working copy", working, why)


@contextmanager
def _copy(working: Path, why: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="bilateral-status-"))
    target = folder / working.name
    try:
        for attempt in range(COPY_ATTEMPTS):
            before = working.stat()
            shutil.copyfile(working, target)
            after = working.stat()
            if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns):
                try:
                    duckdb.connect(str(target), read_only=True).close()
                except duckdb.Error:
                    pass  # caught mid-checkpoint: copy again
                else:
                    break
            time.sleep(0.2 * (attempt + 1))
        else:
            raise StatusUnavailable(f"cannot read the status: {why}, no status snapshot exists yet "
                                    f"({snapshot_path(working.parent)}), and {working} kept changing while it was "
                                    "copied; try again in a minute (the run writes the snapshot at its next step)")
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)
