"""`bilateral serve` on a real local Prefect server: a one-minute schedule, a scheduled sample night
completed (in the server's API and in audit.runs), and Ctrl-C stopping the runner and the server."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, write_config_file
from tests.reliability import cli_env

#: server start (25-35 s) + up to a minute to the first scheduled time + the runner's 10 s poll + a sample
#: night: about 3.5 min in all on the shared 2-core machine, but a night took 4 min alone at load average 10
DEADLINE_S = float(os.environ.get("BILATERAL_TEST_SERVE_DEADLINE", "420"))


def _flow_runs(api: str) -> list[dict]:
    body = json.dumps({"deployments": {"name": {"any_": ["bilateral-nightly"]}}, "sort": "EXPECTED_START_TIME_ASC",
                       "limit": 20}).encode()
    request = urllib.request.Request(f"{api}/flow_runs/filter", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.reliability
def test_serve_runs_the_scheduled_nightly_on_a_local_prefect_server(tmp_path):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse", {"schedule.cron": "* * * * *"})
    log_path = tmp_path / "serve.log"
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--sample", "--config", str(cfg)],
                                cwd=PROJECT_ROOT, env=cli_env(), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = None
    try:
        completed, runs = None, []
        while completed is None:
            text = log_path.read_text()
            assert "ephemeral" not in text, text
            assert proc.poll() is None, f"serve ended (exit {proc.returncode}):\n{text[-3000:]}"
            assert time.monotonic() - started < DEADLINE_S, (
                f"no completed scheduled run in {DEADLINE_S} s; runs {[(r['name'], r['state_name']) for r in runs]}:\n"
                f"{text[-3000:]}")
            if url is None and (found := re.search(r"^Prefect UI at (http://127\.0\.0\.1:\d+)$", text, re.M)):
                url = found.group(1)
            if url is not None:
                runs = _flow_runs(url + "/api")
                assert all(r["state_type"] not in ("FAILED", "CRASHED") for r in runs), runs
                completed = next((r for r in runs if r["state_type"] == "COMPLETED"), None)
            time.sleep(2)
        assert completed["parameters"]["mode"] == "sample" and completed["parameters"]["config_path"] == str(cfg)
        assert completed["auto_scheduled"] is True, "started by the schedule, not by hand"
        assert "bilateral: serving deployment nightly/bilateral-nightly (sample mode) on '* * * * *' (UTC)" in text

        proc.send_signal(signal.SIGINT)  # Ctrl-C: the runner stops, then the server it started
        proc.wait(timeout=60)
        assert proc.returncode == 0, log_path.read_text()[-3000:]
        assert "bilateral: stopping the local Prefect server" in log_path.read_text()
        assert not _answers(url), "the local server was stopped"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=60)

    con = duckdb.connect(str(tmp_path / "warehouse" / "bilateral.duckdb"), read_only=True)
    try:
        rows = con.execute("select status, mode from audit.runs where status = 'success'").fetchall()
    finally:
        con.close()
    assert rows and rows[0] == ("success", "sample")
