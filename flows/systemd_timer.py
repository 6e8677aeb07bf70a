"""A systemd user timer (and the oneshot service it starts) per project.

Units are ``bilateral-<id>.service`` / ``.timer`` in ``$XDG_CONFIG_HOME/systemd/user`` (default
``~/.config/systemd/user``), ``<id>`` derived from the project path; each file starts with the
``# bilateral <project path>`` marker. ``systemctl --user`` is called unless ``BILATERAL_SYSTEMCTL``
(or ``--systemctl-command``) names another command.
"""
from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
from pathlib import Path

from flows.crontab import begin_marker
from flows.errors import BilateralError


class SystemdFailed(BilateralError):
    """systemctl is missing or refused (exit 1)."""


def unit_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", str(Path.home()))) / ".config")
    return Path(base) / "systemd" / "user"


def unit_name(project: str) -> str:
    return "bilateral-" + hashlib.sha256(project.encode()).hexdigest()[:10]


def units(project: str, calendars: list[str], argv: list[str], log: Path) -> dict[str, str]:
    """The service and timer files' text by file name."""
    name = unit_name(project)
    marker = begin_marker(project)
    service = "\n".join([
        marker,
        "# written by `bilateral schedule install --systemd`; `bilateral schedule remove --systemd` deletes it",
        "[Unit]",
        f"Description=bilateral nightly run ({project})",
        "",
        "[Service]",
        "Type=oneshot",
        f"WorkingDirectory={project}",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in argv),
        f"StandardOutput=append:{log}",
        f"StandardError=append:{log}",
        ""])
    timer = "\n".join([
        marker,
        "# written by `bilateral schedule install --systemd`; `bilateral schedule remove --systemd` deletes it",
        "[Unit]",
        f"Description=bilateral nightly schedule ({project})",
        "",
        "[Timer]",
        *(f"OnCalendar={c}" for c in calendars),
        "Persistent=true",  # a night missed while the machine was off runs at the next boot
        f"Unit={name}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        ""])
    return {f"{name}.service": service, f"{name}.timer": timer}


def _systemd_quote(arg: str) -> str:
    """Quoting for ExecStart= (systemd.service(5)): double quotes, backslash escapes, % doubled."""
    arg = arg.replace("%", "%%")
    if arg and all(c.isalnum() or c in "/._-=:,+@" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemctl(command: str, *args: str) -> subprocess.CompletedProcess:
    argv = [*shlex.split(command), "--user", *args]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        raise SystemdFailed(f"no `{argv[0]}` command here: use the crontab (without --systemd), or name the "
                            "command with BILATERAL_SYSTEMCTL / --systemctl-command") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SystemdFailed(f"`{' '.join(argv)}` failed: {exc}") from None
    return done


def _check(done: subprocess.CompletedProcess) -> None:
    if done.returncode != 0:
        raise SystemdFailed(f"`{' '.join(done.args)}` failed (exit {done.returncode}): "
                            f"{(done.stderr or done.stdout).strip()} (is a user systemd running? "
                            "`loginctl enable-linger $USER` keeps it running without a login)")


def install(command: str, project: str, files: dict[str, str], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in files.items():
        path = directory / file_name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    _check(_systemctl(command, "daemon-reload"))
    _check(_systemctl(command, "enable", "--now", f"{unit_name(project)}.timer"))
    return written


def remove(command: str, project: str, directory: Path) -> list[Path]:
    """Disable and delete our units; [] when there were none."""
    name = unit_name(project)
    paths = [p for p in (directory / f"{name}.timer", directory / f"{name}.service") if p.exists()
             and p.read_text(encoding="utf-8").startswith(begin_marker(project))]
    if not paths:
        return []
    _systemctl(command, "disable", "--now", f"{name}.timer")  # already stopped or unknown: deleting is enough
    for path in paths:
        path.unlink()
    _check(_systemctl(command, "daemon-reload"))
    return paths


def show(command: str, project: str, directory: Path) -> tuple[dict[Path, str], str]:
    """Our unit files' text and what systemctl says of the timer ('' when there are no units)."""
    name = unit_name(project)
    files = {p: p.read_text(encoding="utf-8") for p in (directory / f"{name}.timer", directory / f"{name}.service")
             if p.exists()}
    if not files:
        return {}, ""
    try:
        done = _systemctl(command, "list-timers", "--all", f"{name}.timer")
    except SystemdFailed as exc:
        return files, str(exc)
    return files, (done.stdout or done.stderr).strip()
