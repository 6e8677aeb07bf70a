"""WITS TRAINS parsing on the REAL recorded answer (US MFN vs World, 2017, 5,388 HS6 lines) and on
malformed / error bodies: connector envelope checks and the DuckDB load spec."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from flows.sources.wits.connector import NoData, check_request_limits, parse_tariff_response
from flows.errors import ApiErrorBody, MalformedResponse
from flows.http import HttpResponse
from flows.sources.wits.load import WITS_TRN_TARIFF
from flows.paths import PACKAGE_DIR

WITS_REFERENCE = PACKAGE_DIR / "sources" / "wits" / "reference"

REAL = WITS_REFERENCE / "trn_tariff_usa_000_2017.json"


def _resp(body: bytes, status: int = 200, content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(url="u", redacted_url="u", key="k", status=status, headers={"content-type": content_type},
                        body=body, origin="replay")


def _load_file(path: Path, db: Path):
    """The file through the real loader into a real DuckDB file: (load report, raw rows, quarantine rows)."""
    import hashlib
    from datetime import date

    from flows.landing import LandedFile
    from flows.loading import load_results
    from flows.sources.base import ExtractResult
    from flows.warehouse import ensure_schemas

    ensure_schemas(db)
    body = path.read_bytes()
    f = LandedFile("r1", "wits", WITS_TRN_TARIFF.kind, str(path), "u", 200, len(body), hashlib.sha256(body).hexdigest(),
                   "2026-01-01T00:00:00+00:00", "replay", False)
    report = load_results(db, "r1", [ExtractResult("wits", "p", "2017", files=[f])], run_date=date(2026, 12, 1))
    con = duckdb.connect(str(db), read_only=True)
    cur = con.execute(f"select {', '.join(WITS_TRN_TARIFF.columns)} from raw.wits_trn_tariff")
    cols = [d[0] for d in cur.description]
    rows = [dict(zip(cols, row)) for row in cur.fetchall()]
    quarantined = con.execute("select record_no, rule, problem from quarantine.wits_trn_tariff order by 1").fetchall()
    con.close()
    return report, rows, quarantined


def _load(path: Path) -> list[dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report, rows, quarantined = _load_file(path, Path(tmp) / "w.duckdb")
    assert report.failures == [] and quarantined == []
    return rows


def test_real_recording_envelope_and_rows():
    assert parse_tariff_response(_resp(REAL.read_bytes()), expect_reporter="840") == 5388
    rows = _load(REAL)
    assert len(rows) == 5388
    assert set(WITS_TRN_TARIFF.columns) == set(rows[0])
    assert {r["reporter_code"] for r in rows} == {"840"} and {r["partner_code"] for r in rows} == {"000"}
    assert {r["year"] for r in rows} == {"2017"} and {r["tariff_type"] for r in rows} == {"MFN"}
    assert {r["nomen_code"] for r in rows} == {"H5"}
    codes = [r["product_code"] for r in rows]
    assert len(set(codes)) == 5388 and all(len(c) == 6 and c.isdigit() for c in codes)


def test_real_recording_values_match_an_independent_decoding():
    """Decode the SDMX indexes in Python (key position 3 = product, TRN quirk) and compare every row."""
    doc = json.loads(REAL.read_text())
    dims = {d["id"]: d["values"] for d in doc["structure"]["dimensions"]["series"]}
    attrs = doc["structure"]["attributes"]["observation"]
    pos = {a["id"]: i for i, a in enumerate(attrs)}
    expected = {}
    for key, series in doc["dataSets"][0]["series"].items():
        k = [int(x) for x in key.split(":")]
        obs = series["observations"]["0"]
        product = dims["PRODUCTCODE"][k[2]]["id"]
        max_idx = obs[1 + pos["MAX_RATE"]]
        expected[product] = (float(obs[0]), float(attrs[pos["MAX_RATE"]]["values"][max_idx]["id"]))
    got = {r["product_code"]: (r["rate"], r["max_rate"]) for r in _load(REAL)}
    assert got == expected
    # spot checks against the recording: passenger EVs 870380 at 2%, crude canola oil 151411 at 6 (simple average)
    assert got["870380"][0] == 2.0 and got["151411"][0] == 6.0


def test_error_documents_and_no_data():
    no_data = (b'<?xml version="1.0"?><wits:error xmlns:wits="http://wits.worldbank.org"><wits:message id="100" '
               b'key="No Records Found.">No data available.</wits:message></wits:error>')
    with pytest.raises(NoData, match="No Records Found"):
        parse_tariff_response(_resp(no_data, content_type="application/xml"))
    invalid = (b'<string><wits:error xmlns:wits="http://wits.worldbank.org"> <wits:message id="150" key="Invalid '
               b'Indicator Code.">The provided Indicator code parameter value is not valid.</wits:message> '
               b'</wits:error></string>')
    with pytest.raises(ApiErrorBody, match="150.*not valid"):
        parse_tariff_response(_resp(invalid, content_type="application/xml"))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        parse_tariff_response(_resp(b"{truncated"))
    with pytest.raises(MalformedResponse, match="header.id"):
        doc = json.loads(REAL.read_text()); doc["header"]["id"] = "DF_OTHER"
        parse_tariff_response(_resp(json.dumps(doc).encode()))
    with pytest.raises(MalformedResponse, match="reporter"):
        parse_tariff_response(_resp(REAL.read_bytes()), expect_reporter="124")
    with pytest.raises(ApiErrorBody, match="HTTP 400"):
        parse_tariff_response(_resp(b"Bad Request", status=400, content_type="text/html"))


def test_bad_observations_are_quarantined_and_the_rest_of_the_answer_loads(tmp_path):
    doc = json.loads(REAL.read_text())
    first = next(iter(doc["dataSets"][0]["series"]))
    doc["dataSets"][0]["series"][first]["observations"]["0"][0] = "n/a"
    doc["dataSets"][0]["series"]["0:0:99999:0:0"] = {"observations": {"0": [1.0] + [0] * 11}}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    report, rows, quarantined = _load_file(bad, tmp_path / "w.duckdb")
    problems = [p for _, _, p in quarantined]
    assert report.failures == [] and len(quarantined) == 2, "two bad observations of 5,389: quarantined, not the file"
    assert len(rows) == 5387, "the file's other observations load"
    assert any("observation value is VARCHAR" in p for p in problems)
    assert any("0:0:99999:0:0" in p and "TRN layout" in p for p in problems)


def test_request_limits():
    check_request_limits("840", "000", "all", "2017")
    check_request_limits("840", "all", "all", "2017")  # two 'all' dimensions are allowed
    with pytest.raises(ValueError, match="at most two"):
        check_request_limits("840", "all", "all", "all")
    with pytest.raises(ValueError, match="reporter and partner"):
        check_request_limits("all", "all", "870380", "2017")
