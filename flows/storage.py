"""File-system faults as one clear message: disk full, read-only folders, permission errors.

Every place bilateral writes (the lock file, landing, the working DuckDB file, dbt's and GX's
folders, publishing) turns the operating system's error into a :class:`StorageError` that names
the path and says what to do, instead of a chained traceback. DuckDB reports the same faults as
text inside its own exceptions; :func:`storage_fault` recognises both.
"""
from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from flows.errors import StorageError

#: (errno values, words DuckDB/dbt put in their messages, reason, what to do)
_FAULTS = (
    ((errno.ENOSPC, errno.EDQUOT), ("no space left on device", "disk quota exceeded", "could not write all bytes"),
     "the file system is full",
     "free space there (or set warehouse.dir to a larger disk) and run again"),
    ((errno.EROFS,), ("read-only file system",),
     "the file system is mounted read-only",
     "remount it read-write or set warehouse.dir to a writable folder, then run again"),
    ((errno.EACCES, errno.EPERM), ("permission denied", "operation not permitted"),
     "permission denied",
     "give the user running bilateral write access to it (chown/chmod) or set warehouse.dir elsewhere, then run again"),
)


def storage_fault(exc: BaseException, path: object, action: str) -> StorageError | None:
    """The StorageError ``exc`` stands for (an OSError, a DuckDB error quoting one, or a library's
    error caused by either, e.g. GX's store errors), else None. Other exceptions are never read as
    storage faults, whatever their text says."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, StorageError):
            return exc
        if isinstance(exc, OSError) and exc.errno is not None:
            where = exc.filename or path
            return next((StorageError(where, action, reason, todo)
                         for codes, _, reason, todo in _FAULTS if exc.errno in codes), None)
        if isinstance(exc, (OSError, duckdb.Error)):
            return storage_fault_in_text(str(exc), path, action)
        exc = exc.__cause__ or exc.__context__
    return None


def storage_fault_in_text(text: str, path: object, action: str) -> StorageError | None:
    """A storage fault quoted in a tool's message (DuckDB, dbt), else None."""
    lowered = text.lower()
    return next((StorageError(path, action, reason, todo)
                 for _, words, reason, todo in _FAULTS if any(w in lowered for w in words)), None)


@contextmanager
def guarded(path: object, action: str) -> Iterator[None]:
    """Run a block that writes under ``path``; a file-system fault leaves it as a StorageError."""
    try:
        yield
    except Exception as exc:
        fault = storage_fault(exc, path, action)
        if fault is None:
            raise
        raise fault from None


def remove_quietly(*paths: Path) -> None:
    """Remove half-written files after a fault (best effort: the fault itself is what we report)."""
    for path in paths:
        try:
            if path.is_symlink() or path.is_file():
                path.unlink()
        except OSError:
            pass

