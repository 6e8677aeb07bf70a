"""Size-bounded load batches (flows/load_batches.py, flows/loading.py): a load in many small batches
stores exactly what one batch stores, refuses the same files, stores each partition whole or not at all and
holds one batch's parse tables at a time. Real DuckDB files, generated GDELT export files."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows import load_batches, loading
from flows.bench.generate import GDELT_PAIRS, gdelt_files
from flows.config import load_config
from flows.landing import LandedFile
from flows.loading import load_results
from flows.sources.base import ExtractResult
from flows.warehouse import ensure_schemas

RUN_DATE = date(2026, 11, 30)
PARAMS = {"stream": "events", "countries": ["CAN", "CHN", "USA"], "pairs": GDELT_PAIRS}
N_FILES, ROWS = 6, 600


def _kept(fields: list[str]) -> bool:
    a, b = fields[7], fields[17]
    return a != b and f"{min(a, b)}-{max(a, b)}" in GDELT_PAIRS


def _spoil(path: Path, drift: bool) -> None:
    """Bad records: a kept event's Goldstein out of range and a cut line; ``drift``: 10% of lines cut."""
    lines = path.read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if _kept(line.split("\t")))
    fields = lines[i].split("\t")
    fields[30] = "99"
    lines[i] = "\t".join(fields)
    lines.append("a\tcut\tline")
    if drift:
        lines = [line if n % 10 else "\t".join(line.split("\t")[:58]) for n, line in enumerate(lines)]
    path.write_text("\n".join(lines) + "\n")


def _landed(path: Path, n: int) -> LandedFile:
    import hashlib

    return LandedFile(run_id="r1", source="gdelt_events", kind="gdelt_event", path=str(path), request_url=f"bench/{n}",
                      http_status=200, bytes=path.stat().st_size, sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                      fetched_at="2026-11-30T00:00:00+00:00", origin="replay", synthetic=True, load_params=PARAMS)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> list[Path]:
    """Six export files; the 2nd and the 5th carry bad records."""
    root = tmp_path_factory.mktemp("exports")
    paths = [Path(p) for p in gdelt_files(root / "gen", N_FILES, ROWS).files]
    for n in (1, 4):
        _spoil(paths[n], drift=False)
    return paths


