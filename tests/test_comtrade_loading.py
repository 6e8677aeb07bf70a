"""Comtrade load spec: the real recording loads typed; bad input (unknown codes, non-numeric values,
missing fields, changed schema) refuses its file naming file, field and records while other
partitions still load; the sample generator is deterministic and replays through the connector."""
from __future__ import annotations

import copy
import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, sample_context

SUITES_DIR = PROJECT_ROOT / "expectations" / "suites"

from flows.config import load_config
from flows.sources.base import ExtractResult
from flows.sources.comtrade.connector import SECRET_PARAMS, ComtradeConnector
from flows.http import HttpClient, HttpResponse
from flows.landing import Lander
from flows.paths import PACKAGE_DIR, REFERENCE_DIR

COMTRADE_REFERENCE = PACKAGE_DIR / "sources" / "comtrade" / "reference"
from flows.loading import load_results
from flows.recording import ReplayTransport
from flows.sources.comtrade import sample as samplegen
from flows.warehouse import ensure_schemas

RECORDED = COMTRADE_REFERENCE / "recorded" / "get_C_A_HS_recorded.json"  # a real recorded answer


def _land(lander: Lander, body: bytes, partition: str) -> ExtractResult:
    resp = HttpResponse(f"http://x/data/v1/get/C/A/HS?p={partition}", f"http://x/data/v1/get/C/A/HS?p={partition}",
                        f"k{partition}", 200, {"content-type": "application/json"}, body, "replay")
    files_before = len(lander.files)
    lander.land(resp, "comtrade_record")
    return ExtractResult("comtrade", partition, "A2010", files=lander.files[files_before:], records=1)


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    ensure_schemas(path)
    return path


def test_real_recording_loads_typed(db, tmp_path):
    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    report = load_results(db, "r1", [_land(lander, RECORDED.read_bytes(), "real")])
    assert report.failures == [] and report.rows_by_table == {"comtrade_record": 4}
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute('select "cmdCode", "refMonth", "period", "reporterCode", "partnerCode", "flowCode", '
                       '"primaryValue", "cifvalue", "fobvalue", "isReported", _synthetic from raw.comtrade_record '
                       'order by record_no').fetchall()
    types = dict(con.execute("select column_name, data_type from information_schema.columns "
                             "where table_name = 'comtrade_record'").fetchall())
    con.close()
    assert rows[0] == ("TOTAL", 52, "2010", 156, 32, "M", 6804128143.0, 6804128143.0, None, True, False)
    assert rows[2][5] == "X" and rows[2][8] == 6115764185.0
    assert types["cmdCode"] == "VARCHAR" and types["primaryValue"] == "DOUBLE" and types["refMonth"] == "INTEGER"


def _bad_docs() -> dict[str, tuple[bytes, list[int], list[str]]]:
    """Variants of the real recording: (body, bad record numbers, fragments the problem names)."""
    doc = json.loads(RECORDED.read_bytes())

    def variant(fn):
        d = copy.deepcopy(doc)
        fn(d)
        return json.dumps(d).encode()

    return {
        "unknown_code": (variant(lambda d: d["data"][1].update(partnerCode=9999)), [2], ["partnerCode", "9999"]),
        "non_numeric": (variant(lambda d: d["data"][2].update(primaryValue="6.1e9 USD")), [3],
                        ["primaryValue", "expected a number"]),
        "missing_field": (variant(lambda d: [d["data"][0].pop("cmdCode"), d["data"][3].pop("cmdCode")]), [1, 4],
                          ["cmdCode: missing or null"]),
        "bad_refmonth": (variant(lambda d: d["data"][0].update(refMonth=13)), [1], ["refMonth", "13"]),
        "negative_value": (variant(lambda d: d["data"][1].update(primaryValue=-5.0)), [2], ["primaryValue: negative"]),
        "future_year": (variant(lambda d: d["data"][0].update(refYear=2099, period="2099")), [1], ["refYear: 2099"]),
        # from_json would load these as null: an integer field takes 32 bits
        "beyond_32_bits": (variant(lambda d: [d["data"][1].update(qtyUnitCode=99999999999),
                                               d["data"][2].update(reporterCode=-4294967296)]), [2, 3],
                           ["beyond a 32-bit integer"]),
    }


RECORD_CASES = ["unknown_code", "non_numeric", "missing_field", "bad_refmonth", "negative_value", "future_year",
                "beyond_32_bits"]


