"""`bilateral status` on real DuckDB files: states, consecutive failures, notes apart from errors,
one CSV table, the --json alias, and a complete answer while another process holds the write lock.

The audit rows are written by the warehouse's own bookkeeping functions (start_run, record_steps,
finish_run) into a scratch working file; status runs as the real command line in a subprocess."""
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from flows import warehouse
from flows.status import consecutive_failures
from flows.status_snapshot import write_snapshot
from tests.conftest import write_config_file

NOW = datetime.now(timezone.utc)


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=timeout)


def _night(db: Path, run_id: str, night: str, started: datetime, attempts: dict[str, tuple[str, str, str]],
           outcome: str = "success", running_step: str | None = None) -> None:
    """One run: ``attempts`` maps source -> (status, errors, notes), recorded at ``started``."""
    warehouse.start_run(db, run_id, night, "sample", "", list(attempts))
    warehouse.record_steps(db, run_id, [{"step": "extract", "source": s, "status": st, "started_at": started,
                                         "seconds": 1.0, "rows": 10, "message": err, "notes": notes}
                                        for s, (st, err, notes) in attempts.items()])
    with duckdb.connect(str(db)) as con:
        con.execute("update audit.runs set started_at = ?, last_seen_at = ? where run_id = ?",
                    [started - timedelta(minutes=2), started, run_id])
    if running_step:
        warehouse.seen(db, run_id, running_step)
    else:
        warehouse.finish_run(db, run_id, outcome, "" if outcome == "success" else "source(s) failed", 10, 10,
                             outcome == "success", {})
        with duckdb.connect(str(db)) as con:
            con.execute("update audit.runs set ended_at = ? where run_id = ?", [started + timedelta(minutes=1), run_id])


@pytest.fixture
def history(tmp_path) -> tuple[Path, Path]:
    """Four nights: worldbank fine throughout; comtrade last loaded 40 days ago (then not asked);
    gdelt_events failing the last three nights (twice on night 3: ok, then failed); wits never asked."""
    wh = tmp_path / "warehouse"
    cfg = write_config_file(tmp_path / "bilateral.toml", wh)
    db = wh / "bilateral.duckdb"
    warehouse.ensure_schemas(db)
    day = lambda n: (NOW - timedelta(days=n)).date().isoformat()  # noqa: E731
    _night(db, "r0-comtrade", day(40), NOW - timedelta(days=40), {"comtrade": ("ok", "", "")})
    _night(db, "r1", day(4), NOW - timedelta(days=4), {"worldbank": ("ok", "", ""), "gdelt_events": ("ok", "", "")})
    _night(db, "r2", day(3), NOW - timedelta(days=3),
           {"worldbank": ("ok", "", ""), "gdelt_events": ("failed", "[gdelt_events] HTTP 503 (at lastupdate.txt)", "")},
           outcome="failed")
    _night(db, "r3a", day(2), NOW - timedelta(days=2, hours=1),
           {"worldbank": ("ok", "", ""), "gdelt_events": ("ok", "", "")})
    _night(db, "r3b", day(2), NOW - timedelta(days=2),
           {"worldbank": ("ok", "", ""), "gdelt_events": ("failed", "[gdelt_events] HTTP 503 (at lastupdate.txt)", "")},
           outcome="failed")
    _night(db, "r4", day(1), NOW - timedelta(hours=3),
           {"worldbank": ("ok", "", "[worldbank] TM.TAX.MRCH.WM.AR.ZS CAN 2024: no value published yet"),
            "gdelt_events": ("failed", "[gdelt_events] HTTP 503 (at lastupdate.txt)",
                             "[gdelt_events] 3 files of yesterday were already loaded")},
           outcome="failed")
    with duckdb.connect(str(db)) as con:
        con.execute("insert into audit.validations values ('r4', 'raw_worldbank_indicator', 'select 1', true, 6, 0, 684, "
                    "'[{\"severity\": \"warn\"}]', now()), ('r4', 'raw_gdelt_events', 'select 1', false, 14, 2, 90, "
                    "'[{\"severity\": \"fail\"}, {\"severity\": \"fail\"}]', now())")
        con.execute("insert into quarantine.worldbank_indicator (quarantine_id, run_id, source, rule, status) values "
                    "('q1', 'r4', 'worldbank', 'wrong_type', 'quarantined'), ('q2', 'r4', 'worldbank', 'wrong_type', "
                    "'quarantined'), ('q3', 'r1', 'worldbank', 'wrong_type', 'released')")
    return cfg, db


