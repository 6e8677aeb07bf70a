"""``bilateral schedule install|remove|show``: the nightly in the OS scheduler, no resident process.

The entry calls the project's launcher (``<project>/bilateral run``, absolute paths, the config file
in use and any ``--set`` given) at ``schedule.cron`` in ``schedule.timezone``, appending its output to
``<warehouse>/nightly.log``: in the user's crontab by default (a ``CRON_TZ`` line, flows/crontab.py),
or as a systemd user timer with ``--systemd`` (``OnCalendar`` converted from the cron expression,
flows/systemd_calendar.py; flows/systemd_timer.py).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from flows import crontab, systemd_timer
from flows.errors import BilateralError
from flows.systemd_calendar import NotConvertible, on_calendar

if TYPE_CHECKING:
    from flows.config import Config

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class LauncherMissing(BilateralError):
    """No ``bilateral`` command to put in the entry (exit 2)."""

SCHEDULE_HELP = """\
Put the nightly `bilateral run` in the OS scheduler (no resident process; compare `bilateral serve`).
  install  write the entry: the project's launcher with absolute paths and the config file in use
           (and any --set), at schedule.cron in schedule.timezone, output appended to
           <warehouse>/nightly.log. Installing again replaces the entry; other entries are kept.
  remove   delete the entry (only this project's)
  show     print the entry (default)
crontab (default): a block marked `# bilateral <project path>` with a CRON_TZ line, edited with
`crontab -l` / `crontab -` (command: --crontab-command or BILATERAL_CRONTAB, default crontab).
--systemd: bilateral-<id>.service and .timer in ~/.config/systemd/user (XDG_CONFIG_HOME), OnCalendar
converted from the cron expression (cron's L, W and # cannot be converted: refused), enabled with
`systemctl --user` (command: --systemctl-command or BILATERAL_SYSTEMCTL). Cron and systemd start the
run with a bare environment: API keys (COMTRADE_API_KEY) must come from a Prefect Secret block
(sources.comtrade.api_key_secret_block) or be added to the entry by hand."""


def add_schedule_parser(sub, add_config_args) -> None:
    p = sub.add_parser("schedule", help="install, remove or show the nightly in crontab or a systemd user timer",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=SCHEDULE_HELP)
    p.add_argument("action", nargs="?", choices=["install", "remove", "show"], default="show")
    p.add_argument("--systemd", action="store_true", help="a systemd user timer instead of a crontab entry")
    p.add_argument("--crontab-command", metavar="CMD",
                   help="the crontab command (default: BILATERAL_CRONTAB, else crontab)")
    p.add_argument("--systemctl-command", metavar="CMD",
                   help="the systemctl command (default: BILATERAL_SYSTEMCTL, else systemctl)")
    add_config_args(p)


def launcher(config: Config) -> Path:
    """The project's ``bilateral`` launcher, else the installed ``bilateral`` command beside this Python."""
    for candidate in (config.project.root / "bilateral", Path(sys.executable).parent / "bilateral"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.resolve()
    raise LauncherMissing(f"no executable `bilateral` launcher in {config.project.root} (nor beside {sys.executable}); "
                          "the entry calls it: restore the project's ./bilateral (chmod +x)")


def run_argv(config: Config, overrides: list[str]) -> list[str]:
    argv = [str(launcher(config)), "run", "--project-dir", str(config.project.root), "--config", str(config.path)]
    for item in overrides:
        argv += ["--set", item]
    return argv


def log_path(config: Config) -> Path:
    return config.warehouse_dir / "nightly.log"


def cron_command(config: Config, overrides: list[str]) -> str:
    argv = " ".join(shlex.quote(a) for a in run_argv(config, overrides))
    return f"cd {shlex.quote(str(config.project.root))} && {argv} >> {shlex.quote(str(log_path(config)))} 2>&1"


def _say(line: str = "") -> None:
    print(line)


def run_schedule_command(config: Config, args) -> int:
    project = str(config.project.root)
    try:
        if args.systemd:
            return _systemd(config, args, project)
        return _crontab(config, args, project)
    except NotConvertible as exc:
        print(f"bilateral: schedule: config schedule.cron {config.schedule_cron!r}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except LauncherMissing as exc:
        print(f"bilateral: schedule {args.action}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (crontab.CrontabFailed, systemd_timer.SystemdFailed) as exc:
        print(f"bilateral: schedule {args.action}: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _crontab(config: Config, args, project: str) -> int:
    command = args.crontab_command or os.environ.get("BILATERAL_CRONTAB") or "crontab"
    if args.action == "install":
        lines = crontab.block(project, config.schedule_cron, config.schedule_timezone,
                              cron_command(config, list(args.overrides)))
        crontab.install(command, project, lines)
        _say(f"installed in the crontab (runs '{config.schedule_cron}' in {config.schedule_timezone}; "
             f"log {log_path(config)}):")
        for line in lines:
            _say("  " + line)
        if config.schedule_timezone != "UTC":
            _say("note: CRON_TZ is honoured by cronie (Fedora, RHEL, Arch); Debian's and Ubuntu's cron ignore it "
                 "and use the system time zone: use --systemd there")
        return EXIT_OK
    if args.action == "remove":
        if crontab.remove(command, project):
            _say(f"removed the bilateral entry for {project} from the crontab")
        else:
            _say(f"no bilateral entry for {project} in the crontab; nothing changed")
        return EXIT_OK
    lines = crontab.show(command, project)
    if not lines:
        _say(f"no bilateral entry for {project} in the crontab (`bilateral schedule install` writes one)")
    for line in lines:
        _say(line)
    return EXIT_OK


def _systemd(config: Config, args, project: str) -> int:
    command = args.systemctl_command or os.environ.get("BILATERAL_SYSTEMCTL") or "systemctl"
    directory = systemd_timer.unit_dir()
    if args.action == "install":
        calendars = on_calendar(config.schedule_cron, config.schedule_timezone)
        files = systemd_timer.units(project, calendars, run_argv(config, list(args.overrides)), log_path(config))
        written = systemd_timer.install(command, project, files, directory)
        _say(f"installed and enabled the systemd user timer {systemd_timer.unit_name(project)}.timer "
             f"(OnCalendar {' | '.join(calendars)}; log {log_path(config)}):")
        for path in written:
            _say(f"  {path}")
        return EXIT_OK
    if args.action == "remove":
        removed = systemd_timer.remove(command, project, directory)
        _say(f"removed {', '.join(str(p) for p in removed)}" if removed
             else f"no bilateral systemd units for {project} in {directory}; nothing changed")
        return EXIT_OK
    files, status = systemd_timer.show(command, project, directory)
    if not files:
        _say(f"no bilateral systemd units for {project} in {directory} (`bilateral schedule install --systemd`)")
        return EXIT_OK
    for path, text in files.items():
        _say(f"== {path}")
        _say(text.rstrip())
        _say()
    if status:
        _say(status)
    return EXIT_OK
