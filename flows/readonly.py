"""Read-only DuckDB connections that stay read-only.

DuckDB's ``read_only=True`` only protects the database file itself: without more, a query can still
write other files (``COPY ... TO``, ``EXPORT DATABASE``), read any file the process can
(``read_text('/etc/shadow')``, ``glob``, ``read_blob``), install or load extensions, and ``ATTACH``
other databases. Every connection bilateral opens for people (``bilateral sql``, status, the
published file's checks) therefore also turns external access off and locks the configuration, so
no statement can turn it back on. BI tools get the same protection from the same settings
(docs/bi.md).
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

#: the settings a reader's connection is opened with; lock_configuration last (it freezes the others)
LOCKED = {
    "enable_external_access": False,   # no COPY TO / EXPORT, no file readers, no ATTACH, no INSTALL
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "lock_configuration": True,        # SET / RESET of any of these is refused
}


class ReadOnlyRefused(PermissionError):
    """A statement tried to write, read a file, attach a database, or change a locked setting."""


@contextmanager
def connect_read_only(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` read-only with external access off and the configuration locked."""
    con = duckdb.connect(str(path), read_only=True, config=dict(LOCKED))
    try:
        yield con
    finally:
        con.close()


def explain_refusal(exc: duckdb.Error) -> str | None:
    """A plain sentence for what the locked connection refused, or None for other errors."""
    text = str(exc).splitlines()[0]
    if isinstance(exc, duckdb.PermissionException):
        if "extension" in text.lower() or "/extensions/" in text:
            return f"refused: installing or loading extensions is disabled on this read-only connection ({text})"
        return ("refused: this connection is read-only and cannot read or write files other than the warehouse, "
                f"nor attach other databases (COPY ... TO, EXPORT, read_csv/read_text/glob on paths, ATTACH) ({text})")
    if "configuration has been locked" in text:
        return f"refused: the settings of this read-only connection are locked ({text})"
    if "read-only mode" in text or "read-only" in text.lower() and "Cannot execute statement" in text:
        return f"refused: the warehouse is opened read-only here; CREATE, INSERT, UPDATE, DELETE and DROP are not allowed ({text})"
    return None
