"""The call site: real nights through `bilateral run` that fail (a replay of a recording without tonight's requests)
alert through a real webhook receiver, a log file and a mail server that is down; the second
failing night in a row also says the source has failed two nights running."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, write_config_file
from tests.test_alerts import PASSWORD, TOKEN, _free_port, receiver  # noqa: F401 - the receiver fixture

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # two whole nights: in the reliability suite (CI)


def test_two_failing_nights_alert_and_a_mail_server_down_changes_nothing(tmp_path, receiver):  # noqa: F811
    empty = tmp_path / "recording"  # a recording of worldbank that holds none of tonight's requests
    (empty / "worldbank" / "responses").mkdir(parents=True)
    (empty / "worldbank" / "responses" / "000001.json").write_text("[]")
    (empty / "worldbank" / "index.jsonl").write_text(json.dumps(
        {"key": "v2/other?night=1", "status": 200, "headers": {"content-type": "application/json"},
         "body_file": "responses/000001.json", "synthetic": True, "recorded_at": "2026-01-01T00:00:00+00:00"}) + "\n")
    smtp_port = _free_port()  # nothing listens there
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse", {
        "alerts.webhook.url_env": "BILATERAL_ALERT_WEBHOOK", "alerts.email.host": "127.0.0.1",
        "alerts.email.port": smtp_port, "alerts.email.from": "b@example.org", "alerts.email.to": ["t@example.org"],
        "alerts.email.user": "bilateral", "alerts.email.password_env": "BILATERAL_SMTP_PASSWORD",
        "alerts.log.path": str(tmp_path / "alerts.jsonl")})
    env = {**os.environ, "BILATERAL_ALERT_WEBHOOK": receiver.url, "BILATERAL_SMTP_PASSWORD": PASSWORD}
    outputs = []
    for night in ("2026-11-29", "2026-11-30"):
        out = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--replay", str(empty), "--sources", "worldbank",
                              "--date", night, "--config", str(cfg)], capture_output=True, text=True, timeout=180,
                             env=env, cwd=PROJECT_ROOT)
        outputs.append(out.stdout + out.stderr)
        assert out.returncode == 1, out.stderr[-2000:]  # a failed night, as without alerts
        assert out.stdout.startswith("FAILED: bilateral nightly")
        [line] = [x for x in out.stderr.splitlines() if x.startswith("bilateral: alert via")]
        assert line.startswith(f"bilateral: alert via email to 127.0.0.1:{smtp_port} failed: ")
        assert line.endswith("; the run's outcome is unchanged")

    first, second = (p["json"]["text"] for p in receiver.posts)
    assert "FAILED" in first and "- failed: the run failed: source(s) ['worldbank'] failed" in first
    assert "source_failing" not in first
    assert "- source_failing: worldbank failed 2 nights in a row (alerts.consecutive_failures = 2)" in second

    logged = [json.loads(x) for x in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [[r["reason"] for r in doc["reasons"]] for doc in logged] == [["failed"], ["failed", "source_failing"]]

    con = duckdb.connect(str(tmp_path / "warehouse" / "bilateral.duckdb"), read_only=True)
    rows = con.execute("select a.channel, split_part(a.reason, ':', 1), a.ok, r.status, r.run_date::varchar "
                       "from audit.alerts a join audit.runs r using (run_id) order by r.run_date, 1, 2").fetchall()
    everything = str(con.execute("select * from audit.alerts").fetchall())
    con.close()
    assert rows == [(c, "failed", c != "email", "failed", "2026-11-29") for c in ("email", "log", "webhook")] + [
        (c, reason, c != "email", "failed", "2026-11-30") for c in ("email", "log", "webhook")
        for reason in ("failed", "source_failing")]
    for text in (everything, *outputs, (tmp_path / "alerts.jsonl").read_text()):
        assert TOKEN not in text and "B0SECRET" not in text and PASSWORD not in text
