"""WITS connector against a REAL local HTTP server (127.0.0.1): retries, WITS error documents, no-data
answers as notes, malformed bodies, per-partition isolation, partitioning within the API limits,
incremental years."""
from __future__ import annotations

from datetime import date

import pytest

from flows.config import load_config
from flows.sources.wits.connector import KIND, WitsConnector, tariff_url
from flows.errors import ApiErrorBody, MalformedResponse, SourceUnavailable
from flows.http import HttpClient, LiveTransport
from flows.landing import Lander
from flows.loading import load_results
from flows.paths import PACKAGE_DIR

WITS_REFERENCE = PACKAGE_DIR / "sources" / "wits" / "reference"
from flows.warehouse import connect, ensure_schemas

REAL = (WITS_REFERENCE / "trn_tariff_usa_000_2017.json").read_bytes()
JSON = {"Content-Type": "application/json"}
XML = {"Content-Type": "application/xml"}
NO_DATA = (b'<?xml version="1.0" encoding="utf-8"?><wits:error xmlns:wits="http://wits.worldbank.org">'
           b'<wits:message id="100" key="No Records Found.">No data available.</wits:message></wits:error>')
BAD_CODE = (b'<?xml version="1.0" encoding="utf-8"?><wits:error xmlns:wits="http://wits.worldbank.org">'
            b'<wits:message id="110" key="Invalid Reporter Code.">The provided Reporter code parameter value is not valid.'
            b'</wits:message></wits:error>')


@pytest.fixture
def make(write_config, tmp_path):
    def build(base_url: str, state: dict | None = None, **over):
        opts = {"sources.wits.base_url": base_url, "sources.wits.backoff_seconds": 0, "sources.wits.max_retries": 2,
                "sources.wits.timeout_seconds": 2.0, "sources.wits.min_interval_seconds": 0.0,
                "countries.focus": ["CAN", "CHN", "USA"], "countries.pairs": ["CAN-USA"],
                "years.start": 2016, "years.end": 2017}
        opts.update(over)
        cfg = load_config(write_config(opts))
        src = cfg.sources["wits"]
        conn = WitsConnector(cfg, src, HttpClient(src, LiveTransport(), sleep=lambda s: None),
                             run_date=date(2026, 11, 28), state=state)
        return conn, Lander(tmp_path / "landing", "wits", "2026-11-28", "r1")
    return build


def _partition(conn, key):
    return next(p for p in conn.partitions() if p.key == key)


def test_partitions_cover_mfn_and_pairs_with_numeric_codes_and_one_all(make):
    conn, _ = make("http://127.0.0.1:1")
    keys = [p.key for p in conn.partitions()]
    assert keys == [f"{r}-{p}-{y}" for y in (2016, 2017)
                    for r, p in [("CAN", "000"), ("CHN", "000"), ("USA", "000"), ("CAN", "USA"), ("USA", "CAN")]]
    url = tariff_url(conn.source, "USA", "CAN", 2017)
    assert url.endswith("/datasource/TRN/reporter/840/partner/124/product/all/year/2017/datatype/reported?format=JSON")
    assert url.count("/all/") == 1


def test_incremental_skips_loaded_old_years_but_refreshes_recent_ones(make):
    state = {"loaded:CAN:000:2016": "ok", "loaded:CAN:000:2025": "ok"}
    conn, _ = make("http://127.0.0.1:1", state=state, **{"years.end": 2026})
    keys = {p.key for p in conn.partitions()}
    assert "CAN-000-2016" not in keys and "CAN-000-2017" in keys
    assert "CAN-000-2025" in keys  # within refresh_years of the run date: re-fetched
    conn.full_refresh = True
    assert "CAN-000-2016" in {p.key for p in conn.partitions()}


def test_real_answer_after_transient_503_lands_and_loads(make, http_server, tmp_path):
    http_server.respond((503, {}, b"busy"), (200, JSON, REAL))
    conn, lander = make(http_server.base_url)
    result = conn.extract(_partition(conn, "USA-000-2017"), lander)
    assert len(http_server.requests) == 2
    assert http_server.requests[-1]["path"] == "/datasource/TRN/reporter/840/partner/000/product/all/year/2017/datatype/reported?format=JSON"
    assert result.records == 5388 and result.state_updates == {"loaded:USA:000:2017": "ok"}
    assert [f.kind for f in result.files] == [KIND] and result.files[0].status == "landed"
    db = tmp_path / "w.duckdb"
    ensure_schemas(db)
    report = load_results(db, "r1", [result])
    assert report.rows_by_table == {"wits_trn_tariff": 5388}
    with connect(db, read_only=True) as con:
        assert con.execute("select count(distinct product_code), min(reporter_code) from raw.wits_trn_tariff").fetchone() == (5388, "840")


