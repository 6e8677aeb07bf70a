"""Scheduling without Prefect's scheduler: `bilateral schedule` in a (fake) crontab and systemd user
timer, cron expressions checked when the config loads, OnCalendar equal to cron, and `bilateral serve`
refusing when the Prefect server it is pointed at does not answer."""
from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from flows.systemd_calendar import NotConvertible, on_calendar
from tests.conftest import PROJECT_ROOT
from tests.reliability import cli_env

FAKE_CRONTAB = """#!/bin/sh
# a crontab that keeps the table in $FAKE_CRONTAB_FILE: -l lists it, - installs standard input
case "$1" in
  -l) if [ -f "$FAKE_CRONTAB_FILE" ]; then cat "$FAKE_CRONTAB_FILE"; else echo "no crontab for tester" >&2; exit 1; fi ;;
  -)  cat > "$FAKE_CRONTAB_FILE" ;;
  *)  echo "usage: crontab [-l | -]" >&2; exit 2 ;;
esac
"""

FAKE_SYSTEMCTL = """#!/bin/sh
# a systemctl that records its arguments, one call a line
echo "$@" >> "$FAKE_SYSTEMCTL_LOG"
"""


def cli(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _script(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_crontab(tmp_path):
    table = tmp_path / "crontab.txt"
    env = cli_env(BILATERAL_CRONTAB=str(_script(tmp_path / "crontab", FAKE_CRONTAB)), FAKE_CRONTAB_FILE=str(table))
    return table, env


def test_install_writes_one_marked_block_with_cron_tz_and_keeps_other_entries(write_config, fake_crontab):
    table, env = fake_crontab
    cfg = write_config({"schedule.cron": "30 3 * * 1-5", "schedule.timezone": "America/Toronto"})
    table.write_text("MAILTO=ops@example.org\n15 * * * * /usr/bin/backup\n")

    for _ in range(2):  # installing again replaces the block
        out = cli("schedule", "install", "--config", str(cfg), env=env)
        assert out.returncode == 0, out.stderr
    lines = table.read_text().splitlines()
    assert lines[:2] == ["MAILTO=ops@example.org", "15 * * * * /usr/bin/backup"], "other entries kept, first"
    marker = f"# bilateral {PROJECT_ROOT}"
    assert lines.count(marker) == 1 and lines[-1] == f"# end bilateral {PROJECT_ROOT}"
    block = lines[lines.index(marker):]
    assert "CRON_TZ=America/Toronto" in block
    entry = next(line for line in block if line.startswith("30 3 * * 1-5 "))
    argv = shlex.split(entry.removeprefix("30 3 * * 1-5 "))
    assert argv[:3] == ["cd", str(PROJECT_ROOT), "&&"]
    launcher = Path(argv[3])
    assert launcher == PROJECT_ROOT / "bilateral" and os.access(launcher, os.X_OK)
    assert argv[4] == "run" and argv[argv.index("--config") + 1] == str(cfg)
    assert argv[-3:-1] == [">>", str(cfg.parent / "warehouse" / "nightly.log")] and argv[-1] == "2>&1"

    shown = cli("schedule", "show", "--config", str(cfg), env=env)
    assert shown.returncode == 0 and shown.stdout.splitlines() == block

    out = cli("schedule", "remove", "--config", str(cfg), env=env)
    assert out.returncode == 0, out.stderr
    assert table.read_text().splitlines() == ["MAILTO=ops@example.org", "15 * * * * /usr/bin/backup"]
    again = cli("schedule", "remove", "--config", str(cfg), env=env)
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert "no bilateral entry" in cli("schedule", "show", "--config", str(cfg), env=env).stdout


def test_install_into_an_empty_crontab_and_a_crontab_command_that_fails(write_config, fake_crontab, tmp_path):
    table, env = fake_crontab
    cfg = write_config()
    out = cli("schedule", "install", "--config", str(cfg), "--set", "sources.gdelt_events.enabled=false", env=env)
    assert out.returncode == 0, out.stderr
    text = table.read_text()
    assert text.startswith(f"# bilateral {PROJECT_ROOT}\n") and "CRON_TZ=UTC\n0 2 * * * cd " in text
    assert "--set sources.gdelt_events.enabled=false" in text, "the --set given travels with the entry"

    broken = _script(tmp_path / "broken-crontab", "#!/bin/sh\necho 'crontab: permission denied' >&2\nexit 1\n")
    out = cli("schedule", "install", "--config", str(cfg), "--crontab-command", str(broken), env=env)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "permission denied" in out.stderr
    out = cli("schedule", "install", "--config", str(cfg), "--crontab-command", str(tmp_path / "nope"), env=env)
    assert out.returncode == 1 and "no `" in out.stderr and "--systemd" in out.stderr


def test_systemd_timer_install_show_remove(write_config, tmp_path):
    log = tmp_path / "systemctl.log"
    env = cli_env(BILATERAL_SYSTEMCTL=str(_script(tmp_path / "systemctl", FAKE_SYSTEMCTL)),
                  FAKE_SYSTEMCTL_LOG=str(log), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    cfg = write_config({"schedule.cron": "0 3 1,15 * 5", "schedule.timezone": "Asia/Shanghai"})
    out = cli("schedule", "install", "--systemd", "--config", str(cfg), env=env)
    assert out.returncode == 0, out.stderr
    units = tmp_path / "xdg" / "systemd" / "user"
    timer = next(units.glob("bilateral-*.timer"))
    service = timer.with_suffix(".service")
    text = timer.read_text()
    assert text.startswith(f"# bilateral {PROJECT_ROOT}\n")
    assert "OnCalendar=*-*-01,15 03:00:00 Asia/Shanghai\nOnCalendar=Fri *-*-* 03:00:00 Asia/Shanghai\n" in text
    exec_start = next(line for line in service.read_text().splitlines() if line.startswith("ExecStart="))
    assert exec_start.startswith(f"ExecStart={PROJECT_ROOT / 'bilateral'} run ") and f"--config {cfg}" in exec_start
    assert log.read_text().splitlines() == ["--user daemon-reload", f"--user enable --now {timer.name}"]

    shown = cli("schedule", "show", "--systemd", "--config", str(cfg), env=env)
    assert shown.returncode == 0 and f"== {timer}" in shown.stdout and "OnCalendar=Fri" in shown.stdout

    out = cli("schedule", "remove", "--systemd", "--config", str(cfg), env=env)
    assert out.returncode == 0 and not timer.exists() and not service.exists()
    assert f"--user disable --now {timer.name}" in log.read_text()


def test_systemd_refuses_a_cron_expression_it_cannot_express(write_config, tmp_path):
    env = cli_env(BILATERAL_SYSTEMCTL=str(_script(tmp_path / "systemctl", FAKE_SYSTEMCTL)),
                  FAKE_SYSTEMCTL_LOG=str(tmp_path / "log"), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    out = cli("schedule", "install", "--systemd", "--config", str(write_config({"schedule.cron": "0 3 L * *"})), env=env)
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "schedule.cron '0 3 L * *'" in out.stderr and "OnCalendar cannot express" in out.stderr
    assert not (tmp_path / "xdg").exists() and not (tmp_path / "log").exists(), "nothing written or enabled"


@pytest.mark.parametrize("command", ["run", "status", "serve", "schedule"])
def test_a_cron_string_that_is_not_a_cron_expression_stops_every_command(write_config, command):
    out = cli(command, "--config", str(write_config({"schedule.cron": "every night"})), env=cli_env())
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("bilateral: configuration error: ")
    assert ("config key 'schedule.cron': got 'every night' (str); not a cron expression "
            '(5 fields: minute hour day month weekday), e.g. "0 3 * * *"') in out.stderr


@pytest.mark.parametrize("cron, why", [("0 3 * * * *", "5 fields"), ("61 * * * *", "bad minute"),
                                       ("0 3 * *", "5 fields")])
def test_cron_fields_are_checked(write_config, cron, why):
    from flows.config import ConfigError, load_config

    with pytest.raises(ConfigError) as err:
        load_config(write_config({"schedule.cron": cron}))
    assert "not a cron expression" in str(err.value) and why in str(err.value)


@pytest.mark.parametrize("cron", ["0 2 * * *", "*/15 1-5/2 * jan-mar mon-fri", "30 4 1,15 * 5", "0 3 * * 0,7",
                                  "5 0 * 8 *", "0 0 1 */3 *", "0 12 */2 * 1", "7 9-17 * * sat,sun", "* * * * *"])
def test_on_calendar_fires_exactly_when_cron_does(cron):
    """systemd's own parser (systemd-analyze calendar) against cronsim: the same next 12 times (away from
    a clock change: a time the spring change skips, e.g. 02:00 in Toronto, systemd skips that day while
    cron runs it just after the change; docs: README "Scheduling")."""
    from cronsim import CronSim

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    zone = "America/Toronto"
    base = datetime(2026, 4, 10, 12, 0, tzinfo=ZoneInfo(zone))
    expected = []
    sim = CronSim(cron, base)
    for _ in range(12):
        expected.append(next(sim).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S"))
    got = set()
    for calendar in on_calendar(cron, zone):
        done = subprocess.run([analyze, "calendar", "--iterations=12", "--base-time=" + base.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S UTC"), calendar],
                              capture_output=True, text=True, env={**os.environ, "TZ": "UTC"}, timeout=30)
        assert done.returncode == 0, done.stderr
        for line in done.stdout.splitlines():
            if "Next elapse:" in line or "Iter. #" in line:
                got.add(line.split(": ", 1)[1].split(" ", 1)[1].removesuffix(" UTC"))
    assert sorted(got)[:12] == expected


@pytest.mark.parametrize("cron", ["0 3 L * *", "0 3 * * 5L", "0 3 * * 1#2"])
def test_on_calendar_refuses_what_it_cannot_express(cron):
    with pytest.raises(NotConvertible):
        on_calendar(cron)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_serve_refuses_when_prefect_api_url_does_not_answer(write_config, tmp_path):
    url = f"http://127.0.0.1:{_dead_port()}/api"
    started = time.monotonic()
    out = cli("serve", "--sample", "--config", str(write_config()), env=cli_env(PREFECT_API_URL=url), timeout=60)
    assert out.returncode == 1, out.stdout + out.stderr
    assert time.monotonic() - started < 30
    assert f"PREFECT_API_URL={url}: the Prefect server does not answer" in out.stderr
    assert "ephemeral" not in out.stdout + out.stderr and "Traceback" not in out.stderr
    assert "serving" not in out.stdout

    out = cli("serve", "--config", str(write_config()), env=cli_env(PREFECT_API_URL="localhost:4200"))
    assert out.returncode == 2 and "not an http(s) URL" in out.stderr
