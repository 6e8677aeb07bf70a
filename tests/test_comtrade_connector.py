"""UN Comtrade connector: request shapes (keyed / preview / auth), partitioning and splits, every
HTTP case against a real local HTTP server, incremental planning, and the parser on the real
recorded response."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from flows.config import load_config
from flows.sources.comtrade.connector import HS_CHAPTERS, SECRET_PARAMS, ComtradeConnector, parse_response
from flows.errors import ApiErrorBody, QuotaExhausted, SourceUnavailable
from flows.http import HttpClient, HttpResponse, LiveTransport, request_key
from flows.landing import Lander
from flows.paths import PACKAGE_DIR, REFERENCE_DIR

COMTRADE_REFERENCE = PACKAGE_DIR / "sources" / "comtrade" / "reference"

RECORDED = COMTRADE_REFERENCE / "recorded" / "get_C_A_HS_recorded.json"  # a real recorded answer
JSON = {"Content-Type": "application/json; charset=utf-8"}


def _config(write_config, server_url: str, years=(2023, 2024), **opts):
    overrides = {
        "countries.focus": ["CAN", "CHN"], "years.start": years[0], "years.end": years[1],
        "sources.comtrade.base_url": server_url, "sources.comtrade.backoff_seconds": 0.0,
        "sources.comtrade.timeout_seconds": 5.0, "sources.comtrade.max_retries": 2,
        "sources.comtrade.min_interval_seconds": 0.0, "sources.comtrade.freqs": ["A"],
        **{f"sources.comtrade.{k}": v for k, v in opts.items()},
    }
    return load_config(write_config(overrides), environ={})


def _connector(cfg, run_date=date(2025, 6, 15), state=None, **kw) -> ComtradeConnector:
    src = cfg.sources["comtrade"]
    client = HttpClient(src, LiveTransport(), secret_params=SECRET_PARAMS)
    return ComtradeConnector(cfg, src, client, run_date, state=state, **kw)


def _record(reporter=124, partner=156, flow="X", cmd="TOTAL", period="2024", value=1000.0) -> dict:
    annual = len(period) == 4
    return {"typeCode": "C", "freqCode": "A" if annual else "M", "refPeriodId": int(period[:4] + (period[4:] or "01") + "01"),
            "refYear": int(period[:4]), "refMonth": 52 if annual else int(period[4:]), "period": period,
            "reporterCode": reporter, "reporterISO": "CAN", "reporterDesc": "Canada", "flowCode": flow,
            "flowDesc": "Export", "partnerCode": partner, "partnerISO": "CHN", "partnerDesc": "China",
            "partner2Code": 0, "partner2ISO": "W00", "partner2Desc": "World", "classificationCode": "H6",
            "classificationSearchCode": "HS", "isOriginalClassification": True, "cmdCode": cmd,
            "cmdDesc": "x", "aggrLevel": 0 if cmd == "TOTAL" else len(cmd), "isLeaf": False, "customsCode": "C00",
            "customsDesc": "TOTAL CPC", "mosCode": "0", "motCode": 0, "motDesc": "TOTAL MOT", "qtyUnitCode": -1,
            "qtyUnitAbbr": "N/A", "qty": None, "isQtyEstimated": False, "altQtyUnitCode": -1, "altQtyUnitAbbr": "N/A",
            "altQty": None, "isAltQtyEstimated": False, "netWgt": None, "isNetWgtEstimated": False, "grossWgt": None,
            "isGrossWgtEstimated": False, "cifvalue": None, "fobvalue": value, "primaryValue": value,
            "legacyEstimationFlag": 0, "isReported": True, "isAggregate": False}


def _body(rows: list[dict]) -> bytes:
    return json.dumps({"elapsedTime": "0.1 secs", "count": len(rows), "data": rows, "error": ""}).encode()


def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


def _echo(path: str):
    """A well-behaved server: one X row per requested period and commodity for the first partner."""
    q = _query(path)
    rows = [_record(cmd=c, period=p) for p in q["period"].split(",") for c in q["cmdCode"].split(",")[:3]]
    return 200, JSON, _body(rows)


def _partition(conn, key):
    return next(p for p in conn.partitions() if p.key == key)


# --- parser on the real recording ------------------------------------------------------------------
def test_parser_reads_the_real_recorded_response():
    body = RECORDED.read_bytes()
    doc = parse_response(HttpResponse("u", "u", "k", 200, {"content-type": "application/json"}, body, "replay"))
    assert doc["count"] == len(doc["data"]) == 4
    first = doc["data"][0]
    assert first["cmdCode"] == "TOTAL" and isinstance(first["cmdCode"], str)
    assert first["refMonth"] == 52 and first["period"] == "2010" and first["reporterCode"] == 156
    assert {r["flowCode"] for r in doc["data"]} == {"M", "X"}


def test_parser_refuses_error_envelopes_and_wrong_shapes():
    def resp(status, body, ctype="application/json"):
        return HttpResponse("u", "u", "k", status, {"content-type": ctype}, body, "live")

    with pytest.raises(ApiErrorBody, match="period"):
        parse_response(resp(200, b'{"count":0,"data":[],"error":"invalid period"}'))
    with pytest.raises(Exception, match="expected an object"):
        parse_response(resp(200, b'[1,2]'))
    with pytest.raises(ApiErrorBody, match="too long"):
        parse_response(resp(404, b"The resource you are looking for has been removed. Request URL Too Long", "text/html"))


# --- request shapes -------------------------------------------------------------------------------
def test_keyed_mode_sends_the_key_as_header_never_in_the_url(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "s3cret-key")
    http_server.respond(_echo, repeat_last=True)
    conn = _connector(_config(write_config, http_server.base_url))
    assert conn.mode == "keyed"
    lander = Lander(tmp_path / "landing", "comtrade", "2025-06-15", "r1")
    result = conn.extract(_partition(conn, "A-2024-CAN"), lander)
    assert result.ok and result.records > 0
    paths = [r["path"] for r in http_server.requests]
    assert all(p.startswith("/data/v1/get/C/A/HS?") for p in paths)
    assert all(r["headers"].get("Ocp-Apim-Subscription-Key") == "s3cret-key" for r in http_server.requests)
    assert not any("s3cret" in p for p in paths)
    for p in paths:
        q = _query(p)
        assert (q["partner2Code"], q["customsCode"], q["motCode"]) == ("0", "C00", "0")
        assert q["reporterCode"] == "124"
    total = next(_query(p) for p in paths if _query(p)["cmdCode"] == "TOTAL")
    assert set(total["partnerCode"].split(",")) == {"0", "156", "344"}  # World, the pair, HKG transit
    assert set(total["flowCode"].split(",")) == {"M", "X", "RM", "RX"}
    products = next(_query(p) for p in paths if _query(p)["cmdCode"] != "TOTAL")
    cmds = products["cmdCode"].split(",")
    assert set(HS_CHAPTERS) <= set(cmds) and {"870380", "120510", "1514", "230649", "071310"} <= set(cmds)
    assert products["partnerCode"] == "156" and products["flowCode"] == "M,X"
    assert result.state_updates == {"A:CAN:2024": "2024"}


def test_query_auth_is_redacted_in_landed_urls_and_recording_keys(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "s3cret-key")
    http_server.respond(_echo, repeat_last=True)
    cfg = _config(write_config, http_server.base_url, auth="query")
    conn = _connector(cfg)
    result = conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert all("subscription-key=s3cret-key" in r["path"] for r in http_server.requests)
    for f in result.files:
        assert "s3cret" not in f.request_url and "subscription-key=REDACTED" in f.request_url
    for r in http_server.requests:  # the recording key of a request never carries the key
        key = request_key(cfg.sources["comtrade"].base_url, http_server.base_url + r["path"], SECRET_PARAMS)
        assert "s3cret" not in key and "subscription-key" not in key
    manifest = (tmp_path / "l" / "comtrade" / "d" / "r" / "manifest.jsonl").read_text()
    assert "s3cret" not in manifest


@pytest.mark.parametrize("auth", ["header", "query"])
def test_an_error_body_echoing_the_key_is_landed_and_reported_without_it(auth, write_config, http_server, monkeypatch, tmp_path):
    """A gateway's 401 that echoes the request URL and the key: the message (cut at 300 characters,
    where the key sits) and the landed body hold neither the key nor a piece of it."""
    secret = "sk-TEST-0123456789abcdef0123456789abcdef+/="
    monkeypatch.setenv("COMTRADE_API_KEY", secret)

    def gateway(path):
        sent = http_server.requests[-1]["headers"].get("Ocp-Apim-Subscription-Key") or _query(path)["subscription-key"]
        message = f"Access denied due to invalid subscription key. Request: GET {http_server.base_url}{path} key {sent}"
        return 401, JSON, json.dumps({"statusCode": 401, "message": message}).encode()

    http_server.respond(gateway, repeat_last=True)
    conn = _connector(_config(write_config, http_server.base_url, auth=auth))
    with pytest.raises(ApiErrorBody) as err:
        conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert "HTTP 401" in str(err.value) and http_server.requests
    written = b"".join(p.read_bytes() for p in (tmp_path / "l").rglob("*") if p.is_file())
    assert b"REDACTED" in written
    for text in (str(err.value).encode(), written):
        assert b"sk-TEST" not in text and b"0123456789ab" not in text


def test_preview_mode_without_key_asks_one_period_per_call_within_500_rows(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.delenv("COMTRADE_API_KEY", raising=False)
    http_server.respond(_echo, repeat_last=True)
    cfg = _config(write_config, http_server.base_url, freqs=["M"])
    conn = _connector(cfg, run_date=date(2025, 3, 10))
    assert conn.mode == "preview"
    part = _partition(conn, "M-2025-CAN")
    assert part.params["periods"] == ["202501", "202502"]  # the window: months before the run month
    result = conn.extract(part, Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok
    for r in http_server.requests:
        q = _query(r["path"])
        assert r["path"].startswith("/public/v1/preview/C/M/HS?")
        assert "," not in q["period"] and int(q["maxRecords"]) == 500
        assert len(q["partnerCode"].split(",")) * len(q["flowCode"].split(",")) * len(q["cmdCode"].split(",")) < 500
        assert "Ocp-Apim-Subscription-Key" not in r["headers"]
    assert sorted({_query(r["path"])["period"] for r in http_server.requests}) == ["202501", "202502"]


def test_url_length_limit_splits_commodity_lists(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    http_server.respond(_echo, repeat_last=True)
    cfg = _config(write_config, http_server.base_url, max_url_length=420)
    conn = _connector(cfg)
    result = conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok
    urls = [http_server.base_url + r["path"] for r in http_server.requests]
    assert all(len(u) <= 420 for u in urls)
    asked = [c for u in urls for c in _query(u)["cmdCode"].split(",") if c != "TOTAL"]
    assert sorted(asked) == sorted(set(HS_CHAPTERS) | set(cfg.sources["comtrade"].products))
    assert len(urls) > 2


def test_answer_of_exactly_the_cap_is_treated_as_truncated_and_split(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    cap = 100
    calls = []

    def server(path):
        q = _query(path)
        cmds = q["cmdCode"].split(",")
        calls.append(cmds)
        if len(cmds) == 99:  # the first products call: answer exactly the cap (a truncated answer)
            return 200, JSON, _body([_record(cmd=cmds[i % len(cmds)], value=float(i + 1)) for i in range(cap)])
        return 200, JSON, _body([_record(cmd=c) for c in cmds if c != "TOTAL"] or [_record()])

    http_server.respond(server, repeat_last=True)
    cfg = _config(write_config, http_server.base_url, max_records=cap, flows=["X"], products=["120510"], transit_partners=[])
    conn = _connector(cfg)
    result = conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok
    product_calls = [c for c in calls if c != ["TOTAL"]]
    assert len(product_calls[0]) == 99 and len(product_calls) == 3
    assert sorted(product_calls[1] + product_calls[2]) == sorted(product_calls[0])
    rejected = [f for f in result.files if f.status == "rejected"]
    assert len(rejected) == 1 and "truncated" in rejected[0].problem
    assert any("cap" in n for n in result.notes)
    assert result.records == 1 + 99  # the TOTAL row and one row per commodity of the two halves


# --- HTTP failure cases against the local server ----------------------------------------------------
def test_429_with_retry_after_is_retried_then_succeeds(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    http_server.respond(
        (429, {**JSON, "Retry-After": "0"}, b'{"statusCode": 429, "message": "Rate limit is exceeded. Try again in 0 seconds."}'),
        _echo, repeat_last=True)
    conn = _connector(_config(write_config, http_server.base_url))
    result = conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok and result.records > 0
    assert len(http_server.requests) == 3  # 429, then the two calls of the partition


def test_transient_5xx_is_retried_and_persistent_5xx_is_unavailable(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    http_server.respond((503, {"Content-Type": "text/plain"}, b"Service Unavailable"), _echo, repeat_last=True)
    cfg = _config(write_config, http_server.base_url)
    conn = _connector(cfg)
    assert conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r")).ok
    http_server.script.clear()
    http_server.respond((500, {"Content-Type": "text/plain"}, b"Internal Server Error"), repeat_last=True)
    before = len(http_server.requests)
    with pytest.raises(SourceUnavailable, match="3 attempts"):
        conn.extract(_partition(conn, "A-2023-CAN"), Lander(tmp_path / "l2", "comtrade", "d", "r"))
    assert len(http_server.requests) - before == 3


def test_403_quota_exhausted_stops_the_source_with_reset_time(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    http_server.respond((403, JSON, b'{"statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 03:14:17."}'),
                        repeat_last=True)
    cfg = _config(write_config, http_server.base_url)
    conn = _connector(cfg)
    lander = Lander(tmp_path / "l", "comtrade", "d", "r")
    with pytest.raises(QuotaExhausted) as err:
        conn.extract(_partition(conn, "A-2024-CAN"), lander)
    assert "quota resets at" in str(err.value) and "03:14:17" in str(err.value)
    assert lander.files[0].status == "rejected"
    asked = len(http_server.requests)
    other = _connector(cfg, circuit=conn.circuit)  # one connector per task, one circuit per source and run
    with pytest.raises(QuotaExhausted, match="stopped for tonight"):
        other.extract(_partition(other, "A-2023-CHN"), Lander(tmp_path / "l2", "comtrade", "d", "r"))
    assert len(http_server.requests) == asked  # no further call tonight


def test_401_bad_key_is_an_actionable_error(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "wrong")
    http_server.respond((401, JSON, b'{"statusCode": 401, "message": "Access denied due to invalid subscription key."}'),
                        repeat_last=True)
    conn = _connector(_config(write_config, http_server.base_url))
    with pytest.raises(ApiErrorBody) as err:
        conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert "HTTP 401" in str(err.value) and "COMTRADE_API_KEY" in str(err.value)
    assert len(http_server.requests) == 1  # not retried


def test_count_zero_is_a_note_not_an_error(write_config, http_server, monkeypatch, tmp_path):
    monkeypatch.setenv("COMTRADE_API_KEY", "k")
    http_server.respond((200, JSON, b'{"elapsedTime":"0.08 secs","count":0,"data":[],"error":""}'), repeat_last=True)
    conn = _connector(_config(write_config, http_server.base_url))
    result = conn.extract(_partition(conn, "A-2024-CAN"), Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok and result.records == 0
    assert any("no data published yet" in n for n in result.notes)
    assert result.state_updates == {}  # never loaded: asked again next night


# --- incremental planning -------------------------------------------------------------------------
def test_incremental_refetches_revisable_and_never_loaded_periods_only(write_config, http_server):
    cfg = _config(write_config, http_server.base_url, years=(2018, 2025), freqs=["A", "M"], revision_years=1,
                  revision_months=3, monthly_months=6)
    state = {f"A:{c}:{y}": str(y) for c in ("CAN", "CHN") for y in range(2018, 2025)}
    state["M:CAN:2025"] = "202501,202502,202503,202504"
    conn = _connector(cfg, run_date=date(2025, 6, 15), state=state)
    keys = {p.key: p for p in conn.partitions()}
    annual = sorted(k for k in keys if k.startswith("A-"))
    assert annual == ["A-2024-CAN", "A-2024-CHN", "A-2025-CAN", "A-2025-CHN"]  # revisable 2024 + never loaded 2025
    # monthly window: Jan..May 2025; CAN loaded Jan-Apr, Mar-May are revisable -> Mar, Apr, May
    assert keys["M-2025-CAN"].params["periods"] == ["202503", "202504", "202505"]
    assert keys["M-2025-CHN"].params["periods"] == ["202501", "202502", "202503", "202504", "202505"]
    full = _connector(cfg, run_date=date(2025, 6, 15), state=state, full_refresh=True)
    assert len([p for p in full.partitions() if p.key.startswith("A-")]) == 16
    back = _connector(cfg, run_date=date(2025, 6, 15), state=state, backfill=(date(2010, 1, 1), date(2011, 12, 31)))
    assert sorted(p.key for p in back.partitions() if p.key.startswith("A-")) == [
        "A-2010-CAN", "A-2010-CHN", "A-2011-CAN", "A-2011-CHN"]


def test_first_run_asks_the_monthly_history_once_per_reporter_and_year(write_config, http_server, tmp_path):
    """monthly_history_start: a reporter x year of history without state (a first run, a new country)
    is asked once, with all twelve months; its state key then says it was asked, even without data;
    later nights keep only the window current; --full-refresh asks again; 0 switches it off."""
    cfg = _config(write_config, http_server.base_url, years=(2017, 2025), freqs=["M"], monthly_months=6,
                  monthly_history_start=2015)
    first = {p.key: p for p in _connector(cfg, run_date=date(2025, 6, 15)).partitions()}
    history = sorted(k for k, p in first.items() if p.params.get("history"))
    # never before years.start (2017); the window (Dec 2024..May 2025) is widened to 2024-2025
    assert history == [f"M-{y}-{c}" for y in range(2017, 2024) for c in ("CAN", "CHN")]
    assert first["M-2017-CAN"].params["periods"] == [f"2017{m:02d}" for m in range(1, 13)]
    assert first["M-2025-CAN"].params["periods"] == ["202501", "202502", "202503", "202504", "202505"]
    assert "history" not in first["M-2025-CAN"].params

    # 2019 was asked for CAN and had no data; every other history year loaded
    state = {f"M:{c}:{y}": ",".join(f"{y}{m:02d}" for m in range(1, 13)) for c in ("CAN", "CHN") for y in range(2017, 2025)}
    state["M:CAN:2019"] = ""
    later = {p.key for p in _connector(cfg, run_date=date(2025, 6, 15), state=state).partitions()}
    assert later == {"M-2024-CAN", "M-2024-CHN", "M-2025-CAN", "M-2025-CHN"}  # the window: revisions, unpublished months
    refresh = {p.key for p in _connector(cfg, run_date=date(2025, 6, 15), state=state, full_refresh=True).partitions()}
    assert set(history) < refresh
    del state["M:CHN:2018"]  # e.g. CHN added to the configuration later: its missing year is asked
    assert {p.key for p in _connector(cfg, run_date=date(2025, 6, 15), state=state).partitions()} == later | {"M-2018-CHN"}

    off = _config(write_config, http_server.base_url, years=(2017, 2025), freqs=["M"], monthly_months=6,
                  monthly_history_start=0)
    assert {p.key for p in _connector(off, run_date=date(2025, 6, 15)).partitions()} == {
        "M-2024-CAN", "M-2024-CHN", "M-2025-CAN", "M-2025-CHN"}

    # an answer without data still records that the history year was asked
    http_server.respond((200, JSON, _body([])), repeat_last=True)
    conn = _connector(cfg, run_date=date(2025, 6, 15))
    result = conn.extract(first["M-2019-CAN"], Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.ok and result.state_updates == {"M:CAN:2019": ""}
    result = conn.extract(first["M-2025-CAN"], Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert result.state_updates == {}  # the window's unpublished months are asked again next night


def test_reference_lists_can_be_refreshed_from_the_api(write_config, http_server, tmp_path):
    reporters = (REFERENCE_DIR / "countries" / "Reporters.json").read_bytes()
    http_server.respond((200, JSON, reporters), (404, {"Content-Type": "text/plain"}, b"not found"),
                        (200, JSON, b'{"results": [{"id": "TOTAL"}]}'))
    conn = _connector(_config(write_config, http_server.base_url, refresh_reference=True))
    part = conn.partitions()[0]
    assert part.key == "reference"
    result = conn.extract(part, Lander(tmp_path / "l", "comtrade", "d", "r"))
    assert [r["path"] for r in http_server.requests] == [
        "/files/v1/app/reference/Reporters.json", "/files/v1/app/reference/partnerAreas.json",
        "/files/v1/app/reference/HS.json"]
    assert result.ok and [f.kind for f in result.files] == ["", "", ""]
    assert [f.status for f in result.files] == ["landed", "rejected", "landed"]
    assert "255 entries" in result.notes[0] and "could not be refreshed" in result.notes[1]


def test_bad_option_values_are_config_errors(write_config, http_server):
    from flows.config import ConfigError

    for opts, word in (({"api_mode": "bulk"}, "api_mode"), ({"flows": ["M", "Z"]}, "flows"), ({"auth": "cookie"}, "auth")):
        with pytest.raises(ConfigError, match=word):
            _connector(_config(write_config, http_server.base_url, **opts))