def test_no_data_is_a_note_not_a_failure(make, http_server):
    http_server.respond((200, XML, NO_DATA))
    conn, lander = make(http_server.base_url)
    result = conn.extract(_partition(conn, "CAN-USA-2016"), lander)
    assert result.ok and result.records == 0 and not result.state_updates
    assert len(result.notes) == 1 and "no WITS data" in result.notes[0] and "preferential vs USA" in result.notes[0]
    assert result.files[0].status == "rejected" and result.files[0].problem.startswith("no data")


@pytest.mark.parametrize("status,headers,body,error,text", [
    (200, XML, BAD_CODE, ApiErrorBody, "Reporter code"),
    (400, {"Content-Type": "text/html"}, b"<html>Bad Request</html>", ApiErrorBody, "HTTP 400"),
    (200, JSON, b'{"header": {"id": "DF_WITS_Tariff_TRAINS"}, "dataSets": [', MalformedResponse, "not valid JSON"),
    (200, JSON, b'{"something": "else"}', MalformedResponse, "SDMX-JSON"),
])
def test_error_bodies_fail_the_partition_with_the_file_kept(make, http_server, status, headers, body, error, text):
    http_server.respond((status, headers, body))
    conn, lander = make(http_server.base_url)
    with pytest.raises(error, match=text):
        conn.extract(_partition(conn, "CAN-000-2016"), lander)
    assert lander.files[0].status == "rejected" and len(http_server.requests) == 1


def test_one_failing_partition_does_not_stop_the_others(make, http_server, tmp_path):
    def by_path(path):
        if "/reporter/124/" in path:
            return 200, XML, BAD_CODE
        if "/reporter/840/partner/000/" in path:
            return 200, JSON, REAL
        return 200, XML, NO_DATA
    http_server.respond(by_path, repeat_last=True)
    conn, lander = make(http_server.base_url, **{"years.start": 2017})
    results, errors = [], []
    for p in conn.partitions():
        try:
            results.append(conn.extract(p, lander))
        except ApiErrorBody as exc:
            errors.append((p.key, str(exc)))
    assert [k for k, _ in errors] == ["CAN-000-2017", "CAN-USA-2017"]
    assert {r.partition for r in results} == {"CHN-000-2017", "USA-000-2017", "USA-CAN-2017"}
    db = tmp_path / "w.duckdb"
    ensure_schemas(db)
    assert load_results(db, "r1", results).rows_by_table == {"wits_trn_tariff": 5388}


def test_unreachable_server_raises_source_unavailable_after_retries(make, http_server):
    http_server.respond((-1, {}, b""), repeat_last=True)
    conn, lander = make(http_server.base_url)
    with pytest.raises(SourceUnavailable, match="3 attempts"):
        conn.extract(_partition(conn, "CAN-000-2016"), lander)
    assert len(http_server.requests) == 3


def test_slow_server_times_out_is_retried_then_answers(make, http_server):
    import time as _time

    def slow(path):
        _time.sleep(1.0)
        return 200, JSON, REAL
    http_server.respond(slow, (200, JSON, REAL))
    conn, lander = make(http_server.base_url, **{"sources.wits.timeout_seconds": 0.3})
    result = conn.extract(_partition(conn, "USA-000-2017"), lander)
    assert result.records == 5388 and len(http_server.requests) == 2 and len(lander.files) == 1


def test_other_wits_messages_are_reported_as_notes(make, http_server):
    busy = (b'<?xml version="1.0"?><wits:error xmlns:wits="http://wits.worldbank.org"><wits:message id="300" '
            b'key="Service message.">The data for this reporter is being revised.</wits:message></wits:error>')
    http_server.respond((200, XML, busy))
    conn, lander = make(http_server.base_url)
    result = conn.extract(_partition(conn, "CHN-000-2016"), lander)
    assert result.ok and result.records == 0
    assert result.notes == ["CHN MFN (partner World) 2016: no WITS data (WITS error 300 (Service message.): "
                            "The data for this reporter is being revised.)"]
