"""Fail fast offline: the preflight finds unreachable hosts in seconds, the run skips them (no
request, no retry), and ends with a short final block naming each host and what to do."""
from __future__ import annotations

import re
import socket
import time

import pytest

from flows import preflight
from tests.conftest import write_config_file
from tests.reliability import cli, cli_env, published_fingerprint


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_listening_host_passes_and_a_dead_port_or_unknown_name_does_not(http_server):
    dead = _dead_port()
    targets = [preflight.target_for("up", http_server.base_url), preflight.target_for("down", f"http://127.0.0.1:{dead}/x"),
               preflight.target_for("nowhere", "https://no-such-host.invalid/api")]
    started = time.monotonic()
    unreachable = preflight.check(targets)
    assert time.monotonic() - started < preflight.TOTAL_TIMEOUT_SECONDS
    assert set(unreachable) == {"down", "nowhere"}
    assert unreachable["down"].message == f"cannot reach 127.0.0.1:{dead}: the connection failed (Connection refused)"
    assert unreachable["nowhere"].message.startswith("cannot reach no-such-host.invalid:443: the name does not resolve")
    assert http_server.requests == []  # a TCP connect only: the source's API is not asked anything


def test_the_first_hop_is_the_proxy_the_environment_names_unless_bypassed():
    proxies = {"https": "http://user:secret@127.0.0.1:3128", "no": "internal.example"}
    via = preflight.target_for("s", "https://api.example.org/v1", proxies)
    assert (via.host, via.port) == ("127.0.0.1", 3128) and "secret" not in via.label
    assert via.label == "127.0.0.1:3128 (proxy for https://api.example.org)"
    assert preflight.target_for("s", "http://api.example.org:8080/", {}).port == 8080


@pytest.mark.slow
def test_offline_the_run_ends_within_a_minute_with_a_short_block_and_publishes_nothing(sample_run, clone_warehouse):
    wh = clone_warehouse(sample_run)
    dead = _dead_port()
    hosts = {"comtrade": f"http://127.0.0.1:{dead}", "worldbank": "https://api.no-such-host.invalid/v2",
             "wits": f"http://127.0.0.1:{dead}/API", "gdelt_events": f"http://127.0.0.1:{dead}/gdeltv2",
             "gdelt_doc": "https://doc.no-such-host.invalid/api/v2"}
    cfg = write_config_file(wh.config_path, wh.warehouse_dir, {f"sources.{s}.base_url": url for s, url in hosts.items()})
    before = published_fingerprint(wh.warehouse_dir / "published")
    started = time.monotonic()
    out = cli("run", "--date", sample_run.summary.run_date, "--config", str(cfg), env=cli_env(), timeout=120)
    seconds = time.monotonic() - started
    assert out.returncode == 1, out.stdout + out.stderr
    assert seconds < 60, f"took {seconds:.0f} s"
    block = out.stdout.strip().splitlines()
    assert block[0].startswith("FAILED: bilateral nightly") and len(block) <= 12, out.stdout
    for source in hosts:
        assert any(line.startswith(f"  - {source}") and "cannot reach" in line for line in block), (source, out.stdout)
    assert "  - gdelt_doc (best effort: stale): cannot reach doc.no-such-host.invalid:443" in out.stdout
    assert "what to do: check network access and proxy settings" in out.stdout and "--sample or --replay DIR" in out.stdout
    assert "nothing new was loaded, nothing published" in out.stdout
    assert " | ERROR " not in out.stderr and "Task run" not in out.stderr, out.stderr  # Prefect's lines: --verbose only
    # not a terminal: one progress line per event, the final block last, on stdout
    assert re.search(r"^\[\d+:\d\d\] starting the nightly run: mode live", out.stderr, re.M), out.stderr
    assert re.search(r"^\[\d+:\d\d\] extract failed in [\d.]+s$|^\[\d+:\d\d\] extract ok in [\d.]+s$", out.stderr, re.M), out.stderr
    assert published_fingerprint(wh.warehouse_dir / "published") == before
