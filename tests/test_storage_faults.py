"""File-system faults end the run with one clear message, no temp file left, published untouched.

The warehouse lives on a small tmpfs the test mounts (root, as in CI); a run pauses at a marker,
the test fills the disk or remounts a folder read-only, and the run goes on into the fault:
landing, load, dbt, validation and publishing on a full disk; the lock file, the landing zone
and the published folder read-only; the lock file without permission (a run that lacks the
capability to override file permissions, via setpriv).
Each case asserts the exit code, the one message (the path, the reason, what to do, no
traceback), that no ``.part``/temporary file stayed, and that readers still see the same bytes.
Skipped cleanly where mounts are not allowed.
"""
from __future__ import annotations

import errno
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from flows.storage import storage_fault
from tests.conftest import PROJECT_ROOT, write_config_file
from tests.reliability import cli, cli_env, published_fingerprint

NIGHT_1, NIGHT_2 = "2026-10-01", "2026-11-30"
FULL = "the file system is full"
READ_ONLY = "the file system is mounted read-only"


def test_os_and_duckdb_faults_are_recognised_and_nothing_else_is():
    import duckdb

    assert storage_fault(OSError(errno.ENOSPC, "No space left on device", "/w/x"), "/w", "land").reason == FULL
    assert storage_fault(OSError(errno.EROFS, "Read-only file system"), "/w", "land").path == "/w"
    assert "write access" in storage_fault(PermissionError(errno.EACCES, "denied", "/w/l"), "/w", "lock").todo
    assert storage_fault(duckdb.IOException('Could not write file "/w/b.duckdb.wal": No space left on device'),
                         "/w/b.duckdb", "write").reason == FULL
    wrapped = RuntimeError("GX store failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device", "/w/gx/x.json")
    assert storage_fault(wrapped, "/w/gx", "validate").path == "/w/gx/x.json"
    assert storage_fault(ValueError("upstream said: permission denied"), "/w", "x") is None  # text alone is not a fault
    assert storage_fault(OSError(errno.ECONNRESET, "reset"), "/w", "x") is None


# --- the end-to-end cases ------------------------------------------------------------------------
def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def tmpfs():
    """A 2 GB tmpfs of our own and a Prefect home beside it; unmounted and removed afterwards
    (skips where mounting is not allowed)."""
    mount = Path(tempfile.mkdtemp(prefix="bilateral-disk-"))
    prefect_home = Path(tempfile.mkdtemp(prefix="bilateral-prefect-"))
    try:
        _mount("-t", "tmpfs", "-o", "size=2g", "tmpfs", str(mount))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        shutil.rmtree(mount, ignore_errors=True)
        pytest.skip(f"cannot mount a tmpfs here ({exc}); CI runs as root")
    mounts = [mount]
    yield mount, mounts, prefect_home
    for m in reversed(mounts):
        _umount(m)
    shutil.rmtree(mount, ignore_errors=True)
    shutil.rmtree(prefect_home, ignore_errors=True)


