"""Record live responses, replay them offline through the same connector code."""
from datetime import date

import pytest

from flows.config import load_config
from flows.sources.worldbank.connector import WorldBankConnector
from flows.errors import ReplayMissing
from flows.http import HttpClient
from flows.landing import Lander
from flows.recorder import record
from flows.recording import ReplayTransport
from tests.test_worldbank import page, row


def test_recorded_responses_replay_identically_under_another_base_url(http_server, write_config, tmp_path):
    http_server.respond(page(1, 2, [row("CAN", "CA", 2022, 0.87), row("CHN", "CN", 2022, 2.5)], 3),
                        page(2, 2, [row("USA", "US", 2022, 1.6)], 3))
    live_cfg = load_config(write_config({"sources.worldbank.base_url": http_server.base_url + "/v2",
                                         "sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"],
                                         "sources.worldbank.per_page": 2, "years.end": 2022}))
    counts = record(live_cfg, tmp_path / "rec", ["worldbank"], date(2026, 11, 28))
    assert counts == {"worldbank": 2}
    assert len((tmp_path / "rec" / "worldbank" / "index.jsonl").read_text().splitlines()) == 2

    # replay with the default (real) base URL: no network, same connector code, same bytes
    replay_cfg = load_config(write_config({"sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS"],
                                           "sources.worldbank.per_page": 2, "years.end": 2022}))
    src = replay_cfg.sources["worldbank"]
    connector = WorldBankConnector(replay_cfg, src, HttpClient(src, ReplayTransport(tmp_path / "rec")), date(2026, 11, 28))
    result = connector.extract(connector.partitions()[0], Lander(tmp_path / "landing", "worldbank", "d", "r"))
    assert result.records == 3 and all(f.origin == "replay" and not f.synthetic for f in result.files)
    assert result.files[0].request_url.startswith("https://api.worldbank.org/v2/country/CAN;CHN;USA/")


def test_replay_of_unrecorded_request_names_it(write_config, tmp_path):
    (tmp_path / "rec").mkdir()
    cfg = load_config(write_config())
    src = cfg.sources["worldbank"]
    connector = WorldBankConnector(cfg, src, HttpClient(src, ReplayTransport(tmp_path / "rec")), date(2026, 11, 28))
    with pytest.raises(ReplayMissing) as err:
        connector.extract(connector.partitions()[0], Lander(tmp_path / "landing", "worldbank", "d", "r"))
    assert "country/CAN;CHN;USA/indicator/" in str(err.value) and "bilateral record" in str(err.value)


def test_sample_is_deterministic_and_marked_synthetic(write_config, tmp_path):
    from flows.sample import ensure_sample

    cfg_a = load_config(write_config(warehouse_dir=tmp_path / "a"))
    cfg_b = load_config(write_config(warehouse_dir=tmp_path / "b"))
    a, b = ensure_sample(cfg_a, date(2026, 11, 28)), ensure_sample(cfg_b, date(2026, 11, 28))
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files_a)
    assert '"synthetic": true' in (a / "worldbank" / "index.jsonl").read_text()


def test_the_sample_answers_every_request_of_a_night_dated_after_the_configured_years(write_config, tmp_path):
    """years.end = "latest" is read as this year, but a run dated next February asks for next year's
    months: the sample must still answer every request every source makes (first run: all history)."""
    from flows import extract
    from flows.run import RunContext
    from flows.sample import ensure_sample

    cfg = load_config(write_config(warehouse_dir=tmp_path / "wh"))
    run_date = date(date.today().year + 1, 2, 1)
    run = RunContext(cfg, "sample", run_date)
    run.replay_dir = str(ensure_sample(cfg, run_date))
    failures, partitions = [], 0
    for source in run.sources:
        for period, parts in extract.plan(run, source).items():
            partitions += len(parts)
            failures += [r.error for r in extract.extract_period(run, source, period, parts) if r.error]
    assert partitions > 50 and failures == []


def test_a_recording_holds_no_secret_a_gateway_echoed(http_server, write_config, tmp_path, monkeypatch):
    """``bilateral record`` writes the answer the client kept: the request's key, echoed by a
    gateway in an error body, is REDACTED in the recording too."""
    secret = "sk-TEST-0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("COMTRADE_API_KEY", secret)
    http_server.respond(lambda path: (403, {"Content-Type": "application/json"},
                                      f'{{"message": "Forbidden: {path}"}}'.encode()), repeat_last=True)
    cfg = load_config(write_config({"sources.comtrade.base_url": http_server.base_url, "sources.comtrade.auth": "query",
                                    "sources.comtrade.freqs": ["A"], "sources.comtrade.min_interval_seconds": 0.0,
                                    "years.start": 2024, "years.end": 2024}))
    counts = record(cfg, tmp_path / "rec", ["comtrade"], date(2025, 6, 15))
    assert counts["comtrade"] > 0 and all(secret in r["path"] for r in http_server.requests)
    written = b"".join(p.read_bytes() for p in (tmp_path / "rec").rglob("*") if p.is_file())
    assert b"Forbidden" in written and b"REDACTED" in written and b"0123456789ab" not in written
