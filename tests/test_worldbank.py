"""World Bank connector and loader: pagination, error bodies, empty results, malformed payloads.

Formats follow flows/sources/worldbank/README.md; HTTP runs against a real local server."""
import json
from datetime import date

import duckdb
import pytest

from flows import warehouse
from flows.config import load_config
from flows.sources.worldbank.connector import WorldBankConnector
from flows.errors import ApiErrorBody, MalformedResponse
from flows.http import HttpClient, LiveTransport
from flows.landing import Lander
from flows.loading import load_results
from flows.sources.base import ExtractResult

JSON = {"Content-Type": "application/json;charset=utf-8"}


def row(iso3, iso2, year, value, ind="TM.TAX.MRCH.WM.AR.ZS"):
    return {"indicator": {"id": ind, "value": "Tariff rate, applied, weighted mean, all products (%)"},
            "country": {"id": iso2, "value": iso3}, "countryiso3code": iso3, "date": str(year),
            "value": value, "unit": "", "obs_status": "", "decimal": 2}


def page(n, pages, rows, total, as_strings=False):
    meta = {"page": n, "pages": pages, "per_page": 2, "total": total, "sourceid": "2", "lastupdated": "2025-07-01"}
    if as_strings:
        meta = {k: str(v) for k, v in meta.items()}
    return (200, JSON, json.dumps([meta, rows]).encode())


@pytest.fixture
def setup(http_server, write_config, tmp_path):
    cfg = load_config(write_config({"sources.worldbank.base_url": http_server.base_url + "/v2",
                                    "sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"],
                                    "sources.worldbank.per_page": 2, "sources.worldbank.backoff_seconds": 0.0,
                                    "sources.worldbank.min_interval_seconds": 0.0, "years.end": 2022}))
    src = cfg.sources["worldbank"]
    connector = WorldBankConnector(cfg, src, HttpClient(src, LiveTransport()), date(2026, 11, 28))
    lander = Lander(tmp_path / "landing", "worldbank", "2026-11-28", "run1")
    return cfg, connector, lander


def test_fetches_every_page_and_lands_each_untouched(setup, http_server):
    cfg, connector, lander = setup
    http_server.respond(page(1, 2, [row("CAN", "CA", 2022, 0.87), row("CAN", "CA", 2021, None)], 3, as_strings=True),
                        page(2, 2, [row("CHN", "CN", 2022, 2.5)], 3))
    [partition] = connector.partitions()
    result = connector.extract(partition, lander)
    assert result.records == 3 and len(result.files) == 2
    paths = [r["path"] for r in http_server.requests]
    assert paths[0].startswith("/v2/country/CAN;CHN;USA/indicator/TM.TAX.MRCH.WM.AR.ZS?")
    assert "page=1" in paths[0] and "page=2" in paths[1] and "format=json" in paths[0] and "date=2015%3A2022" not in paths[0]
    assert "date=2015:2022" in paths[0]
    landed = result.files[0]
    import hashlib
    body = open(landed.path, "rb").read()
    assert hashlib.sha256(body).hexdigest() == landed.sha256 and landed.bytes == len(body)
    manifest = [json.loads(l) for l in (lander.dir / "manifest.jsonl").read_text().splitlines()]
    assert {m["sha256"] for m in manifest} == {f.sha256 for f in result.files}
    assert all(m["run_id"] == "run1" and m["http_status"] == 200 for m in manifest)


def test_error_body_with_http_200_is_landed_and_refused(setup, http_server):
    cfg, connector, lander = setup
    http_server.respond((200, JSON, b'[{"message":[{"id":"175","key":"Invalid format","value":"The indicator was not found. It may have been deleted or archived."}]}]'))
    with pytest.raises(ApiErrorBody) as err:
        connector.extract(connector.partitions()[0], lander)
    assert "175" in str(err.value) and "not found" in str(err.value)
    assert lander.files[0].status == "rejected" and open(lander.files[0].path, "rb").read().startswith(b'[{"message"')


