"""The working warehouse: one writer; a foreign lock gives an actionable error, not a traceback."""
import subprocess
import sys
import time

import pytest

from flows import warehouse
from flows.errors import BilateralError


def test_locked_working_file_names_the_fix(tmp_path):
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(BilateralError) as err:
            warehouse.ensure_schemas(db)
        assert "locked by another process" in str(err.value) and "published" in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    warehouse.ensure_schemas(db)  # free again once the other process is gone


def test_schemas_are_created_idempotently(tmp_path):
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    warehouse.ensure_schemas(db)
    with warehouse.connect(db, read_only=True) as con:
        schemas = {r[0] for r in con.execute("select schema_name from information_schema.schemata").fetchall()}
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables() where schema_name = 'audit'").fetchall()}
    assert {"raw", "audit"} <= schemas
    assert {"runs", "run_steps", "landed_files", "loaded_files", "validations", "source_state"} <= tables
