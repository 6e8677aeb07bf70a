"""The connection recipes of docs/bi.md as the tests run them: the code blocks exactly as written
there (only the example path replaced), and the DuckDB CLI of the venv with the locked settings."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from flows.readonly import LOCKED

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BI_DOC = PROJECT_ROOT / "docs" / "bi.md"
DOC_PATH = "/srv/bilateral/warehouse/published/bilateral.duckdb"  # the example path the recipes use
#: the DuckDB CLI from the duckdb-cli package (test and bi extras) in this venv
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"
#: the CLI's -cmd of docs/bi.md: the locked settings, lock_configuration last
CLI_SETTINGS = " ".join(f"SET {k} = {str(v).lower()};" for k, v in LOCKED.items())


def doc_blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", BI_DOC.read_text(), re.S | re.M)


def doc_block(lang: str, containing: str) -> str:
    found = [b for b in doc_blocks(lang) if containing in b]
    assert len(found) == 1, f"docs/bi.md should have one ```{lang} block containing {containing!r}, has {len(found)}"
    return found[0]


def sqlalchemy_engine(path: Path):
    """The engine of docs/bi.md's SQLAlchemy recipe, run as written, on ``path``."""
    code = doc_block("python", "create_engine(")
    assert DOC_PATH in code
    scope: dict = {}
    exec(code.replace(DOC_PATH, str(path)), scope)  # noqa: S102 - the documented recipe itself
    return scope["engine"]


def superset_engine_params() -> dict:
    """Superset's Engine Parameters as docs/bi.md gives them (JSON)."""
    return json.loads(doc_block("json", "connect_args"))


def duckdb_cli(path: Path, sql: str, *, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``sql`` in the DuckDB CLI on ``path``, read-only with the locked settings, JSON output."""
    if not os.access(DUCKDB_CLI, os.X_OK):
        raise AssertionError(f"no executable DuckDB CLI at {DUCKDB_CLI}: the test extra installs duckdb-cli and "
                             "./bilateral makes it executable; run ./bilateral bi-setup")
    proc = subprocess.run([str(DUCKDB_CLI), "-readonly", "-json", "-cmd", CLI_SETTINGS, str(path), "-c", sql],
                          capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"duckdb CLI failed on {sql!r}: {proc.stderr}"
    return proc


def cli_rows(path: Path, sql: str) -> list[dict]:
    out = duckdb_cli(path, sql).stdout.strip()
    return json.loads(out) if out else []
