"""The contract every source connector follows.

A connector knows its source's HTTP API and payload format, nothing about DuckDB or dbt:

- ``partitions()`` splits tonight's work into coarse, independent units (one request group each,
  e.g. one indicator, one reporter-year); ``Partition.period`` groups them into one Prefect task
  per source x period.
- ``extract(partition, lander)`` builds the requests, fetches them through ``self.client``
  (timeouts, retries, backoff with jitter, Retry-After and pacing live there), hands every raw
  payload to ``lander.land(response, kind)`` *before* inspecting it, follows pagination to the
  end, and raises a ``SourceError`` subclass for error bodies (including HTTP 200 ones) or
  malformed payloads. ``kind`` names the raw table the file feeds (see flows/loaders).
- A partition is atomic: if ``extract`` raises, none of its files are loaded.

``state`` is a read-only snapshot of what earlier runs recorded for this source (watermarks,
loaded periods); ``ExtractResult.state_updates`` are written after the partition loads.
``backfill`` is ``(first_day, last_day)`` when the run is ``bilateral backfill --from --to``:
history instead of tonight's incremental window. ``full_refresh`` asks for everything in the
configured years, ignoring state.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from flows.config import Config, SourceConfig
from flows.http import HttpClient
from flows.landing import Lander, LandedFile


@dataclass(frozen=True)
class Partition:
    source: str
    key: str
    period: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class ExtractResult:
    source: str
    partition: str
    period: str
    files: list[LandedFile] = field(default_factory=list)
    records: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""
    state_updates: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


class Connector(ABC):
    name: ClassVar[str]
    default_base_url: ClassVar[str]
    default_min_interval_seconds: ClassVar[float] = 0.0
    #: source-specific config keys: name -> (type, default); types as in flows.config
    options: ClassVar[dict[str, tuple[Any, Any]]] = {}
    #: query parameters that carry secrets: redacted in landed URLs, dropped from recording keys
    secret_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Config, source: SourceConfig, client: HttpClient, run_date: date,
                 state: dict[str, str] | None = None, full_refresh: bool = False,
                 backfill: tuple[date, date] | None = None) -> None:
        self.config, self.source, self.client = config, source, client
        self.run_date, self.state, self.full_refresh = run_date, dict(state or {}), full_refresh
        self.backfill = backfill

    @abstractmethod
    def partitions(self) -> list[Partition]:
        """Tonight's units of work, in the order they should run."""

    @abstractmethod
    def extract(self, partition: Partition, lander: Lander) -> ExtractResult:
        """Fetch one partition, landing every payload; raise SourceError on unusable answers."""