def test_empty_result_is_a_note_not_a_failure(setup, http_server):
    cfg, connector, lander = setup
    http_server.respond((200, JSON, b'[{"page":0,"pages":0,"per_page":0,"total":0,"sourceid":null,"lastupdated":null},null]'))
    result = connector.extract(connector.partitions()[0], lander)
    assert result.ok and result.records == 0 and "no data" in result.notes[0]
    assert lander.files[0].status == "rejected" and "no data" in lander.files[0].problem


@pytest.mark.parametrize("response, expected", [
    ((200, JSON, b'[{"page":1,"pages":1'), "not valid JSON"),
    ((400, {"Content-Type": "text/html"}, b"<html><body>Request Error</body></html>"), "HTTP 400"),
    ((200, {"Content-Type": "text/html"}, b"<html>maintenance</html>"), "expected JSON, got text/html"),
    ((200, JSON, b'{"page": 1}'), "2-element array"),
])
def test_malformed_answers_are_refused_with_file_kept(setup, http_server, response, expected):
    cfg, connector, lander = setup
    http_server.respond(response)
    with pytest.raises((MalformedResponse, ApiErrorBody)) as err:
        connector.extract(connector.partitions()[0], lander)
    assert expected in str(err.value)
    assert lander.files and open(lander.files[0].path, "rb").read() == response[2]


def test_a_wrong_type_is_quarantined_and_a_page_of_only_bad_records_is_refused(setup, http_server, tmp_path):
    cfg, connector, lander = setup
    bad = row("CHN", "CN", 2022, "2.5%")
    rows = [row("CAN", "CA", y, float(y % 7)) for y in range(1900, 2000)]  # 100 good records, then one bad
    http_server.respond(page(1, 2, [*rows, bad], 102), page(2, 2, [bad], 102))
    result = connector.extract(connector.partitions()[0], lander)
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    report = load_results(db, "run1", [result])
    assert report.rows_loaded == 100 and report.quarantined_by_source == {"worldbank": 1}, "1 of 101: quarantined"
    (failure,) = report.failures  # page 2: 1 of 1 bad is format drift, refused whole
    assert failure.file == result.files[1].path and failure.source == "worldbank"
    assert "record 1" in failure.message and '"2.5%"' in failure.message and "1 of 1 records" in failure.message
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from raw.worldbank_indicator where value is null").fetchone()[0] == 0, \
        "never silently coerced to null"
    assert con.execute("select record_no, rule from quarantine.worldbank_indicator order by landed_file").fetchall() == [
        (101, "wrong_type"), (None, "file_refused")]
    assert con.execute("select status from audit.landed_files where path = ?", [result.files[1].path]).fetchone()[0] == "rejected"
    con.close()


def test_load_is_idempotent_by_content_hash(setup, http_server, tmp_path):
    cfg, connector, lander = setup
    pages = [page(1, 1, [row("CAN", "CA", 2022, 0.87), row("USA", "US", 2022, 1.5)], 2)] * 2
    http_server.respond(*pages)
    first = connector.extract(connector.partitions()[0], lander)
    second = connector.extract(connector.partitions()[0], lander)
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    r1 = load_results(db, "run1", [first])
    r2 = load_results(db, "run2", [second])
    assert (r1.rows_loaded, r2.rows_loaded, r2.files_skipped) == (2, 0, 1)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("select countryiso3code, value, _run_id, _landed_file from raw.worldbank_indicator order by 1").fetchall()
    con.close()
    assert rows == [("CAN", 0.87, "run1", first.files[0].path), ("USA", 1.5, "run1", first.files[0].path)]


def test_failed_partition_is_not_loaded_even_if_some_pages_were_fine(tmp_path):
    db = tmp_path / "wh.duckdb"
    warehouse.ensure_schemas(db)
    report = load_results(db, "run1", [ExtractResult("worldbank", "X", "2015-2026", files=[], error="boom")])
    assert report.rows_loaded == 0 and report.failures == []
