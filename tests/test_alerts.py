"""Alerts: what a finished run alerts about (failed, a source failing nights in a row, stale data,
quarantine above the threshold) and the channels that carry it, against a real webhook receiver and
a real SMTP server on 127.0.0.1, real DuckDB files and the real command line."""
from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path

import duckdb
import pytest

from flows import alerts, warehouse
from flows.alert_channels import Reason
from flows.config import load_config
from flows.paths import Project
from flows.run import RunSummary
from tests.conftest import PROJECT_ROOT, write_config_file

TOKEN = "T0SECRET/B0SECRET/xoxbSuperSecretToken123"
PASSWORD = "smtp-Pa55word-never-shown"


# --- real receivers on loopback ------------------------------------------------------------------
class _Receiver(http.server.ThreadingHTTPServer):
    def __init__(self, status: int = 200) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status, self.posts = status, []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/{TOKEN}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append({"path": self.path, "json": json.loads(body)})
        answer = b"ok" if self.server.status == 200 else b"invalid_token"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Mailbox:
    def __init__(self) -> None:
        self.messages, self.logins = [], []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd naming
        self.messages.append({"to": envelope.rcpt_tos, "from": envelope.mail_from,
                              "message": message_from_bytes(envelope.content, policy=policy.default)})
        return "250 OK"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = _Mailbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"bilateral" and auth_data.password == PASSWORD.encode()
        box.logins.append(ok)
        return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself

    controller = Controller(box, hostname="127.0.0.1", port=_free_port(), authenticator=authenticate,
                            auth_require_tls=False, auth_exclude_mechanism=["LOGIN"])
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


# --- helpers -------------------------------------------------------------------------------------
def _config(tmp_path: Path, **alerts_keys):
    overrides = {f"alerts.{k.replace('__', '.')}": v for k, v in alerts_keys.items()}
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse", overrides)
    return load_config(cfg, project=Project(PROJECT_ROOT))


def _all_channels(tmp_path, receiver, smtp_server, **more):
    return _config(tmp_path, webhook__url_env="BILATERAL_ALERT_WEBHOOK", email__host="127.0.0.1",
                   email__port=smtp_server.port, email__security="none", email__from="bilateral@example.org",
                   email__to=["data-team@example.org", "oncall@example.org"], email__user="bilateral",
                   email__password_env="BILATERAL_SMTP_PASSWORD", log__path=str(tmp_path / "alerts.jsonl"), **more)


def _env(receiver) -> dict:
    return {"BILATERAL_ALERT_WEBHOOK": receiver.url, "BILATERAL_SMTP_PASSWORD": PASSWORD}


def _summary(status="failed", message="dbt build failed: 2 models errored", run_id="20261201T020000Z-aaaaaa",
             run_date="2026-12-01", **kw) -> RunSummary:
    return RunSummary(run_id=run_id, run_date=run_date, mode="live", status=status, message=message, **kw)


def _audit_writer(db: Path):
    warehouse.ensure_schemas(db)
    return lambda rows: warehouse.record_alerts(db, rows)


def _rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _night(db: Path, run_id: str, run_date: str, statuses: dict[str, str], hour: int = 2) -> None:
    """A past night in the audit tables: its run and each source's extract outcome."""
    started = datetime.fromisoformat(run_date).replace(hour=hour, tzinfo=timezone.utc)
    con = duckdb.connect(str(db))
    con.execute("insert into audit.runs (run_id, run_date, mode, started_at, status) values (?, ?, 'live', ?, ?)",
                [run_id, run_date, started, "failed" if "failed" in statuses.values() else "success"])
    for source, status in statuses.items():
        con.execute("insert into audit.run_steps (run_id, step, source, status, started_at) values (?, 'extract', ?, ?, ?)",
                    [run_id, source, status, started])
    con.close()


def _attempt(db: Path, source: str, days_ago: float, status: str = "ok") -> None:
    """A night's attempt for ``source`` (its per-source extract row), ``days_ago`` days ago."""
    at = datetime.now(timezone.utc) - timedelta(days=days_ago)
    run_id = f"r-{source}-{days_ago}"
    con = duckdb.connect(str(db))
    con.execute("insert into audit.runs (run_id, run_date, started_at, status) values (?, ?, ?, 'success')",
                [run_id, at.date(), at])
    con.execute("insert into audit.run_steps (run_id, step, source, status, started_at) values (?, 'extract', ?, ?, ?)",
                [run_id, source, status, at])
    con.close()


