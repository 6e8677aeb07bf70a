"""Extraction of one source x period (called directly, without Prefect): network outages trip the
source's circuit for the run, completed partitions are not fetched again on a retry."""
from datetime import date

import pytest

from flows.config import load_config
from flows.errors import SourceError, SourceUnavailable
from flows.extract import extract_period, plan
from flows.run import RunContext
from flows.warehouse import ensure_schemas


def _run(write_config, source: str = "worldbank", **overrides) -> RunContext:
    cfg = load_config(write_config({"sources.worldbank.max_retries": 1, "sources.worldbank.backoff_seconds": 0.0,
                                    "sources.worldbank.timeout_seconds": 1.0, **overrides}))
    run = RunContext(cfg, "live", date(2026, 11, 28), sources=[source])
    ensure_schemas(run.db)
    return run


def test_unreachable_source_fails_its_other_periods_at_once(write_config):
    run = _run(write_config, **{"sources.worldbank.base_url": "http://127.0.0.1:9/v2",
                                "sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"]})
    [(period, parts)] = plan(run, "worldbank").items()
    with pytest.raises(SourceUnavailable):
        extract_period(run, "worldbank", period, parts)
    # the same period (a Prefect retry) tries the network again; another period does not
    with pytest.raises(SourceUnavailable):
        extract_period(run, "worldbank", period, parts)
    with pytest.raises(SourceError) as err:
        extract_period(run, "worldbank", "another-period", parts)
    assert not isinstance(err.value, SourceUnavailable), "a skip is final, not retried"
    assert f"stopped for tonight earlier in this run (period {period})" in str(err.value)


def test_a_retry_fetches_only_the_partitions_not_yet_completed(write_config, http_server):
    import json

    meta = {"page": 1, "pages": 1, "per_page": 1000, "total": 1}
    row = {"indicator": {"id": "X", "value": "x"}, "country": {"id": "CA", "value": "Canada"},
           "countryiso3code": "CAN", "date": "2020", "value": 1.0, "unit": "", "obs_status": "", "decimal": 0}
    ok = (200, {"Content-Type": "application/json"}, json.dumps([meta, [row]]).encode())
    http_server.respond(ok, (503, {"Content-Type": "text/plain"}, b"down"), repeat_last=True)
    run = _run(write_config, **{"sources.worldbank.base_url": http_server.base_url + "/v2",
                                "sources.worldbank.indicators": ["A.ONE", "B.TWO"],
                                "sources.worldbank.max_retries": 0})
    [(period, parts)] = plan(run, "worldbank").items()
    with pytest.raises(SourceUnavailable):
        extract_period(run, "worldbank", period, parts)
    assert len(http_server.requests) == 2
    http_server.script.clear()
    http_server.respond(ok)  # the outage is over
    results = extract_period(run, "worldbank", period, parts)
    asked = [r["path"] for r in http_server.requests]
    assert len(asked) == 3 and "B.TWO" in asked[-1], "only the partition that failed is fetched again"
    assert [r.partition for r in results] == ["A.ONE", "B.TWO"] and all(r.ok for r in results)


def test_a_skip_raised_by_the_circuit_carries_no_secret(write_config, monkeypatch):
    """A source stopped for the night by an answer whose text held the key: the skip the next task
    raises (which becomes a Prefect task state and event) says why, without the key."""
    from flows.errors import ApiErrorBody

    secret = "sk-TEST-0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("COMTRADE_API_KEY", secret)
    cfg = load_config(write_config())
    run = RunContext(cfg, "live", date(2026, 11, 28), sources=["comtrade"])
    run.circuits["comtrade"].trip(ApiErrorBody("comtrade", f"http://h/x?subscription-key={secret}",
                                               f"HTTP 401: 'invalid key {secret}'", f"key {secret}"))
    with pytest.raises(ApiErrorBody) as err:
        extract_period(run, "comtrade", "A2024", [])
    assert "stopped for tonight" in str(err.value) and "HTTP 401" in str(err.value)
    assert "0123456789ab" not in str(err.value) and "REDACTED" in str(err.value)


def test_a_comtrade_retry_of_the_period_that_tripped_the_circuit_asks_again(write_config, http_server):
    """The retry Prefect runs after an outage fetches the period again (Comtrade checks the circuit
    with the partition's period too)."""
    run = _run(write_config, "comtrade", **{"sources.comtrade.base_url": http_server.base_url, "sources.comtrade.max_retries": 0,
                                "sources.comtrade.backoff_seconds": 0.0, "sources.comtrade.min_interval_seconds": 0.0,
                                "sources.comtrade.freqs": ["A"], "years.start": 2024, "years.end": 2024})
    http_server.respond((503, {"Content-Type": "text/plain"}, b"down"), repeat_last=True)
    period, parts = next(iter(plan(run, "comtrade").items()))
    with pytest.raises(SourceUnavailable):
        extract_period(run, "comtrade", period, parts)
    asked = len(http_server.requests)
    with pytest.raises(SourceUnavailable):  # the retry: asked again, still down
        extract_period(run, "comtrade", period, parts)
    assert len(http_server.requests) > asked