def _fill(disk: Path) -> Path:
    """Write a filler file until the disk is full."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    # Unbuffered: a buffered file keeps the tail of a short write and raises ENOSPC again on close.
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            os.write(fd, chunk)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    finally:
        os.close(fd)
    return filler


@dataclass
class Case:
    name: str
    marker: str | None     # where the run pauses before the fault is made (None: fault before the run)
    fault: str             # full | read-only landing | read-only published | read-only disk | no permission
    path_part: str         # what the message must name
    reason: str


CASES = [
    Case("landing full", None, "small landing", "/landing/", FULL),
    Case("landing read-only", None, "read-only landing", "/landing", READ_ONLY),
    Case("load full", "load:partition", "full", "bilateral.duckdb", FULL),
    Case("dbt full", "dbt:node", "full", "", FULL),
    Case("validation full", "validate:suite", "full", "", FULL),
    Case("publish full", "publish:writing", "full", "/published/releases/", FULL),
    Case("published read-only", None, "read-only published", "/published", READ_ONLY),
    Case("lock read-only", None, "read-only disk", ".nightly.lock", READ_ONLY),
    Case("lock without permission", None, "no permission", ".nightly.lock", "permission denied"),
]
if not shutil.which("setpriv"):  # util-linux; CI installs it when missing
    CASES = [c for c in CASES if c.fault != "no permission"]


def _leftovers(warehouse: Path) -> list[Path]:
    patterns = ["**/*.part", "published/releases/.*", "published/.trash-*", "published/.*.link", "sample/*.tmp"]
    return [p for pattern in patterns for p in warehouse.glob(pattern)]


def _run_into(case: Case, cfg: Path, disk: Path, warehouse: Path, mounts: list[Path], prefect_home: Path):
    """Run night 2 into the case's fault; returns (exit code, stderr+stdout)."""
    env = cli_env(PREFECT_HOME=str(prefect_home))  # Prefect's own database is not what this test fills
    args = [sys.executable, "-m", "flows.cli", "run", "--sample", "--date", NIGHT_2, "--config", str(cfg)]
    if case.fault == "small landing":
        landing = warehouse / "landing"
        landing.mkdir(exist_ok=True)
        _mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(landing))
        mounts.append(landing)
    elif case.fault.startswith("read-only ") and case.fault != "read-only disk":
        target = warehouse / case.fault.split()[1]
        target.mkdir(exist_ok=True)
        _mount("--bind", str(target), str(target))
        _mount("-o", "remount,bind,ro", str(target))
        mounts.append(target)
    elif case.fault == "read-only disk":
        _mount("-o", "remount,ro", str(disk))
    elif case.fault == "no permission":  # root without the capability that overrides file permissions
        (warehouse / ".nightly.lock").touch()
        os.chown(warehouse / ".nightly.lock", pwd.getpwnam("nobody").pw_uid, -1)
        os.chmod(warehouse / ".nightly.lock", 0o600)
        args = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *args]
    pause = prefect_home / "paused"
    pause.unlink(missing_ok=True)
    if case.marker:
        env.update(BILATERAL_PAUSE_AT=case.marker, BILATERAL_PAUSE_FILE=str(pause), BILATERAL_PAUSE_RESUME="1")
    proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    filler = None
    try:
        if case.marker:
            deadline = time.monotonic() + 420
            while not pause.exists():
                assert proc.poll() is None, f"{case.name}: the run ended before {case.marker}:\n{proc.stdout.read()[-3000:]}"
                assert time.monotonic() < deadline, f"{case.name}: {case.marker} not reached"
                time.sleep(0.2)
            filler = _fill(disk)
            pause.unlink()
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        if filler:
            filler.unlink()
        if case.fault == "read-only disk":
            _mount("-o", "remount,rw", str(disk))
        if case.fault == "no permission":
            (warehouse / ".nightly.lock").unlink()
        while len(mounts) > 1:
            _umount(mounts.pop())
    return proc.returncode, out


@pytest.mark.slow
@pytest.mark.reliability
def test_file_system_faults_end_the_run_with_one_clear_message_and_nothing_half_written(tmpfs):
    disk, mounts, prefect_home = tmpfs
    warehouse = disk / "warehouse"
    cfg = write_config_file(disk / "bilateral.toml", warehouse)
    first = cli("run", "--sample", "--date", NIGHT_1, "--config", str(cfg), env=cli_env(PREFECT_HOME=str(prefect_home)))
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    tried = []
    for case in CASES:
        before = published_fingerprint(warehouse / "published")
        code, out = _run_into(case, cfg, disk, warehouse, mounts, prefect_home)
        message = [line for line in out.splitlines() if line.startswith("bilateral: cannot ")]
        assert code == 1, f"{case.name}: exit {code}\n{out[-3000:]}"
        assert len(message) == 1, f"{case.name}: expected one message\n{out[-3000:]}"
        assert case.path_part in message[0] and case.reason in message[0], f"{case.name}: {message[0]}"
        assert "run again" in message[0]
        assert "Traceback" not in out, f"{case.name}: a traceback reached the console\n{out[-3000:]}"
        assert not _leftovers(warehouse), f"{case.name}: left {_leftovers(warehouse)}"
        assert published_fingerprint(warehouse / "published") == before, f"{case.name}: the published outputs changed"
        tried.append(case.name)
    last = cli("run", "--sample", "--date", NIGHT_2, "--config", str(cfg), env=cli_env(PREFECT_HOME=str(prefect_home)))
    assert last.returncode == 0, last.stdout[-2000:] + last.stderr[-2000:]  # the disk is fine again: it recovers
    shutil.rmtree(warehouse, ignore_errors=True)
    print(f"\nfile-system faults tried: {len(tried)} ({', '.join(tried)}); each one message, nothing left, "
          "published untouched; the next run succeeded")