def _night(paths: list[Path], partitions: int = 1) -> list[ExtractResult]:
    """The files as ``partitions`` consecutive partitions of the events stream."""
    files = [_landed(p, n) for n, p in enumerate(paths)]
    size = -(-len(files) // partitions)
    return [ExtractResult("gdelt_events", f"day{k}", f"day{k}", files=files[k * size:(k + 1) * size], records=1,
                          state_updates={f"day{k}": "done"})
            for k in range(partitions)]


def _db(tmp_path: Path, name: str) -> Path:
    db = tmp_path / f"{name}.duckdb"
    ensure_schemas(db)
    return db


def _contents(db: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            "raw": con.execute("select * exclude (_loaded_at) from raw.gdelt_event order by all").fetchall(),
            "quarantine": con.execute("select quarantine_id, landed_file, record_no, rule, problem, raw_record, status "
                                      "from quarantine.gdelt_event order by all").fetchall(),
            "loaded_files": con.execute("select raw_table, sha256, run_id, path, rows from audit.loaded_files "
                                        "order by all").fetchall(),
            "landed": con.execute("select path, status, problem from audit.landed_files order by all").fetchall(),
            "state": con.execute("select source, key, value from audit.source_state order by all").fetchall(),
        }
    finally:
        con.close()


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """For every batch parsed: how many loader parse tables exist right after its parse."""
    counts: list[int] = []
    original = loading._Batch._parse

    def counting(self):
        original(self)
        counts.append(self.con.execute("select count(*) from duckdb_tables() "
                                       "where table_name like '\\_load\\_%\\_parsed' escape '\\'").fetchone()[0])

    monkeypatch.setattr(loading._Batch, "_parse", counting)
    return counts


def test_windows_and_chunks_cut_by_bytes_in_order_without_splitting_a_file(tmp_path):
    assert list(load_batches.windows([("a", 5), ("b", 5), ("c", 1), ("d", 30), ("e", 0)], 10)) == \
        [["a", "b"], ["c"], ["d"], ["e"]]
    assert list(load_batches.windows([], 10)) == []
    files = [_landed(p, n) for n, p in enumerate(_sized_files(tmp_path, [4, 4, 4, 20, 1]))]
    assert [[f.bytes for f in c] for c in load_batches.chunks(files, 8)] == [[4, 4], [4], [20], [1]]


def _sized_files(root: Path, sizes: list[int]) -> list[Path]:
    paths = []
    for n, size in enumerate(sizes):
        (path := root / f"f{n}.CSV").write_bytes(b"x" * size)
        paths.append(path)
    return paths


def test_tiny_batches_store_exactly_what_one_batch_stores(tmp_path, exports, parses):
    one = load_results(_db(tmp_path, "one"), "r1", _night(exports), run_date=RUN_DATE)
    assert parses == [1], "the default limit parses the night's six small files in one batch"
    parses.clear()
    limit = exports[0].stat().st_size + 1  # one file a batch
    tiny = load_results(_db(tmp_path, "tiny"), "r1", _night(exports), run_date=RUN_DATE, batch_bytes=limit)
    assert parses == [1] * N_FILES, "one parse a file, never two batches' parse tables at once"
    expected = _contents(tmp_path / "one.duckdb")
    assert _contents(tmp_path / "tiny.duckdb") == expected
    assert len(expected["raw"]) == one.rows_loaded > 0 and len(expected["loaded_files"]) == N_FILES
    assert {r[3] for r in expected["quarantine"]} == {"out_of_domain", "malformed_line"}
    assert len(expected["quarantine"]) == 4 and one.rows_quarantined == tiny.rows_quarantined == 4
    assert (tiny.rows_loaded, tiny.files_loaded, tiny.failures) == (one.rows_loaded, one.files_loaded, [])


def test_many_partitions_in_tiny_windows_store_what_one_window_stores(tmp_path, exports, parses):
    load_results(_db(tmp_path, "one"), "r1", _night(exports, partitions=3), run_date=RUN_DATE)
    limit = exports[0].stat().st_size + 1
    load_results(_db(tmp_path, "tiny"), "r1", _night(exports, partitions=3), run_date=RUN_DATE, batch_bytes=limit)
    assert max(parses) == 1
    assert _contents(tmp_path / "tiny.duckdb") == _contents(tmp_path / "one.duckdb")
    assert [s[1] for s in _contents(tmp_path / "tiny.duckdb")["state"]] == ["day0", "day1", "day2"]


def test_a_drifted_file_in_a_later_batch_is_refused_as_in_one_batch(tmp_path, exports):
    paths = [tmp_path / p.name for p in exports]
    for src, dst in zip(exports, paths):
        shutil.copy(src, dst)
    _spoil(paths[4], drift=True)
    limit = paths[0].stat().st_size + 1
    one = load_results(_db(tmp_path, "one"), "r1", _night(paths), run_date=RUN_DATE)
    tiny = load_results(_db(tmp_path, "tiny"), "r1", _night(paths), run_date=RUN_DATE, batch_bytes=limit)
    assert [f.file for f in tiny.failures] == [f.file for f in one.failures] == [str(paths[4])]
    assert tiny.failures[0].message == one.failures[0].message and "format may have changed" in one.failures[0].message
    got = _contents(tmp_path / "tiny.duckdb")
    assert got == _contents(tmp_path / "one.duckdb")
    assert (str(paths[4]), "rejected") in {(p, s) for p, s, _ in got["landed"]}
    assert [q[2:4] for q in got["quarantine"] if q[1] == str(paths[4])] == [(None, "file_refused")]
    assert str(paths[4]) not in {r[3] for r in got["loaded_files"]} and len(got["loaded_files"]) == N_FILES - 1


def _load_before(tmp_path: Path, exports: list[Path]) -> tuple[Path, dict]:
    """A warehouse where night 1 stored the first two files; night 2 brings the other four."""
    db = _db(tmp_path, "w")
    load_results(db, "r1", _night(exports[:2]), run_date=RUN_DATE)
    return db, _contents(db)


def test_a_failure_in_a_later_batch_of_a_partition_leaves_it_unchanged(tmp_path, exports, monkeypatch):
    db, before = _load_before(tmp_path, exports)
    original, calls = loading._Batch.prepare, []

    def failing(self):
        calls.append(self)
        if len(calls) == 2:
            raise RuntimeError("injected: the checks of the 2nd batch fail")
        original(self)

    monkeypatch.setattr(loading._Batch, "prepare", failing)
    with pytest.raises(RuntimeError, match="injected"):
        load_results(db, "r2", _night(exports[2:]), run_date=RUN_DATE, batch_bytes=exports[0].stat().st_size + 1)
    after = _contents(db)
    assert {k: v for k, v in after.items() if k != "landed"} == {k: v for k, v in before.items() if k != "landed"}


def test_a_failure_storing_a_partition_of_several_batches_rolls_all_of_it_back(tmp_path, exports, monkeypatch):
    db, before = _load_before(tmp_path, exports)
    original = loading._Batch.store

    def failing(self, con, files, run_id):
        original(self, con, files, run_id)  # the records are written inside the partition's transaction ...
        raise duckdb.ConstraintException("injected: the audit write fails")  # ... then the store fails

    monkeypatch.setattr(loading._Batch, "store", failing)
    with pytest.raises(RuntimeError, match="nothing of it was stored"):
        load_results(db, "r2", _night(exports[2:]), run_date=RUN_DATE, batch_bytes=exports[0].stat().st_size + 1)
    after = _contents(db)
    assert after["raw"] == before["raw"] and after["quarantine"] == before["quarantine"]
    assert after["loaded_files"] == before["loaded_files"] and after["state"] == before["state"]
    monkeypatch.setattr(loading._Batch, "store", original)
    report = load_results(db, "r3", _night(exports[2:]), run_date=RUN_DATE, batch_bytes=exports[0].stat().st_size + 1)
    assert report.files_loaded == 4 and len(_contents(db)["loaded_files"]) == N_FILES, "a re-run loads it whole"


def test_load_batch_mb_is_a_warehouse_setting(tmp_path):
    assert load_config().load_batch_mb == load_batches.DEFAULT_BATCH_MB
    assert load_config(overrides=["warehouse.load_batch_mb=8"]).load_batch_mb == 8


def test_every_stored_event_and_bad_line_is_numbered_by_its_line_in_its_file(tmp_path, exports):
    """Line numbers across one batch of several files (the parse numbers events by the scan's order):
    with a cut line in the middle of a file, each stored event is the line its record_no names."""
    paths = []
    for n, src in enumerate(exports):
        dst = tmp_path / "in" / src.name
        dst.parent.mkdir(exist_ok=True)
        lines = src.read_text().splitlines()
        if n == 2:
            lines.insert(len(lines) // 2, "a\tcut\tline")
        dst.write_text("\n".join(lines) + "\n")
        paths.append(dst)
    db = _db(tmp_path, "lines")
    load_results(db, "r1", _night(paths), run_date=RUN_DATE)
    con = duckdb.connect(str(db), read_only=True)
    stored = con.execute('select _landed_file, record_no, "GLOBALEVENTID", "SQLDATE" from raw.gdelt_event').fetchall()
    bad = con.execute("select landed_file, record_no, rule from quarantine.gdelt_event").fetchall()
    con.close()
    texts = {str(p): p.read_text().splitlines() for p in paths}
    expected = sum(_kept(line.split("\t")) for p in paths for line in texts[str(p)] if len(line.split("\t")) == 61)
    assert len(stored) + sum(rule != "malformed_line" for _, _, rule in bad) == expected > 5
    for path, record_no, event_id, sqldate in stored:
        fields = texts[path][record_no - 1].split("\t")
        assert (fields[0], fields[1]) == (event_id, sqldate), (path, record_no)
    for path, record_no, rule in bad:
        fields = texts[path][record_no - 1].split("\t")
        assert (len(fields) != 61) == (rule == "malformed_line"), (path, record_no, rule)
    cut = texts[str(paths[2])].index("a\tcut\tline") + 1
    assert (str(paths[2]), cut, "malformed_line") in bad, "the cut line in the middle of the 3rd file, by its number"
    assert any(n < cut for p, n, _, _ in stored if p == str(paths[2])), "events before it"
    assert any(n > cut for p, n, _, _ in stored if p == str(paths[2])), "and after it"


def test_duckdb_memory_limit_is_a_warehouse_setting_and_a_bad_one_is_refused():
    from flows.config import DEFAULT_DUCKDB_MEMORY_LIMIT, ConfigError

    assert load_config().duckdb_memory_limit == DEFAULT_DUCKDB_MEMORY_LIMIT == "3GB"
    assert load_config(overrides=["warehouse.duckdb_memory_limit=8GiB"]).duckdb_memory_limit == "8GiB"
    for bad in ("lots", "3", "-1GB", "3 gigabytes"):
        with pytest.raises(ConfigError, match="duckdb_memory_limit"):
            load_config(overrides=[f"warehouse.duckdb_memory_limit={bad}"])