def _status(cfg: Path, *args) -> dict:
    out = cli("status", "--json", "--config", str(cfg), *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_fresh_stale_failed_never_and_consecutive_failures(history):
    cfg, _ = history
    doc = _status(cfg)
    src = {s["source"]: s for s in doc["sources"]}
    assert src["worldbank"]["state"] == "fresh" and src["worldbank"]["last_success_run"] == "r4"
    assert src["comtrade"]["state"] == "stale", "40 days since its last load: more than a month's cadence"
    assert src["comtrade"]["last_success_run"] == "r0-comtrade" and src["comtrade"]["consecutive_failures"] == 0
    ge = src["gdelt_events"]
    assert ge["state"] == "failed", "a source whose last attempt failed is never shown fresh"
    assert ge["last_attempt_outcome"] == "failed" and ge["last_attempt_run"] == "r4"
    assert ge["last_success_run"] == "r3a"  # its last success, even on a night that ended failed
    assert ge["consecutive_failures"] == 3  # nights 2, 3 (its last attempt that night failed) and 4
    assert src["wits"]["state"] == "never" and src["wits"]["last_success_at"] is None
    assert src["worldbank"]["quarantined_open"] == 2  # the released record is not open
    assert [r["run_id"] for r in doc["runs"]] == ["r4", "r3b", "r3a", "r2", "r1", "r0-comtrade"]
    assert doc["runs"][0]["outcome"] == "failed" and doc["runs"][0]["duration_seconds"] == 180.0
    assert {v["suite"]: (v["outcome"], v["failed"], v["warnings"]) for v in doc["validations"]} == {
        "raw_worldbank_indicator": ("passed", 0, 1), "raw_gdelt_events": ("failed", 2, 0)}
    assert len(_status(cfg, "--runs", "2")["runs"]) == 2


def test_notes_are_kept_apart_from_errors(history):
    cfg, _ = history
    src = {s["source"]: s for s in _status(cfg)["sources"]}
    assert src["worldbank"]["last_error"] is None, "an informational note is not an error"
    assert "no value published yet" in src["worldbank"]["notes"]
    assert src["gdelt_events"]["last_error"] == "[gdelt_events] HTTP 503 (at lastupdate.txt)"
    assert "already loaded" in src["gdelt_events"]["notes"]


def test_json_alias_and_one_csv_table_with_its_header_once(history):
    cfg, _ = history
    alias = json.loads(cli("status", "--json", "--config", str(cfg)).stdout)
    spelled = json.loads(cli("status", "--format", "json", "--config", str(cfg)).stdout)
    alias.pop("generated_at"), spelled.pop("generated_at")
    for doc in (alias, spelled):
        for s in doc["sources"]:
            s.pop("hours_since_success")
    assert alias == spelled
    for table, first, n in (("sources", "source", 5), ("runs", "run_id", 6), ("validations", "run_id", 2)):
        args = ["--table", table] if table != "sources" else []
        out = cli("status", "--format", "csv", *args, "--config", str(cfg))
        assert out.returncode == 0, out.stderr
        rows = list(csv.reader(io.StringIO(out.stdout)))
        assert rows[0][0] == first and len(rows) == 1 + n, out.stdout
        assert sum(1 for r in rows if r == rows[0]) == 1, "the header once, no second table"
        assert len({len(r) for r in rows}) == 1
    bad = cli("status", "--table", "runs", "--config", str(cfg))
    assert bad.returncode == 2 and bad.stderr.startswith("bilateral: status --table runs")


HOLDER = """
import duckdb, os, socket, sys, time
from pathlib import Path
db = Path(sys.argv[1])
with duckdb.connect(str(db)) as con:  # as a run does: its row says who and where it is
    con.execute("update audit.runs set pid = ?, host = ? where run_id = 'r5'", [os.getpid(), socket.gethostname()])
if sys.argv[2] == "snapshot":  # as the run does at each step's start
    from flows.status_snapshot import write_snapshot
    write_snapshot(db, db.parent)
con = duckdb.connect(str(db))  # read-write, kept open: DuckDB's write lock, as a run's step holds it
con.execute("insert into audit.run_steps (run_id, step, status) values ('r5', 'load', 'running')")
print("holding", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("snapshot", ["none", "snapshot"], ids=["copy of the working file", "the run's snapshot"])
def test_complete_json_while_a_run_holds_the_write_lock(history, snapshot):
    cfg, db = history
    _night(db, "r5", NOW.date().isoformat(), NOW - timedelta(minutes=1),
           {"worldbank": ("ok", "", "")}, running_step="load")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), snapshot], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with duckdb.connect(":memory:") as probe:  # the lock is really held
            with pytest.raises(duckdb.IOException, match="lock"):
                probe.execute(f"attach '{db}' (read_only)")
        started = time.perf_counter()
        out = cli("status", "--json", "--config", str(cfg))
        took = time.perf_counter() - started
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)  # one valid JSON document
        assert doc["message"] == f"a run is in progress: r5 step load (pid {holder.pid} on {socket.gethostname()})"
        assert doc["in_progress"]["pid"] == holder.pid and doc["in_progress"]["step"] == "load"
        assert doc["read_from"]["kind"] == ("snapshot" if snapshot == "snapshot" else "working copy")
        assert f"pid {holder.pid}" in doc["read_from"]["why"] and "write lock" in doc["read_from"]["why"]
        assert doc["runs"][0]["run_id"] == "r5" and doc["runs"][0]["outcome"] == "running"
        assert [r["run_id"] for r in doc["runs"][1:3]] == ["r4", "r3b"]
        src = {s["source"]: s for s in doc["sources"]}
        assert set(src) >= {"worldbank", "comtrade", "gdelt_events", "wits"}
        assert src["gdelt_events"]["state"] == "failed" and src["gdelt_events"]["consecutive_failures"] == 3
        assert len(doc["validations"]) == 2 and doc["published"]["working"] == str(db.resolve())
        table = cli("status", "--config", str(cfg))
        assert table.returncode == 0 and table.stdout.startswith("a run is in progress: r5 step load"), table.stderr
        assert took < 20
        assert holder.poll() is None, "status never disturbed the run"
    finally:
        holder.terminate()
        holder.wait()


def test_a_live_run_lock_keeps_status_off_the_working_file(history):
    """Between two steps the working file is free, but a reader's lock then would fail the run's next
    step: while the run lock names a live process, status reads the snapshot."""
    cfg, db = history
    write_snapshot(db, db.parent)
    (db.parent / ".nightly.lock").write_text(f"pid {os.getpid()} on {socket.gethostname()}\n")
    doc = _status(cfg)
    assert doc["read_from"]["kind"] == "snapshot" and "holds the warehouse" in doc["read_from"]["why"]
    assert doc["runs"][0]["run_id"] == "r4"
    (db.parent / ".nightly.lock").write_text("pid 999999999 on nowhere\n")  # an ended run's lock file
    assert _status(cfg)["read_from"]["kind"] == "working"


def test_no_runs_yet(tmp_path):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse")
    doc = _status(cfg)
    assert doc["message"].startswith("no runs yet") and {s["state"] for s in doc["sources"]} == {"never"}
    out = cli("status", "--format", "csv", "--config", str(cfg))
    assert out.returncode == 0 and out.stdout.splitlines()[0].startswith("source,enabled,state")


def test_consecutive_failures_counts_nights_not_attempts():
    a = lambda night, status: {"run_date": night, "status": status}  # noqa: E731 - newest first below
    assert consecutive_failures([a(5, "failed"), a(5, "failed"), a(4, "failed"), a(3, "ok"), a(2, "failed")]) == 2
    assert consecutive_failures([a(5, "ok"), a(5, "failed"), a(4, "failed")]) == 0
    assert consecutive_failures([]) == 0


def test_the_run_lock_names_its_holder_only_while_held(tmp_path):
    """A process that ran a night and lives on (``bilateral serve``, a test session) holds no lock."""
    from flows.run import single_run_lock
    from flows.status_source import run_lock_holder

    with single_run_lock(tmp_path):
        assert run_lock_holder(tmp_path) == f"pid {os.getpid()} on {socket.gethostname()}"
    assert run_lock_holder(tmp_path) is None
