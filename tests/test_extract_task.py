"""The extract task (called directly, without Prefect): network outages trip a per-run breaker."""
from datetime import date

import pytest

from flows.config import load_config
from flows.connectors.worldbank import WorldBankConnector
from flows.errors import SourceError, SourceUnavailable
from flows.http import HttpClient, LiveTransport
from flows.nightly import _UNREACHABLE, extract_source_period


def test_unreachable_source_fails_its_other_periods_at_once(write_config):
    cfg = load_config(write_config({"sources.worldbank.base_url": "http://127.0.0.1:9/v2", "sources.worldbank.max_retries": 1,
                                    "sources.worldbank.backoff_seconds": 0.0, "sources.worldbank.timeout_seconds": 1.0,
                                    "sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"]}))
    src = cfg.sources["worldbank"]
    parts = WorldBankConnector(cfg, src, HttpClient(src, LiveTransport()), date(2026, 11, 28)).partitions()
    args = dict(config=cfg, source="worldbank", partitions=parts, run_id="run-breaker", run_date=date(2026, 11, 28),
                mode="live", replay_dir=None, state={}, full_refresh=False, backfill=None)
    try:
        with pytest.raises(SourceUnavailable):
            extract_source_period.fn(period="A", **args)
        # the same period (a Prefect retry) tries the network again; another period does not
        with pytest.raises(SourceUnavailable):
            extract_source_period.fn(period="A", **args)
        with pytest.raises(SourceError) as err:
            extract_source_period.fn(period="B", **args)
        assert not isinstance(err.value, SourceUnavailable), "a skip is final, not retried"
        assert "unreachable earlier in this run (period A)" in str(err.value)
    finally:
        _UNREACHABLE.pop("run-breaker", None)
