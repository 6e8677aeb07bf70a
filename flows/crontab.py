"""The user's crontab, edited through the ``crontab`` command: one marked block per project.

The block starts with ``# bilateral <project path>`` and ends with ``# end bilateral <project path>``;
installing replaces that block (never duplicates it) and keeps every other line; removing deletes only
it. The command is ``crontab`` unless ``BILATERAL_CRONTAB`` (or ``--crontab-command``) names another
(tests use a script writing a file). ``crontab -l`` lists, ``crontab -`` installs from standard input.
"""
from __future__ import annotations

import shlex
import subprocess

from flows.errors import BilateralError


class CrontabFailed(BilateralError):
    """The crontab command is missing or refused (exit 1)."""


def begin_marker(project: str) -> str:
    return f"# bilateral {project}"


def end_marker(project: str) -> str:
    return f"# end bilateral {project}"


def _call(command: str, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    argv = [*shlex.split(command), *args]
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise CrontabFailed(f"no `{argv[0]}` command here: install cron (or use --systemd, or name the command "
                            "with BILATERAL_CRONTAB / --crontab-command)") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CrontabFailed(f"`{' '.join(argv)}` failed: {exc}") from None


def read(command: str) -> str:
    """The current crontab ('' when the user has none)."""
    done = _call(command, ["-l"])
    if done.returncode == 0:
        return done.stdout
    if "no crontab" in (done.stderr + done.stdout).lower():
        return ""
    raise CrontabFailed(f"`{command} -l` failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def write(command: str, text: str) -> None:
    done = _call(command, ["-"], stdin=text)
    if done.returncode != 0:
        raise CrontabFailed(f"`{command} -` refused the new crontab (exit {done.returncode}): "
                            f"{done.stderr.strip() or done.stdout.strip()}")


def split_block(text: str, project: str) -> tuple[list[str], list[str]]:
    """(the other lines, our block's lines) of a crontab."""
    others: list[str] = []
    block: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == begin_marker(project):
            inside = True
        if inside:
            block.append(line)
        else:
            others.append(line)
        if inside and line.strip() == end_marker(project):
            inside = False
    return others, block


def block(project: str, cron: str, timezone: str, command: str) -> list[str]:
    """Our block. CRON_TZ applies to the lines below it, so the block sits last in the crontab."""
    return [begin_marker(project),
            "# written by `bilateral schedule install`; `bilateral schedule remove` deletes it; keep it last",
            f"CRON_TZ={timezone}",
            f"{cron} {command.replace('%', chr(92) + '%')}",
            end_marker(project)]


def install(command: str, project: str, lines: list[str]) -> str:
    """Replace (or add) our block, last; returns the new crontab."""
    others, _ = split_block(read(command), project)
    while others and not others[-1].strip():
        others.pop()
    text = "\n".join([*others, *([""] if others else []), *lines]) + "\n"
    write(command, text)
    return text


def remove(command: str, project: str) -> bool:
    """Delete our block; False when there was none (nothing is written then)."""
    others, ours = split_block(read(command), project)
    if not ours:
        return False
    while others and not others[-1].strip():
        others.pop()
    write(command, "\n".join(others) + "\n" if others else "")
    return True


def show(command: str, project: str) -> list[str]:
    return split_block(read(command), project)[1]