# --- failed run: every channel, with the reasons -----------------------------------------------------
def test_a_failed_run_reaches_the_webhook_the_mailbox_and_the_log_with_its_reasons(tmp_path, receiver, smtp_server,
                                                                                     capsys):
    config = _all_channels(tmp_path, receiver, smtp_server, quarantine_rows=5)
    summary = _summary(quarantined={"comtrade": 7})
    db = config.duckdb_path
    sent = alerts.alert_run(config, summary, ["worldbank"], record=_audit_writer(db), environ=_env(receiver))

    assert [(d.channel, d.ok) for d in sent] == [("webhook", True), ("email", True), ("log", True)]
    [post] = receiver.posts
    assert set(post["json"]) == {"text"}  # Slack / Teams incoming webhooks read "text"
    text = post["json"]["text"]
    assert "FAILED" in text and summary.run_id in text and "dbt build failed: 2 models errored" in text
    assert "7 records were quarantined tonight (comtrade 7)" in text and str(config.warehouse_dir) in text

    [mail] = smtp_server.messages
    assert smtp_server.logins == [True] and mail["to"] == ["data-team@example.org", "oncall@example.org"]
    assert mail["message"]["Subject"].strip() == f"[bilateral] FAILED nightly {summary.run_id} (failed, quarantine)"
    assert "dbt build failed" in mail["message"].get_payload()

    [line] = (tmp_path / "alerts.jsonl").read_text().splitlines()
    logged = json.loads(line)
    assert logged["run_id"] == summary.run_id and logged["outcome"] == "failed"
    assert [r["reason"] for r in logged["reasons"]] == ["failed", "quarantine"]

    rows = _rows(db, "select channel, split_part(reason, ':', 1), ok, error from audit.alerts order by 1, 2")
    assert rows == [(c, r, True, None) for c in ("email", "log", "webhook") for r in ("failed", "quarantine")]
    assert capsys.readouterr().err == ""
    assert summary.status == "failed"


def test_json_format_sends_structured_fields(tmp_path, receiver):
    config = _config(tmp_path, webhook__url_env="HOOK", webhook__format="json")
    summary = _summary(status="success", message="", published=True, quarantined={"wits": 101})
    alerts.alert_run(config, summary, [], record=lambda rows: None, environ={"HOOK": receiver.url})
    doc = receiver.posts[0]["json"]
    assert doc["run_id"] == summary.run_id and doc["outcome"] == "success"
    assert doc["reasons"] == [{"reason": "quarantine", "message": doc["reasons"][0]["message"]}]
    assert doc["warehouse"] == str(config.warehouse_dir)
    assert doc["published"] == str(config.published_dir / "bilateral.duckdb")


def test_a_quiet_successful_night_sends_nothing(tmp_path, receiver):
    config = _config(tmp_path, webhook__url_env="HOOK")
    assert alerts.alert_run(config, _summary(status="success", message="", quarantined={"wits": 100}), [],
                            record=pytest.fail, environ={"HOOK": receiver.url}) == []
    assert receiver.posts == []


# --- the decision -----------------------------------------------------------------------------------
def test_consecutive_failures_count_nights_and_an_ok_night_breaks_the_streak(tmp_path):
    config = _config(tmp_path, log__path=str(tmp_path / "a.jsonl"))
    db = config.duckdb_path
    warehouse.ensure_schemas(db)
    _night(db, "n1", "2026-11-27", {"comtrade": "failed", "wits": "failed"})
    _night(db, "n2", "2026-11-28", {"comtrade": "failed", "wits": "ok"})
    _night(db, "n3a", "2026-11-29", {"comtrade": "ok", "wits": "failed"})     # a rerun the same night
    _night(db, "n3b", "2026-11-29", {"comtrade": "failed", "wits": "failed"}, hour=3)  # the latest run of the night counts
    tonight = {"comtrade": "failed", "wits": "failed", "worldbank": "failed"}
    assert alerts.failing_streaks(db, "tonight", "2026-11-30", tonight) == {"comtrade": 4, "wits": 2, "worldbank": 1}

    summary = _summary(status="partial", message="", run_date="2026-11-30", source_status=tonight,
                       source_errors={"comtrade": ["[comtrade] HTTP 401 (at data/v1/get)"]})
    failing = [r.message for r in alerts.decide(config, summary, []) if r.reason == "source_failing"]
    assert failing == ["comtrade failed 4 nights in a row (alerts.consecutive_failures = 2): "
                       "[comtrade] HTTP 401 (at data/v1/get)",
                       "wits failed 2 nights in a row (alerts.consecutive_failures = 2)"]
    stricter = _config(tmp_path, log__path=str(tmp_path / "a.jsonl"), consecutive_failures=3)
    assert [r.message.split(" ")[0] for r in alerts.decide(stricter, summary, [])] == ["comtrade"]