@pytest.mark.parametrize("case", RECORD_CASES)
def test_a_bad_record_is_quarantined_with_its_rule_and_the_rest_of_its_file_loads(db, tmp_path, case):
    body, bad_records, fragments = _bad_docs()[case]
    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    good, bad = _land(lander, RECORDED.read_bytes(), "good"), _land(lander, body, "bad")
    report = load_results(db, "r1", [bad, good], run_date=date(2026, 12, 1), max_bad_share={"comtrade": 0.5})
    assert report.failures == [] and report.rows_by_table == {"comtrade_record": 4 + 4 - len(bad_records)}
    assert report.quarantined_by_source == {"comtrade": len(bad_records)}
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select record_no, rule, problem, raw_record, landed_file, status, refused_by "
                       "from quarantine.comtrade_record order by record_no").fetchall()
    loaded = {r[0] for r in con.execute("select record_no from raw.comtrade_record where _landed_file = ?",
                                        [bad.files[0].path]).fetchall()}
    con.close()
    assert [r[0] for r in rows] == bad_records
    for record_no, rule, problem, raw, path, status, by in rows:
        assert path == bad.files[0].path and status == "quarantined" and by == "load"
        assert rule in ("wrong_type", "out_of_domain") and all(f in problem for f in fragments), problem
        assert json.loads(raw) == json.loads(body)["data"][record_no - 1], "the record's own text is kept"
    assert loaded == {1, 2, 3, 4} - set(bad_records), "never silently coerced: the bad record is not in raw"


@pytest.mark.parametrize("case", RECORD_CASES)
def test_a_file_whose_bad_share_passes_the_threshold_is_refused_whole_as_format_drift(db, tmp_path, case):
    body, bad_records, _ = _bad_docs()[case]
    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    good, bad = _land(lander, RECORDED.read_bytes(), "good"), _land(lander, body, "bad")
    report = load_results(db, "r1", [bad, good], run_date=date(2026, 12, 1))  # default: 1% of a file
    assert [(f.source, f.partition, f.file) for f in report.failures] == [("comtrade", "bad", bad.files[0].path)]
    message = report.failures[0].message
    assert f"{len(bad_records)} of 4 records" in message and "max_bad_record_share = 1.0%" in message
    assert "format may have changed" in message and f"record {bad_records[0]}:" in message
    assert report.rows_by_table == {"comtrade_record": 4}, "the valid file of the other partition loaded"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(distinct _landed_file) from raw.comtrade_record").fetchone()[0] == 1
    assert con.execute("select status from audit.landed_files where path = ?", [bad.files[0].path]).fetchone()[0] == "rejected"
    assert con.execute("select record_no, rule from quarantine.comtrade_record").fetchall() == [(None, "file_refused")]
    con.close()


def test_a_changed_envelope_is_refused_whole(db, tmp_path):
    doc = json.loads(RECORDED.read_bytes())
    body = json.dumps({"elapsedTime": "0.1 secs", "count": 4, "records": doc["data"]}).encode()
    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    report = load_results(db, "r1", [_land(lander, body, "bad"), _land(lander, b"not json at all", "garbage")])
    messages = {f.partition: f.message for f in report.failures}
    assert "changed format" in messages["bad"] and "keys [elapsedTime, count, records]" in messages["bad"]
    assert "cannot be read" in messages["garbage"], messages
    assert report.rows_loaded == 0


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def small_config(write_config):
    return load_config(write_config({"countries.focus": ["CAN", "CHN"], "years.start": 2023, "years.end": 2025,
                                     "sources.comtrade.monthly_months": 3}), environ={})


def test_sample_is_deterministic_for_config_and_run_date(small_config, tmp_path):
    samplegen.generate(sample_context(small_config, "comtrade", tmp_path / "a", date(2025, 11, 28)))
    samplegen.generate(sample_context(small_config, "comtrade", tmp_path / "b", date(2025, 11, 28)))
    samplegen.generate(sample_context(small_config, "comtrade", tmp_path / "c", date(2025, 6, 1)))
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert _tree_hash(tmp_path / "a") != _tree_hash(tmp_path / "c")
    entries = [json.loads(x) for x in (tmp_path / "a" / "comtrade" / "index.jsonl").read_text().splitlines()]
    assert entries and all(e["synthetic"] for e in entries)
    assert all(e["key"].startswith("data/v1/get/C/") for e in entries)


