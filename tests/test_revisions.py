"""Revisions that stick, duplicates and out-of-order answers, through the real loader and the real dbt
staging models: for every source that re-fetches (Comtrade revision windows, World Bank, WITS refresh
years, GDELT DOC), a value revised A -> B -> A ends at A; an answer fetched earlier but loaded later
never wins by its load time; a page served twice loads once per record with a note."""
from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from flows import transform
from flows.http import HttpResponse
from flows.landing import Lander
from flows.loading import load_results
from flows.paths import PACKAGE_DIR, Project
from flows.sources.base import ExtractResult
from flows.warehouse import ensure_schemas
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow  # one dbt run of the staging models

COMTRADE = json.loads((PACKAGE_DIR / "sources" / "comtrade" / "reference" / "recorded" / "get_C_A_HS_recorded.json").read_bytes())
WITS = json.loads((PACKAGE_DIR / "sources" / "wits" / "reference" / "trn_tariff_usa_000_2017.json").read_bytes())
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _comtrade(value: float) -> bytes:
    doc = copy.deepcopy(COMTRADE)
    doc["data"][0]["primaryValue"] = value
    return json.dumps(doc).encode()


def _worldbank(value: float, page: int = 1) -> bytes:
    rows = [{"indicator": {"id": "NY.GDP.MKTP.CD", "value": "GDP"}, "country": {"id": "CA", "value": "Canada"},
             "countryiso3code": "CAN", "date": "2020", "value": value, "unit": "", "obs_status": "", "decimal": 0}]
    return json.dumps([{"page": page, "pages": 1, "per_page": 50, "total": 1}, rows]).encode()


def _wits(rate: float) -> bytes:
    doc = copy.deepcopy(WITS)
    first = next(iter(doc["dataSets"][0]["series"]))
    doc["dataSets"][0]["series"][first]["observations"]["0"][0] = rate
    return json.dumps(doc).encode()


def _timeline(value: float) -> bytes:
    return json.dumps({"timeline": [{"series": "Average Tone", "data": [{"date": "20260115T000000Z", "value": value}]}]}).encode()


def _night(db: Path, tmp: Path, run_id: str, answers: list[tuple[str, str, bytes, datetime, dict]]) -> None:
    """Land and load one night's answers: (source, kind, body, fetched_at, load_params)."""
    results = []
    for source, kind, body, fetched_at, params in answers:
        lander = Lander(tmp / "landing", source, "2026-01-01", run_id)
        resp = HttpResponse(f"http://x/{kind}", f"http://x/{kind}", kind, 200, {"content-type": "application/json"},
                            body, "replay", fetched_at=fetched_at.isoformat())
        lander.land(resp, kind, load_params=params)
        results.append(ExtractResult(source, f"{kind}-{run_id}", "p", files=lander.files))
    report = load_results(db, run_id, results, run_date=date(2026, 12, 1))
    assert report.failures == [], report.failures


DOC_PARAMS = {"pair": "CAN-CHN", "query": "q", "mode": "timelinetone"}


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("revisions")
    db = tmp / "w.duckdb"
    ensure_schemas(db)
    for n, (cv, wv, tv, dv, when) in enumerate([(1.51, 100.0, 2.5, 1.0, T0), (1.52, 200.0, 3.5, 2.0, T0 + timedelta(days=1)),
                                                 (1.51, 100.0, 2.5, 1.0, T0 + timedelta(days=2))]):
        _night(db, tmp, f"night{n + 1}", [
            ("comtrade", "comtrade_record", _comtrade(cv), when, {}),
            ("worldbank", "worldbank_indicator", _worldbank(wv), when, {}),
            ("wits", "wits_trn_tariff", _wits(tv), when, {}),
            ("gdelt_doc", "gdelt_doc_timeline", _timeline(dv), when, DOC_PARAMS),
        ])
    # out of order: an answer fetched before night 1 arrives (is loaded) only now: it must not win
    _night(db, tmp, "late", [("worldbank", "worldbank_indicator", _worldbank(999.0), T0 - timedelta(days=5), {})])
    # a page served twice (the second page repeats the first one's rows): one record per key, and a note
    lander = Lander(tmp / "landing", "worldbank", "2026-01-01", "dup")
    rows = [{"indicator": {"id": ind, "value": "t"}, "country": {"id": "CN", "value": "China"}, "countryiso3code": "CHN",
             "date": str(y), "value": float(y - 2000), "unit": "", "obs_status": "", "decimal": 1}
            for ind in ("TM.TAX.MRCH.WM.AR.ZS", "TM.TAX.MRCH.SM.AR.ZS", "TM.TAX.MRCH.WM.FN.ZS") for y in range(2015, 2027)]
    for page in (1, 2):
        body = json.dumps([{"page": page, "pages": 2, "per_page": 36, "total": 72}, rows]).encode()
        lander.land(HttpResponse("u", "u", f"p{page}", 200, {"content-type": "application/json"}, body, "replay"),
                    "worldbank_indicator")
    dup_report = load_results(db, "dup", [ExtractResult("worldbank", "dup", "p", files=lander.files)],
                              run_date=date(2026, 12, 1))
    report = transform.build(Project(PROJECT_ROOT), db, "revisions",
                             args=["build", "--select", "+path:models/staging", "--exclude", "test_type:unit",
                                   "--indirect-selection", "cautious"])
    assert report.success, report.message
    con = duckdb.connect(str(db), read_only=True)
    yield con, dup_report
    con.close()


def test_comtrade_revision_back_to_an_earlier_value_sticks(staged):
    con, _ = staged
    assert con.execute("select primary_value_usd from staging.stg_comtrade__records where period = '2010' "
                       "and reporter_code = 156 and partner_code = 32 and flow_code = 'M' and cmd_code = 'TOTAL'").fetchall() == [(1.51,)]


def test_worldbank_revision_back_sticks_and_a_late_older_answer_does_not_win(staged):
    con, _ = staged
    assert con.execute("select value from staging.stg_worldbank__indicator_values where country_iso3 = 'CAN' "
                       "and indicator_code = 'NY.GDP.MKTP.CD' and year = 2020").fetchall() == [(100.0,)]


def test_wits_refreshed_year_revision_back_sticks(staged):
    con, _ = staged
    first = next(iter(WITS["dataSets"][0]["series"]))
    codes = next(d for d in WITS["structure"]["dimensions"]["series"] if d["id"] == "PRODUCTCODE")["values"]
    product = codes[int(first.split(":")[2])]["id"]  # the key's third position is the product (README.md)
    assert con.execute("select rate_pct from staging.stg_wits__tariff_lines where hs6 = ? and year = 2017",
                       [product]).fetchall() == [(2.5,)]


def test_doc_timeline_revision_back_sticks(staged):
    con, _ = staged
    assert con.execute("select value from staging.stg_gdelt_doc__timeline where pair = 'CAN-CHN' "
                       "and mode = 'timelinetone'").fetchall() == [(1.0,)]


def test_a_page_served_twice_loads_once_per_key_with_a_note(staged):
    con, dup_report = staged
    assert dup_report.rows_by_table == {"worldbank_indicator": 72}, "both pages' records are stored as sent"
    (note,) = dup_report.notes
    assert "[worldbank] 36 record(s) of raw.worldbank_indicator repeat a natural key" in note
    assert con.execute("select count(*), count(distinct (indicator_code, year)) from staging.stg_worldbank__indicator_values "
                       "where country_iso3 = 'CHN'").fetchall() == [(36, 36)]
