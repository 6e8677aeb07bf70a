"""The shared HTTP client against a real local server: retries, backoff, Retry-After, pacing, redaction."""
import pytest

from flows.config import load_config
from flows.errors import SourceUnavailable
from flows.http import HttpClient, LiveTransport, redact, request_key


def client_for(write_config, base_url, **opts):
    over = {"sources.worldbank.base_url": base_url, "sources.worldbank.backoff_seconds": 0.01,
            "sources.worldbank.timeout_seconds": 2.0, "sources.worldbank.min_interval_seconds": 0.0}
    over.update({f"sources.worldbank.{k}": v for k, v in opts.items()})
    src = load_config(write_config(over)).sources["worldbank"]
    sleeps = []
    return HttpClient(src, LiveTransport(), secret_params=("token",), sleep=sleeps.append), sleeps


def test_retries_5xx_then_succeeds(http_server, write_config):
    http_server.respond((503, {}, b"busy"), (502, {}, b"bad gateway"), (200, {"Content-Type": "application/json"}, b"[1]"))
    client, sleeps = client_for(write_config, http_server.base_url)
    resp = client.get(client.url("x", {"a": 1}))
    assert resp.status == 200 and resp.body == b"[1]"
    assert len(http_server.requests) == 3 and len(sleeps) == 2


def test_honours_retry_after_on_429(http_server, write_config):
    http_server.respond((429, {"Retry-After": "7"}, b"slow down"), (200, {}, b"ok"))
    client, sleeps = client_for(write_config, http_server.base_url)
    assert client.get(client.url("x")).status == 200
    assert sleeps == [7.0]


def test_gives_up_with_actionable_error_after_retries(http_server, write_config):
    http_server.respond((503, {}, b"down"), repeat_last=True)
    client, sleeps = client_for(write_config, http_server.base_url, max_retries=2)
    with pytest.raises(SourceUnavailable) as err:
        client.get(client.url("x", {"token": "s3cret"}))
    msg = str(err.value)
    assert "3 attempts" in msg and "HTTP 503" in msg and "--sample" in msg
    assert "s3cret" not in msg and "REDACTED" in msg
    assert len(http_server.requests) == 3


def test_an_answer_echoing_the_requests_secrets_is_scrubbed_before_it_is_read_or_cut(http_server, write_config):
    """Some gateways echo the request (URL, key) in their error bodies. The client replaces the request's
    secrets in the body before anyone reads it, so a message cut at 200 characters keeps no half key."""
    secret = "s3cret-0123456789abcdef0123456789abcdef"

    def echo(status):
        return lambda path: (status, {"Content-Type": "text/plain"},
                             ("x" * 190 + f" {path} key {http_server.requests[-1]['headers'].get('X-Api-Key')}").encode())

    http_server.respond(echo(503), echo(503), echo(403))
    client, _ = client_for(write_config, http_server.base_url, max_retries=1)
    with pytest.raises(SourceUnavailable) as err:
        client.get(client.url("x", {"token": secret}), headers={"X-Api-Key": secret})
    resp = client.get(client.url("x", {"token": secret}), headers={"X-Api-Key": secret})
    assert all(secret in r["path"] and r["headers"]["X-Api-Key"] == secret for r in http_server.requests)
    assert "s3cret" not in str(err.value) and "HTTP 503" in str(err.value)
    assert resp.status == 403 and b"s3cret" not in resp.body and resp.body.count(b"REDACTED") == 2


def test_unreachable_host_is_retried_then_reported(write_config):
    client, sleeps = client_for(write_config, "http://127.0.0.1:9", max_retries=1)
    with pytest.raises(SourceUnavailable) as err:
        client.get(client.url("x"))
    assert "ConnectionError" in str(err.value) and len(sleeps) == 1


def test_server_dropping_connection_is_a_transport_failure(http_server, write_config):
    http_server.respond((-1, {}, b""), (200, {}, b"fine"))
    client, _ = client_for(write_config, http_server.base_url)
    assert client.get(client.url("x")).body == b"fine"


def test_4xx_is_returned_to_the_connector_not_retried(http_server, write_config):
    http_server.respond((404, {}, b"nope"), (200, {}, b"never"))
    client, sleeps = client_for(write_config, http_server.base_url)
    assert client.get(client.url("x")).status == 404 and sleeps == [] and len(http_server.requests) == 1


def test_connector_can_mark_200_bodies_retryable(http_server, write_config):
    http_server.respond((200, {}, b"Please limit requests"), (200, {}, b"{}"))
    client, sleeps = client_for(write_config, http_server.base_url)
    resp = client.get(client.url("x"), retryable=lambda r: r.body.startswith(b"Please limit"))
    assert resp.body == b"{}" and len(sleeps) == 1


def test_backoff_is_exponential_with_jitter(write_config):
    client, _ = client_for(write_config, "http://127.0.0.1:9", backoff_seconds=1.0)
    for attempt in range(4):
        delays = {client.backoff(attempt) for _ in range(50)}
        assert all(0.5 * 2 ** attempt <= d < 1.5 * 2 ** attempt for d in delays) and len(delays) > 1


def test_pacing_spaces_live_requests(http_server, write_config):
    http_server.respond((200, {}, b"ok"), repeat_last=True)
    client, sleeps = client_for(write_config, http_server.base_url, min_interval_seconds=5.0)
    client.get(client.url("a"))
    client.get(client.url("b"))
    assert len(sleeps) == 1 and 4.0 < sleeps[0] <= 5.0
    assert all("bilateral" in r["headers"].get("User-Agent", "") for r in http_server.requests)


def test_request_key_ignores_host_order_and_secrets():
    a = request_key("https://api.example.org/v2", "https://api.example.org/v2/country/CAN/x?b=2&a=1&token=zz", ("token",))
    b = request_key("http://127.0.0.1:8000/v2", "http://127.0.0.1:8000/v2/country/CAN/x?a=1&b=2", ("token",))
    assert a == b == "country/CAN/x?a=1&b=2"
    assert redact("http://h/x?token=zz&a=1", ("token",)) == "http://h/x?token=REDACTED&a=1"
