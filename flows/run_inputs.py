"""Checks of a run's inputs, made before any work (no lock taken, nothing fetched or loaded): a
refused input exits 2 with one message naming the input, what is wrong and what to do.

- the run date: not after today in ``schedule.timezone`` (a night of the future would fetch
  nothing real and could leave rows a later night publishes), not before ``years.start``;
- a backfill's range: ordered, within the same bounds;
- the sources: known;
- ``--replay DIR``: a directory holding a recording (``DIR/<source>/index.jsonl`` with at least one
  request) for every selected source.
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flows.config import Config, ConfigError


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def check_run_inputs(config: Config, mode: str, run_date: date | None, replay_dir: str | None = None,
                     sources: list[str] | None = None, backfill: tuple[date, date] | None = None) -> None:
    """Raise ConfigError for the first input that cannot make a run."""
    today = today_in(config.schedule_timezone)
    if run_date is not None:
        _check_day("--date", run_date, today, config)
    if backfill is not None:
        start, end = backfill
        if start > end:
            raise ConfigError(f"--from {start} is after --to {end}; give the range oldest first")
        _check_day("--from", start, today, config)
        _check_day("--to", end, today, config)
    selected = check_sources(config, sources)
    if mode == "replay":
        check_replay_dir(replay_dir, selected)


def _check_day(flag: str, day: date, today: date, config: Config) -> None:
    if day > today:
        raise ConfigError(f"{flag} {day} is in the future (today is {today} in {config.schedule_timezone}, "
                          "schedule.timezone); a night can only be run for today or a day before")
    if day.year < config.start_year:
        raise ConfigError(f"{flag} {day} is before years.start = {config.start_year}; give a later date or "
                          f"lower years.start in {config.path}")


def check_sources(config: Config, sources: list[str] | None) -> list[str]:
    """The selected sources (all enabled ones when none is given); unknown ones refused."""
    if not sources:
        return list(config.enabled_sources)
    unknown = [s for s in sources if s not in config.sources]
    if unknown:
        raise ConfigError(f"--sources: unknown source(s) {', '.join(unknown)}; allowed: {', '.join(config.sources)}")
    return list(sources)


def check_replay_dir(replay_dir: str | None, sources: list[str]) -> None:
    if not replay_dir:
        raise ConfigError("--replay needs a recording directory (written by `bilateral record --out DIR`)")
    root = Path(replay_dir)
    if not root.is_dir():
        raise ConfigError(f"--replay {replay_dir}: no such directory; record one with `bilateral record --out DIR`")
    held = [s for s in sources if _has_recording(root / s)]
    missing = [s for s in sources if s not in held]
    if missing:
        what = f"it holds recordings for {', '.join(held)}" if held else "it holds no recording at all"
        hint = f"run with --sources {','.join(held)}, " if held else ""
        raise ConfigError(f"--replay {replay_dir}: no recording for {', '.join(missing)} ({what}: "
                          f"expected {root / missing[0] / 'index.jsonl'}); {hint}record them with "
                          f"`bilateral record --out {replay_dir} --sources {','.join(missing)}`, or run --sample")


def _has_recording(source_dir: Path) -> bool:
    index = source_dir / "index.jsonl"
    try:
        with index.open(encoding="utf-8") as fh:
            return any(line.strip() for line in fh)
    except OSError:
        return False
