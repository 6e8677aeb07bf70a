"""``bilateral report path|open`` and the site's line in ``bilateral status``."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_config_file


def cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def _no_display_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    return env


def test_report_path_prints_the_current_sites_index(sample_run):
    out = cli("report", "path", "--config", str(sample_run.config_path))
    assert out.returncode == 0, out.stderr
    index = Path(out.stdout.strip())
    assert index == sample_run.warehouse_dir / "published" / "site" / "index.html"
    assert index.is_file() and sample_run.summary.run_id in index.read_text()


def test_report_before_anything_is_published_exits_1_saying_what_to_do(tmp_path):
    cfg = write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse")
    for action in ("path", "open"):
        out = cli("report", action, "--config", str(cfg))
        assert out.returncode == 1, out
        assert out.stdout == ""
        assert out.stderr.startswith("bilateral: report: nothing is published yet in ")
        assert "run `bilateral run`" in out.stderr


@pytest.mark.parametrize("argv, says", [(["report"], "the following arguments are required: action"),
                                        (["report", "show"], "invalid choice: 'show' (choose from 'path', 'open')")])
def test_report_without_a_known_action_is_a_usage_error(argv, says):
    out = cli(*argv)
    assert out.returncode == 2 and says in out.stderr, out.stderr


def test_report_open_without_a_browser_prints_the_path_and_how_to_view_it(sample_run):
    out = cli("report", "open", "--config", str(sample_run.config_path), env=_no_display_env())
    assert out.returncode == 0, out.stderr
    index = sample_run.warehouse_dir / "published" / "site" / "index.html"
    assert out.stdout.strip() == str(index)
    assert "no browser to open it here" in out.stderr and "python3 -m http.server --bind 127.0.0.1" in out.stderr


def test_report_open_hands_the_page_to_the_browser(sample_run, tmp_path):
    seen = tmp_path / "seen.txt"
    browser = tmp_path / "fake-browser"
    browser.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n")
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    env = {**_no_display_env(), "BROWSER": str(browser)}
    out = cli("report", "open", "--config", str(sample_run.config_path), env=env)
    assert out.returncode == 0, out.stderr
    index = sample_run.warehouse_dir / "published" / "site" / "index.html"
    assert out.stdout.strip() == f"opened {index}"
    assert seen.read_text().strip() == index.resolve().as_uri()


def test_status_names_the_site(sample_run):
    out = cli("status", "--config", str(sample_run.config_path))
    assert out.returncode == 0, out.stderr
    index = sample_run.warehouse_dir / "published" / "site" / "index.html"
    assert f"site: {index}" in out.stdout.splitlines()


def test_report_documents_itself():
    out = cli("report", "--help")
    assert out.returncode == 0 and "usage: bilateral report" in out.stdout and "{path,open}" in out.stdout