def test_quarantine_alerts_only_above_the_threshold(tmp_path):
    config = _config(tmp_path, log__path=str(tmp_path / "a.jsonl"))  # default alerts.quarantine_rows = 100
    at = _summary(status="success", message="", quarantined={"wits": 60, "comtrade": 40})
    above = _summary(status="success", message="", quarantined={"wits": 60, "comtrade": 41})
    assert alerts.decide(config, at, []) == []
    [reason] = alerts.decide(config, above, [])
    assert reason.reason == "quarantine" and reason.message.startswith("101 records were quarantined tonight")


def test_stale_follows_the_freshness_bilateral_status_shows(tmp_path):
    from flows.status import status_document

    config = _config(tmp_path, log__path=str(tmp_path / "a.jsonl"))
    db = config.duckdb_path
    warehouse.ensure_schemas(db)
    _attempt(db, "worldbank", days_ago=40)     # cadence: stale after 35 days
    _attempt(db, "comtrade", days_ago=3)       # stale after 35 days: fresh
    _attempt(db, "gdelt_events", days_ago=2)   # stale after 36 hours
    _attempt(db, "wits", days_ago=1, status="failed")  # failed, not stale: the failure alerts say so
    summary = _summary(status="success", message="")
    sources = ["worldbank", "comtrade", "gdelt_events", "wits", "gdelt_doc"]  # gdelt_doc never loaded
    found = alerts.decide(config, summary, sources)
    assert [r.reason for r in found] == ["stale", "stale"]
    assert found[0].message.startswith("gdelt_events: last successful load 48 h ago") and "stale after 36 h" in found[0].message
    assert found[1].message.startswith("worldbank: last successful load 960 h ago")
    states = {s["source"]: s["state"] for s in status_document(config)["sources"]}
    assert {k: states[k] for k in sources} == {"worldbank": "stale", "comtrade": "fresh", "gdelt_events": "stale",
                                               "wits": "failed", "gdelt_doc": "never"}
    assert alerts.decide(config, summary, ["comtrade"]) == []  # only the run's sources count


def test_alerts_on_chooses_the_reasons(tmp_path):
    config = _config(tmp_path, log__path=str(tmp_path / "a.jsonl"), on=["quarantine"])
    assert alerts.decide(config, _summary(), []) == []


# --- failing channels never change the outcome ----------------------------------------------------------
def test_a_receiver_down_is_one_line_and_an_audit_row_and_the_outcome_is_unchanged(tmp_path, capsys):
    config = _config(tmp_path, webhook__url_env="HOOK", email__host="127.0.0.1", email__port=_free_port(),
                     email__from="b@example.org", email__to=["t@example.org"], log__path=str(tmp_path / "a.jsonl"))
    down = f"http://127.0.0.1:{_free_port()}/services/{TOKEN}"
    summary = _summary()
    before = repr(summary)
    sent = alerts.alert_run(config, summary, [], record=_audit_writer(config.duckdb_path), environ={"HOOK": down})
    assert [(d.channel, d.ok) for d in sent] == [("webhook", False), ("email", False), ("log", True)]
    assert repr(summary) == before
    err = capsys.readouterr().err.splitlines()
    host = down.split("/")[2]
    assert err[0].startswith(f"bilateral: alert via webhook to {host} failed: cannot reach the receiver: ")
    assert err[0].endswith("; the run's outcome is unchanged") and "Connection refused" in err[0]
    assert err[1].startswith("bilateral: alert via email to 127.0.0.1:") and len(err) == 2
    rows = _rows(config.duckdb_path, "select channel, ok, error is not null, target from audit.alerts order by 1")
    assert rows == [("email", False, True, f"127.0.0.1:{config.alerts.email.port}"), ("log", True, False,
                    str(tmp_path / "a.jsonl")), ("webhook", False, True, host)]
    assert TOKEN not in str(_rows(config.duckdb_path, "select * from audit.alerts"))


def test_refusals_are_reported_not_raised(tmp_path, receiver, smtp_server):
    receiver.status = 403
    config = _config(tmp_path, webhook__url_env="HOOK", email__host="127.0.0.1", email__port=smtp_server.port,
                     email__from="b@example.org", email__to=["t@example.org"], email__user="bilateral",
                     email__password_env="PW", email__security="starttls")
    sent = alerts.alert_run(config, _summary(), [], record=lambda rows: None,
                            environ={"HOOK": receiver.url, "PW": "wrong-password"})
    assert sent[0].error == "the receiver answered HTTP 403: invalid_token"
    assert "does not offer STARTTLS" in sent[1].error and smtp_server.messages == []
    plain = _config(tmp_path, email__host="127.0.0.1", email__port=smtp_server.port, email__from="b@example.org",
                    email__to=["t@example.org"], email__user="bilateral", email__password_env="PW",
                    email__security="none")
    [mail] = alerts.alert_run(plain, _summary(), [], record=lambda rows: None, environ={"PW": "wrong-password"})
    assert not mail.ok and mail.error.startswith("the server answered 535") and "wrong-password" not in mail.error
    [unset] = alerts.alert_run(plain, _summary(), [], record=lambda rows: None, environ={})
    assert unset.error.startswith("environment variable PW (alerts.email.password_env) is not set")


