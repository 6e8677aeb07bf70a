"""Publishing: atomic replacement, readers keep their snapshot, DuckDB 1.x-readable, Parquet too."""
import struct

import duckdb
import pytest

from flows.errors import PublishError
from flows.publish import publish


def make_wh(path, rows):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.pairs (pair varchar, total double)")
    con.execute("comment on table marts.pairs is 'Trade per pair'")
    con.execute("comment on column marts.pairs.total is 'Total trade, US$'")
    con.executemany("insert into marts.pairs values (?, ?)", rows)
    con.close()


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
