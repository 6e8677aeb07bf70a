"""Paths and values contained: every configured value that reaches a request URL, a file path, a
Prefect API path or SQL is checked against its domain when the configuration loads, so a hostile
value is a clear config error before any work; an allowed value with quotes reaches SQL intact."""
from __future__ import annotations

import hashlib
import json
from datetime import date

import duckdb
import pytest

from flows.config import ConfigError, load_config
from flows.landing import LandedFile
from flows.loading import load_results
from flows.sources import discover_sources
from flows.sources.base import ExtractResult
from flows.warehouse import ensure_schemas

SQL = "'; drop table x; --"
PATH = "../x"
SOURCES = sorted(discover_sources())


def _refused(write_config, key: str, value) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(write_config({key: value}), environ={})
    message = str(err.value)
    assert f"'{key}'" in message or f"{key}: " in message, message  # the message names the key...
    assert "Traceback" not in message
    return message


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("value, says", [
    ("http://127.0.0.1:8000/v2/../x", "must not contain '..' path segments"),
    ("file:///etc/passwd", "expected an http(s) URL with a host"),
    (f"http://127.0.0.1:8000/{SQL}", "no spaces or control characters"),
    ("http://127.0.0.1:8000/v2?x=1", "no credentials, query or fragment"),
])
def test_a_base_url_is_http_without_dot_dot_segments(write_config, source, value, says):
    assert says in _refused(write_config, f"sources.{source}.base_url", value)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("key, says", [
    ("api_key_env", "expected the name of an environment variable"),
    ("api_key_secret_block", "expected a Prefect block name"),
])
@pytest.mark.parametrize("value", [SQL, PATH])
def test_where_a_key_is_kept_is_a_name_not_a_path(write_config, source, key, value, says):
    assert says in _refused(write_config, f"sources.{source}.{key}", value)


@pytest.mark.parametrize("key, value, says", [
    ("sources.comtrade.products", [SQL], "not HS codes"),
    ("sources.comtrade.products", [PATH], "not HS codes"),
    ("sources.comtrade.transit_partners", [SQL], "unknown ISO3 country codes"),
    ("sources.comtrade.transit_partners", [PATH], "unknown ISO3 country codes"),
    ("sources.worldbank.indicators", [SQL], "not World Bank indicator ids"),
    ("sources.worldbank.indicators", [PATH], "not World Bank indicator ids"),
    ("sources.worldbank.indicators", ["NY.GDP..CD"], "not World Bank indicator ids"),
    ("sources.wits.datatype", PATH, "'reported' or 'aveestimated'"),
    ("sources.gdelt_doc.query_template", SQL, "not part of the GDELT DOC query syntax"),
    ("sources.gdelt_doc.query_template", '"{a}" "{b}" ../x', "not part of the GDELT DOC query syntax"),
    ("sources.gdelt_doc.query_template", '"{a}" "{b}" ' + "trade " * 100, "longer than 500"),
    ("sources.gdelt_doc.pair_queries", [f"CAN-CHN={SQL}"], "not part of the GDELT DOC query syntax"),
    ("sources.gdelt_doc.pair_queries", [f"{PATH}=trade"], "two known ISO3 country codes"),
    ("sources.gdelt_doc.pair_queries", ["CAN-CHN trade"], "not 'AAA-BBB=query'"),
    ("sources.gdelt_doc.pair_queries", ["CAN-CHN="], "empty query"),
    ("sources.gdelt_doc.timeline_timespan", PATH, "should match pattern"),
    ("countries.focus", ["CAN", SQL], "unknown country code"),
    ("countries.pairs", ["CAN-'; drop table x"], "unknown country code"),
    ("warehouse.dir", f"{PATH}/../../evil", "must stay inside the project folder"),
])
def test_a_hostile_value_is_a_config_error_naming_key_and_domain(write_config, key, value, says):
    assert says in _refused(write_config, key, value)


def test_allowed_values_still_load(write_config):
    cfg = load_config(write_config({
        "sources.worldbank.indicators": ["NY.GDP.MKTP.CD", "per_si_allsi.cov_pop_tot"],
        "sources.gdelt_doc.pair_queries": ['can-chn=(canola OR "electric vehicles") canada china',
                                           "CAN-USA=\"People's Republic\" tone<-5 sourcecountry:CA"],
        "sources.comtrade.api_key_env": "MY_COMTRADE_KEY", "sources.comtrade.api_key_secret_block": "comtrade-key",
    }), environ={})
    assert cfg.sources["worldbank"].indicators[1] == "per_si_allsi.cov_pop_tot"
    assert len(cfg.sources["gdelt_doc"].pair_queries) == 2


def test_an_allowed_query_with_quotes_reaches_sql_intact(tmp_path):
    """Load parameters become SQL literals (quotes doubled): a query with an apostrophe is stored as given."""
    query = "\"People's Republic\" (tariff OR 'duty')"
    body = json.dumps({"articles": [{"url": "https://example.com/1", "url_mobile": "", "title": "t",
                                     "seendate": "20261120T101500Z", "socialimage": "", "domain": "example.com",
                                     "language": "English", "sourcecountry": "Canada"}]}).encode()
    path = tmp_path / "000001_gdelt_doc_article.json"
    path.write_bytes(body)
    landed = LandedFile("r1", "gdelt_doc", "gdelt_doc_article", str(path), "http://x/doc", 200, len(body),
                        hashlib.sha256(body).hexdigest(), "2026-11-28T00:00:00+00:00", "live", False,
                        load_params={"pair": "CAN-CHN", "query": query, "mode": "artlist"})
    db = tmp_path / "w.duckdb"
    ensure_schemas(db)
    report = load_results(db, "r1", [ExtractResult("gdelt_doc", "CAN-CHN", "news", files=[landed])],
                          run_date=date(2026, 11, 28))
    assert report.failures == [] and report.rows_loaded == 1
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select query, pair from raw.gdelt_doc_article").fetchall() == [(query, "CAN-CHN")]
