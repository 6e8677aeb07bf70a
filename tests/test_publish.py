"""Publishing: atomic replacement, readers keep their snapshot, DuckDB 1.x-readable, Parquet too."""
import struct

import duckdb
import pytest

from flows.errors import PublishError
from flows.publish import publish, table_checksum


def make_wh(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.pairs (pair varchar, total double)")
    con.execute("comment on table marts.pairs is 'Trade per pair'")
    con.execute("comment on column marts.pairs.total is 'Total trade, US$'")
    con.executemany("insert into marts.pairs values (?, ?)", rows)
    con.close()


def _checksum(ddl: str, rows: list[tuple]) -> tuple[int, str]:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(f"create table marts.t {ddl}")
    if rows:
        con.executemany(f"insert into marts.t values ({', '.join('?' * len(rows[0]))})", rows)
    try:
        return table_checksum(con, "memory", "marts", "t")
    finally:
        con.close()


def test_the_table_checksum_follows_content_and_columns_not_row_order():
    rows = [("CAN-CHN", 80.0, None), ("CAN-USA", 1000.0, 3), ("CHN-USA", 0.0, 2)]
    base = _checksum("(pair varchar, total double, n integer)", rows)
    assert base[0] == 3
    assert _checksum("(pair varchar, total double, n integer)", rows[::-1]) == base, "row order is not content"
    changed = {
        "one value": _checksum("(pair varchar, total double, n integer)", [rows[0], ("CAN-USA", 1000.5, 3), rows[2]]),
        "a null filled": _checksum("(pair varchar, total double, n integer)", [("CAN-CHN", 80.0, 0), *rows[1:]]),
        "a duplicated row": _checksum("(pair varchar, total double, n integer)", [*rows, rows[1]]),
        "values swapped between columns": _checksum("(pair varchar, n integer, total double)",
                                                    [(p, n, t) for p, t, n in rows]),
        "a column renamed": _checksum("(pair varchar, total_usd double, n integer)", rows),
        "a column's type": _checksum("(pair varchar, total double, n bigint)", rows),
    }
    assert [what for what, digest in changed.items() if digest == base] == []
    assert _checksum("(pair varchar, total double, n integer)", [])[0] == 0


def test_publish_swaps_atomically_and_old_readers_keep_their_snapshot(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", 80.0)])
    first = publish(wh, out, "run1")
    assert first.published and first.tables == {"pairs": 1}
    reader = duckdb.connect(str(out / "bilateral.duckdb"), read_only=True)
    make_wh(wh, [("CAN-CHN", 80.0), ("CAN-USA", 1000.0)])
    second = publish(wh, out, "run2")
    assert second.published and second.checksum != first.checksum
    assert reader.execute("select count(*) from marts.pairs").fetchone()[0] == 1, "old snapshot stays consistent"
    reader.close()
    fresh = duckdb.connect(str(out / "bilateral.duckdb"), read_only=True)
    assert fresh.execute("select count(*) from marts.pairs").fetchone()[0] == 2
    assert fresh.execute("select run_id from meta.publication").fetchone()[0] == "run2"
    assert fresh.execute("select comment from duckdb_columns() where table_name = 'pairs' and column_name = 'total'"
                         ).fetchone()[0] == "Total trade, US$"
    fresh.close()
    assert duckdb.execute(f"select count(*) from '{out}/parquet/pairs.parquet'").fetchone()[0] == 2
    assert not list(out.rglob(".*.tmp*")), "no temporary files left behind"


def test_published_file_is_in_a_storage_version_duckdb_1x_reads(tmp_path):
    make_wh(tmp_path / "wh.duckdb", [("CAN-CHN", 80.0)])
    publish(tmp_path / "wh.duckdb", tmp_path / "p", "run1")
    header = (tmp_path / "p" / "bilateral.duckdb").read_bytes()[:20]
    assert header[8:12] == b"DUCK" and struct.unpack("<Q", header[12:20])[0] <= 68  # 1.x reads 64..68


def test_unchanged_content_is_not_rewritten(tmp_path):
    make_wh(tmp_path / "wh.duckdb", [("CAN-CHN", 80.0)])
    publish(tmp_path / "wh.duckdb", tmp_path / "p", "run1")
    before = (tmp_path / "p" / "bilateral.duckdb").read_bytes()
    again = publish(tmp_path / "wh.duckdb", tmp_path / "p", "run2")
    assert again.unchanged and not again.published
    assert (tmp_path / "p" / "bilateral.duckdb").read_bytes() == before


def test_failure_leaves_published_file_untouched(tmp_path):
    make_wh(tmp_path / "wh.duckdb", [("CAN-CHN", 80.0)])
    publish(tmp_path / "wh.duckdb", tmp_path / "p", "run1")
    before = (tmp_path / "p" / "bilateral.duckdb").read_bytes()
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("drop table marts.pairs")
    con.close()
    with pytest.raises(PublishError):
        publish(tmp_path / "wh.duckdb", tmp_path / "p", "run2")
    assert (tmp_path / "p" / "bilateral.duckdb").read_bytes() == before


# --- one publication, all or nothing ---------------------------------------------------------------
def _publish_in_a_process(wh, out, run_id, marker, pause):
    """Publish in a child process that pauses at ``marker``; SIGKILL it there."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.reliability import cli_env

    code = f"from flows.publish import publish; publish({str(wh)!r}, {str(out)!r}, {run_id!r})"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                             env=cli_env(BILATERAL_PAUSE_AT=marker, BILATERAL_PAUSE_FILE=str(pause)))
    deadline = time.monotonic() + 60
    while not pause.exists():
        assert child.poll() is None and time.monotonic() < deadline, f"never reached {marker}"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    pause.unlink()


def _releases(out):
    return sorted(p.name for p in (out / "releases").iterdir())


@pytest.mark.parametrize("marker", ["publish:writing", "publish:release_written", "publish:switched", "publish:pruning"])
def test_a_publish_killed_at_any_stage_leaves_one_whole_publication(tmp_path, marker):
    from tests.reliability import published_fingerprint

    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    for n in range(1, 4):  # three publications: the next one prunes the oldest
        make_wh(wh, [("CAN-CHN", float(n))])
        publish(wh, out, f"run{n}")
    before = published_fingerprint(out)
    make_wh(wh, [("CAN-CHN", 4.0)])
    _publish_in_a_process(wh, out, "run4", marker, tmp_path / "paused")
    switched = marker in ("publish:switched", "publish:pruning")
    current = duckdb.connect(str(out / "bilateral.duckdb"), read_only=True)
    try:
        run_id, total = current.execute("select p.run_id, (select total from marts.pairs) from meta.publication p").fetchone()
    finally:
        current.close()
    parquet_total = duckdb.execute(f"select total from '{out}/parquet/pairs.parquet'").fetchone()[0]
    assert (run_id, total, parquet_total) == (("run4", 4.0, 4.0) if switched else ("run3", 3.0, 3.0))
    if not switched:
        assert published_fingerprint(out) == before
    make_wh(wh, [("CAN-CHN", 5.0)])
    publish(wh, out, "run5")  # the next publish settles what the kill left
    assert _releases(out) == (["run3", "run4", "run5"] if switched else ["run2", "run3", "run5"])
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]


def test_pruning_keeps_the_current_and_the_previous_publication_by_order_not_by_time(tmp_path):
    import os

    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    for n in range(1, 6):
        make_wh(wh, [("CAN-CHN", float(n))])
        publish(wh, out, f"run{n}")
        os.utime(out / "releases" / f"run{n}", (1, 1))  # folder times say nothing: order is by run id
    assert _releases(out) == ["run3", "run4", "run5"]
    assert os.readlink(out / "current") == "releases/run5"
    assert all((out / "releases" / r / "COMPLETE").exists() for r in _releases(out))