# --- configuration and the command line -------------------------------------------------------------------
def cli(*args, env=None, timeout=60):
    import os

    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=PROJECT_ROOT)


@pytest.mark.parametrize("key,value", [("alerts.webhook.url", f"https://hooks.example.org/services/{TOKEN}"),
                                       ("alerts.webhook.url_env", f"https://hooks.example.org/services/{TOKEN}"),
                                       ("alerts.email.password", TOKEN)])
def test_a_secret_in_the_config_file_is_refused_with_exit_2_and_not_shown(tmp_path, key, value):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse", {key: value})
    out = cli("alerts", "test", "--config", str(cfg))
    assert out.returncode == 2, out.stderr
    [line] = out.stderr.splitlines()
    assert line.startswith(f"bilateral: configuration error: {cfg}: config key '{key}': ")
    assert "environment variable" in line and TOKEN not in out.stdout + out.stderr


def test_alerts_test_reports_each_channel_and_never_shows_a_secret(tmp_path, receiver, smtp_server):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse", {
        "alerts.webhook.url_env": "BILATERAL_ALERT_WEBHOOK", "alerts.email.host": "127.0.0.1",
        "alerts.email.port": smtp_server.port, "alerts.email.security": "none", "alerts.email.from": "b@example.org",
        "alerts.email.to": ["t@example.org"], "alerts.email.user": "bilateral",
        "alerts.email.password_env": "BILATERAL_SMTP_PASSWORD", "alerts.log.path": str(tmp_path / "a.jsonl")})
    out = cli("alerts", "test", "--config", str(cfg), env=_env(receiver))
    assert out.returncode == 0, out.stderr
    host = receiver.url.split("/")[2]
    assert out.stdout.splitlines() == [f"webhook to {host}: ok", f"email to 127.0.0.1:{smtp_server.port}: ok",
                                       f"log to {tmp_path / 'a.jsonl'}: ok",
                                       "3 of 3 channel(s) delivered the test notification"]
    assert "test notification" in receiver.posts[0]["json"]["text"] and len(smtp_server.messages) == 1
    receiver.status = 500
    failed = cli("alerts", "test", "--config", str(cfg), env={**_env(receiver), "BILATERAL_SMTP_PASSWORD": "nope-wrong"})
    assert failed.returncode == 1
    assert f"webhook to {host}: FAILED: the receiver answered HTTP 500" in failed.stdout
    assert f"email to 127.0.0.1:{smtp_server.port}: FAILED: the server answered 535" in failed.stdout
    for output in (out.stdout, out.stderr, failed.stdout, failed.stderr, (tmp_path / "a.jsonl").read_text(),
                   json.dumps([p["json"] for p in receiver.posts]), str([m["message"].as_string() for m in smtp_server.messages])):
        assert TOKEN not in output and "B0SECRET" not in output and PASSWORD not in output and "nope-wrong" not in output


def test_alerts_test_without_a_channel_exits_2(tmp_path):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse")
    out = cli("alerts", "test", "--config", str(cfg))
    assert out.returncode == 2 and "no alert channel is configured" in out.stderr


def test_incomplete_channels_are_refused_at_load(tmp_path):
    from flows.config import ConfigError

    with pytest.raises(ConfigError, match="alerts.email.host needs alerts.email.from"):
        _config(tmp_path, email__host="smtp.example.org", email__to=["t@example.org"])
    with pytest.raises(ConfigError, match="alerts.email.user and alerts.email.password_env go together"):
        _config(tmp_path, email__host="smtp.example.org", email__to=["t@example.org"], email__from="b@example.org",
                email__user="u")
    with pytest.raises(ConfigError, match="unknown config key 'alerts.webhook.adress'"):
        _config(tmp_path, webhook__adress="x")
    with pytest.raises(ConfigError, match="relative path must stay inside the project folder"):
        _config(tmp_path, log__path="../../alerts.jsonl")
    config = _config(tmp_path, log__path="warehouse/alerts.jsonl")
    assert config.alerts.log_path == PROJECT_ROOT / "warehouse" / "alerts.jsonl"
    assert config.alerts.channels == ["log"] and _config(tmp_path).alerts.channels == []