@pytest.mark.parametrize("history_start,months", [
    (2015, 33),  # first run: the history from max(2015, years.start 2023) up to the window, Jan 2023..Sep 2025
    (0, 9),  # window only: Jan..Sep 2025, the 3-month window widened to the calendar year, 2-month lag
])
def test_sample_replays_through_the_connector_in_both_modes(write_config, tmp_path, monkeypatch, history_start, months):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    small_config = load_config(write_config({"countries.focus": ["CAN", "CHN"], "years.start": 2023, "years.end": 2025,
                                             "sources.comtrade.monthly_months": 3,
                                             "sources.comtrade.monthly_history_start": history_start}), environ={})
    run_date = date(2025, 11, 28)
    samplegen.generate(sample_context(small_config, "comtrade", tmp_path / "rec", run_date), modes=("keyed", "preview"))
    src = small_config.sources["comtrade"]
    counts = {}
    for mode in ("keyed", "preview"):
        db = tmp_path / f"{mode}.duckdb"  # identical answers would be skipped as already loaded in one file
        ensure_schemas(db)
        s = src.model_copy(update={"api_mode": mode})
        client = HttpClient(s, ReplayTransport(tmp_path / "rec"), secret_params=SECRET_PARAMS)
        conn = ComtradeConnector(small_config, s, client, run_date)
        conn._key, conn._key_loaded = ("k" if mode == "keyed" else None), True
        lander = Lander(tmp_path / f"landing-{mode}", "comtrade", str(run_date), mode)
        results = [conn.extract(p, lander) for p in conn.partitions()]
        assert all(r.ok for r in results)
        counts[mode] = sum(r.records for r in results)
        assert any("no data published yet" in n for r in results for n in r.notes)  # 2025 annual not out yet
        report = load_results(db, mode, results)
        assert report.failures == [] and report.rows_loaded == counts[mode]
    assert counts["keyed"] == counts["preview"] > 0
    con = duckdb.connect(str(tmp_path / "preview.duckdb"), read_only=True)
    synthetic, n_months = con.execute(
        "select bool_and(_synthetic), count(distinct period) filter (where \"freqCode\" = 'M') from raw.comtrade_record").fetchone()
    con.close()
    assert synthetic and n_months == months


def test_raw_suite_catches_breakdown_rows_that_pass_loading(db, tmp_path):
    """Breakdown rows (partner2 not World, a transport mode) load - they are valid records - but the
    raw GX suite refuses the batch: summing them with totals would double count."""
    from flows.validation import load_suites, validate

    doc = json.loads(RECORDED.read_bytes())
    doc["data"][0].update(partner2Code=344, motCode=2100)
    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    ok = load_results(db, "r1", [_land(lander, RECORDED.read_bytes(), "ok")])
    bad = load_results(db, "r2", [_land(lander, json.dumps(doc).encode(), "breakdown")])
    assert ok.failures == [] and bad.failures == [] and bad.rows_loaded == 4
    suites = [s for s in load_suites(SUITES_DIR) if s.name == "raw_comtrade"]
    assert validate(db, "r1", tmp_path / "gx", suites=suites).success
    report = validate(db, "r2", tmp_path / "gx", suites=suites)
    assert not report.success
    failed = json.dumps(report.suites[0].failures)
    assert "partner2Code" in failed and "motCode" in failed and "customsCode" not in failed


def _variant_body(period: str) -> bytes:
    doc = json.loads(RECORDED.read_bytes())
    for r in doc["data"]:
        r["period"], r["refYear"] = period, int(period)
    return json.dumps(doc).encode()


def test_the_partitions_of_a_window_are_stored_all_or_none_and_a_rerun_loads_them(db, tmp_path, monkeypatch):
    """Small partitions (a Comtrade reporter-year each) share one window's transaction: a failure while
    storing it stores none of them, names them, and a re-run loads every one."""
    from flows import loading

    lander = Lander(tmp_path / "landing", "comtrade", "2026-01-01", "r1")
    results = [_land(lander, _variant_body(str(year)), f"p{year}") for year in (2010, 2011, 2012)]
    original = loading._Batch.store

    def failing(self, con, files, run_id):
        original(self, con, files, run_id)  # the records are written inside the window's transaction ...
        raise duckdb.ConstraintException("injected: the audit write fails")  # ... then the store fails

    monkeypatch.setattr(loading._Batch, "store", failing)
    with pytest.raises(RuntimeError, match=r"storing partition comtrade p2010 \.\. comtrade p2012 \(3 partitions\) "
                                           r"failed: .*injected.*nothing of it was stored"):
        load_results(db, "r1", results, run_date=date(2026, 12, 1))
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.comtrade_record").fetchone()[0] == 0
    assert con.execute("select count(*) from audit.loaded_files").fetchone()[0] == 0
    assert con.execute("select count(*) from audit.landed_files").fetchone()[0] == 3, "the observations stay recorded"
    con.close()
    monkeypatch.setattr(loading._Batch, "store", original)
    report = load_results(db, "r2", results, run_date=date(2026, 12, 1))
    assert report.files_loaded == 3 and report.rows_by_table == {"comtrade_record": 12}
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(distinct period) from raw.comtrade_record").fetchone()[0] == 3
    con.close()
