"""GDELT DOC 2.0 API connector against a real HTTP server on 127.0.0.1 (tests/conftest.py
``http_server``): 429 plain text (also with HTTP 200), ``{}``, text/html query errors, illegal
characters in JSON, pacing and User-Agent; a failing API never fails the partition."""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config import load_config
from flows.sources.gdelt_doc.connector import GdeltDocConnector, GdeltDocSettings, parse_doc_response
from flows.http import HttpClient, HttpResponse, LiveTransport
from flows.landing import Lander
from flows.loading import load_results
from flows.warehouse import ensure_schemas

JSON = {"Content-Type": "application/json; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
RATE_LIMIT = b"Please limit requests to one every 5 seconds or contact the GDELT team for larger queries."

ARTICLES = {"articles": [
    {"url": "https://example.com/a1", "url_mobile": "", "title": "Canada and China agree on canola and EVs",
     "seendate": "20260116T031500Z", "socialimage": "", "domain": "example.com", "language": "English",
     "sourcecountry": "Canada"}]}
VOLRAW = {"query_details": {"title": "q", "date_resolution": "day"},
          "timeline": [{"series": "Article Count", "data": [{"date": "20260115T000000Z", "value": 34, "norm": 129669},
                                                            {"date": "20260116T000000Z", "value": 80, "norm": 184866}]}]}
TONE = {"query_details": {"title": "q", "date_resolution": "day"},
        "timeline": [{"series": "Average Tone", "data": [{"date": "20260116T000000Z", "value": 1.25}]}]}


def ok(doc) -> tuple[int, dict, bytes]:
    return 200, JSON, json.dumps(doc).encode()


@pytest.fixture
def doc_env(tmp_path, http_server):
    def make(**options):
        opts = {"timeout_seconds": 2, "max_retries": 1, "backoff_seconds": 0, "min_interval_seconds": 0, **options}
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in opts.items())
        cfg = tmp_path / "bilateral.toml"
        cfg.write_text(f'[countries]\nfocus = ["CAN", "CHN"]\n[warehouse]\ndir = "{tmp_path / "wh"}"\n'
                       f'[sources.gdelt_doc]\nbase_url = "{http_server.base_url}/api/v2/doc"\n{body}\n')
        config = load_config(cfg, environ={})
        src = config.sources["gdelt_doc"]
        connector = GdeltDocConnector(config, src, HttpClient(src, LiveTransport()), date(2026, 11, 28))
        (partition,) = connector.partitions()
        lander = Lander(tmp_path / "landing", "gdelt_doc", "2026-11-28", "run1")
        return connector, partition, lander
    return make


def load(tmp_path: Path, results) -> list:
    db = tmp_path / "wh" / "bilateral.duckdb"
    ensure_schemas(db)
    report = load_results(db, "run1", results)
    assert report.failures == []
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [con.execute("select pair, mode, date, value, norm from raw.gdelt_doc_timeline order by mode, date").fetchall(),
                con.execute("select pair, url, title, seendate from raw.gdelt_doc_article").fetchall()]
    finally:
        con.close()


def test_three_modes_per_pair_with_user_agent_and_query(tmp_path, http_server, doc_env):
    connector, partition, lander = doc_env()
    http_server.respond(ok(ARTICLES), ok(VOLRAW), ok(TONE))
    result = connector.extract(partition, lander)
    assert result.ok and result.notes == []
    assert partition.key == "CAN-CHN"
    paths = [r["path"] for r in http_server.requests]
    assert [p.split("mode=")[1].split("&")[0] for p in paths] == ["artlist", "timelinevolraw", "timelinetone"]
    assert all(r["headers"].get("User-Agent", "").startswith("bilateral-etl/") for r in http_server.requests)
    assert "maxrecords=250" in paths[0] and "%22Canada%22+%22China%22" in paths[0]
    assert set(result.state_updates) == {f"last_success:CAN-CHN:{m}" for m in ("artlist", "timelinevolraw", "timelinetone")}
    timeline, articles = load(tmp_path, [result])
    assert timeline == [("CAN-CHN", "timelinetone", "20260116T000000Z", 1.25, None),
                        ("CAN-CHN", "timelinevolraw", "20260115T000000Z", 34.0, 129669.0),
                        ("CAN-CHN", "timelinevolraw", "20260116T000000Z", 80.0, 184866.0)]
    assert articles == [("CAN-CHN", "https://example.com/a1", "Canada and China agree on canola and EVs", "20260116T031500Z")]


