"""The local Prefect API a `bilateral run` starts before importing Prefect (flows/prefect_api.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from flows.prefect_api import EarlyApi, start_early_api
from flows.prefect_server import answers

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_configured_api_url_is_used_and_nothing_is_started(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert start_early_api() is None
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:1/api"


def test_a_server_that_ends_before_answering_is_stopped_and_its_address_unset(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    class Broken(EarlyApi):
        def command(self):
            return [sys.executable, "-c", "raise SystemExit(3)"]

    api = Broken().start()
    assert os.environ["PREFECT_API_URL"] == api.api_url
    assert api.wait(timeout=30) is False
    assert "PREFECT_API_URL" not in os.environ  # a process importing Prefect after this gets its own temporary server
    assert api.process is None


PROBE = textwrap.dedent("""
    import json, os, sys
    import flows
    from flows.prefect_api import start_early_api
    api = start_early_api()
    from prefect import flow, task

    @task
    def double(x):
        return 2 * x

    @flow
    def probe():
        return double.submit(21).result()

    from flows.prefect_api import IMPORTED_WHILE_BOOTING
    before = [m for m in IMPORTED_WHILE_BOOTING if m in sys.modules]
    api.import_while_booting()  # as `bilateral run` does, before waiting
    imported = [m for m in IMPORTED_WHILE_BOOTING if m in sys.modules]
    ready = api.wait()
    result = probe()
    url = api.api_url
    api.stop()
    from flows.prefect_server import answers
    print(json.dumps({"ready": ready, "result": result, "url": url, "answers_after_stop": answers(url, 1.0) is None,
                      "server_imported": "prefect.server.api.server" in sys.modules, "before": before,
                      "imported": imported}))
""")


@pytest.mark.slow
def test_a_flow_runs_on_the_early_api_and_this_process_never_imports_the_server(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PYTHONPATH=PROJECT_ROOT)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ready"] is True
    assert out["result"] == 42
    assert out["url"].startswith("http://127.0.0.1:")
    assert out["answers_after_stop"] is False  # stopped: nothing left listening
    assert out["server_imported"] is False
    assert answers(out["url"], 1.0) is not None
    # dbt and GX are imported while the server boots (not before: the probe imports neither itself),
    # and the flow still runs on the server after them
    assert out["before"] == [] and out["imported"] == ["dbt.cli.main", "dbt.adapters.duckdb", "great_expectations"]


def test_an_import_that_fails_while_the_server_boots_is_left_to_the_step_that_needs_it():
    api = EarlyApi(port=1)  # never started: importing does not need the server
    api.import_while_booting(("flows_no_such_module", "flows.bench.sizes"))  # no exception
    assert "flows.bench.sizes" in sys.modules and "flows_no_such_module" not in sys.modules


EXIT_PROBE = textwrap.dedent("""
    import atexit, sys
    from pathlib import Path
    from flows.cli import _exit_now
    atexit.register(lambda: Path(sys.argv[1]).write_text("ran"))
    print("the summary, unflushed", end="")
    sys.stderr.write("a last progress line")
    _exit_now(5)
    print("never printed")
""")


def test_a_night_command_ends_at_once_with_its_output_flushed_and_exit_handlers_run(tmp_path):
    marker = tmp_path / "atexit"
    done = subprocess.run([sys.executable, "-c", EXIT_PROBE, str(marker)], capture_output=True, text=True,
                          timeout=60, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": PROJECT_ROOT})
    assert done.returncode == 5
    assert done.stdout == "the summary, unflushed"
    assert done.stderr == "a last progress line"
    assert marker.read_text() == "ran"  # e.g. the local API server's stop, Prefect's workers, logging.shutdown


BROKEN_SERVER_RUN = textwrap.dedent("""
    import sys
    import flows.prefect_api as early

    early.EarlyApi.command = lambda self: [sys.executable, "-c", "raise SystemExit(3)"]
    from flows.cli import main
    code = main(["run", "--sample", "--date", "2026-11-30", "--config", sys.argv[1]])
    print("exit", code)
""")


@pytest.mark.slow
def test_a_run_whose_local_api_server_does_not_start_stops_with_a_message_before_any_work(write_config, tmp_path):
    cfg = write_config()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), PYTHONPATH=PROJECT_ROOT)
    done = subprocess.run([sys.executable, "-c", BROKEN_SERVER_RUN, str(cfg)], env=env, capture_output=True,
                          text=True, timeout=300, cwd=PROJECT_ROOT)
    assert done.stdout.strip().splitlines()[-1] == "exit 1", done.stderr[-2000:]
    assert "Prefect's local API server did not start" in done.stderr and "PREFECT_API_URL" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "warehouse" / "landing").exists() and not (tmp_path / "warehouse" / "published").exists()
