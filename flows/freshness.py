"""How fresh each source's data is: hours since its last load, against the thresholds its dbt source
declares (``freshness: warn_after / error_after`` in dbt_project/models/staging/<source>/_<source>.yml;
2 and 8 days where a source declares none). ``bilateral status`` shows it; alerts fire on it.

Levels: ``fresh``, ``late (warn)`` past warn_after, ``stale (error)`` past error_after, ``never loaded``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_WARN_HOURS, DEFAULT_ERROR_HOURS = 48.0, 192.0
FRESH, LATE, STALE, NEVER = "fresh", "late (warn)", "stale (error)", "never loaded"
_HOURS = {"minute": 1 / 60, "hour": 1.0, "day": 24.0}

#: last load per source: the newest loaded file of each source
LAST_LOADS_SQL = """
    select l.source, max(f.loaded_at) as last_loaded, round(epoch(now() - max(f.loaded_at)) / 3600, 1) as hours
    from audit.loaded_files f join audit.landed_files l on l.path = f.path group by l.source"""


@dataclass(frozen=True)
class Thresholds:
    warn_hours: float = DEFAULT_WARN_HOURS
    error_hours: float = DEFAULT_ERROR_HOURS


def _hours(spec: object) -> float | None:
    if not isinstance(spec, dict) or spec.get("period") not in _HOURS or not isinstance(spec.get("count"), (int, float)):
        return None
    return float(spec["count"]) * _HOURS[spec["period"]]


def thresholds(staging_dir: Path) -> dict[str, Thresholds]:
    """The freshness each dbt source declares, by source name (a source missing here gets the defaults)."""
    import yaml

    out: dict[str, Thresholds] = {}
    for path in sorted(Path(staging_dir).glob("*/_*.yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        for source in doc.get("sources") or []:
            fresh = (source.get("config") or {}).get("freshness") or source.get("freshness") or {}
            warn, error = _hours(fresh.get("warn_after")), _hours(fresh.get("error_after"))
            out[source.get("name")] = Thresholds(warn or DEFAULT_WARN_HOURS, error or DEFAULT_ERROR_HOURS)
    return out


def level(hours: float | None, limits: Thresholds) -> str:
    if hours is None:
        return NEVER
    if hours > limits.error_hours:
        return STALE
    if hours > limits.warn_hours:
        return LATE
    return FRESH


@dataclass(frozen=True)
class Freshness:
    source: str
    last_loaded: datetime | None
    hours: float | None
    level: str
    limits: Thresholds


def last_loads(con) -> dict[str, tuple[datetime, float]]:
    """source -> (last load, hours since) from an open connection to the working warehouse."""
    return {source: (loaded, hours) for source, loaded, hours in con.execute(LAST_LOADS_SQL).fetchall()}


def freshness(con, staging_dir: Path, sources: list[str]) -> list[Freshness]:
    limits = thresholds(staging_dir)
    loads = last_loads(con)
    out = []
    for source in sources:
        loaded, hours = loads.get(source, (None, None))
        own = limits.get(source, Thresholds())
        out.append(Freshness(source, loaded, hours, level(hours, own), own))
    return out