def test_rate_limit_text_with_429_and_with_200_is_retried(tmp_path, http_server, doc_env):
    connector, partition, lander = doc_env(max_retries=2)
    http_server.respond((429, TEXT, RATE_LIMIT), ok(ARTICLES),           # 429 then fine
                        (200, TEXT, RATE_LIMIT), ok(VOLRAW),              # the same text with HTTP 200, then fine
                        ok(TONE))
    result = connector.extract(partition, lander)
    assert result.notes == [] and len(http_server.requests) == 5
    timeline, articles = load(tmp_path, [result])
    assert len(timeline) == 3 and len(articles) == 1


def test_persistent_throttling_html_errors_and_empty_answers_never_fail_the_partition(tmp_path, http_server, doc_env):
    connector, partition, lander = doc_env(max_retries=1)
    http_server.respond((200, TEXT, RATE_LIMIT), (429, TEXT, RATE_LIMIT),          # artlist: throttled twice -> gives up
                        (200, HTML, b"The specified phrase is too short."),       # timelinevolraw: bad query
                        (200, JSON, b"{}"))                                        # timelinetone: no results
    result = connector.extract(partition, lander)
    assert result.ok, "DOC API failures are notes, not errors"
    notes = " | ".join(result.notes)
    assert "artlist: news series not updated tonight (stale)" in notes
    assert "timelinevolraw: news series not updated tonight (stale)" in notes and "phrase is too short" in notes
    assert "timelinetone: no results" in notes
    assert set(result.state_updates) == {"last_success:CAN-CHN:timelinetone"}  # only the mode that answered
    statuses = {Path(f.path).suffix: f.status for f in result.files}
    assert statuses[".html"] == "rejected"
    timeline, articles = load(tmp_path, [result])
    assert timeline == [] and articles == []


def test_illegal_characters_in_json_are_removed_and_the_clean_copy_loads(tmp_path, http_server, doc_env):
    connector, partition, lander = doc_env(modes=["artlist"])
    raw = json.dumps(ARTICLES).replace("canola", "can\x0bola").replace("Canada and", "Canada\\' and").encode()
    http_server.respond((200, JSON, raw))
    result = connector.extract(partition, lander)
    assert any("removed 2 illegal character" in n for n in result.notes)
    original, clean = result.files
    assert original.status == "rejected" and Path(original.path).read_bytes() == raw  # kept as received
    assert clean.status == "landed"
    _, articles = load(tmp_path, [result])
    assert articles == [("CAN-CHN", "https://example.com/a1", "Canada' and China agree on canola and EVs", "20260116T031500Z")]


def test_pacing_spaces_live_requests(tmp_path, http_server, doc_env):
    connector, partition, lander = doc_env(min_interval_seconds=0.3)
    http_server.respond(ok(ARTICLES), ok(VOLRAW), ok(TONE))
    t0 = time.monotonic()
    connector.extract(partition, lander)
    assert time.monotonic() - t0 >= 0.6  # three requests, at least 0.3 s apart
    assert GdeltDocSettings().min_interval_seconds >= 5, "the API allows one request per 5 s"


@pytest.mark.parametrize("body,ctype,status,expect", [
    (b"{}", "application/json", 200, ({}, 0)),
    (b'{"articles": null}', "application/json", 200, ({"articles": None}, 0)),
    (b'{"timeline": []}', "application/json", 200, ({"timeline": []}, 0)),
    (b"<html>bad</html>", "text/html", 200, "refused"),
    (b"Please limit requests to one every 5 seconds", "text/plain", 200, "rate limited"),
    (b"[1, 2]", "application/json", 200, "expected a JSON object"),
    (b'{"articles": "x"}', "application/json", 200, "not a list"),
    (b"oops", "application/json", 500, "HTTP 500"),
])
def test_parse_doc_response_shapes(body, ctype, status, expect):
    resp = HttpResponse(url="u", redacted_url="u", key="k", status=status, headers={"content-type": ctype}, body=body,
                        origin="live")
    if isinstance(expect, str):
        with pytest.raises(Exception) as exc:
            parse_doc_response(resp)
        assert expect in str(exc.value)
    else:
        assert parse_doc_response(resp) == expect


def test_backfill_has_no_doc_partitions(tmp_path):
    config = load_config(environ={})
    src = config.sources["gdelt_doc"]
    assert len(GdeltDocConnector(config, src, None, date(2026, 11, 28)).partitions()) == len(config.pairs)
    assert GdeltDocConnector(config, src, None, date(2026, 11, 28),
                             backfill=(date(2019, 1, 1), date(2019, 2, 1))).partitions() == []
