"""The contract every source package follows.

A source is one package ``flows/sources/<name>/`` (or a third-party package registered under the
``bilateral.sources`` entry-point group) whose ``__init__.py`` exports ``SOURCE = Source(...)``:

- ``settings``: a :class:`SourceSettings` subclass: the ``[sources.<name>]`` table of
  ``bilateral.toml`` with its typed options, defaults and allowed values (pydantic; checked when the
  configuration loads, before any work).
- ``connector``: a :class:`Connector` subclass that knows the source's HTTP API and payload format,
  nothing about DuckDB or dbt:

  - ``partitions()`` splits tonight's work into coarse, independent units (one request group each,
    e.g. one indicator, one reporter-year); ``Partition.period`` groups them into one Prefect task
    per source x period.
  - ``extract(partition, lander)`` builds the requests, fetches them through ``self.client``
    (timeouts, retries, backoff with jitter, Retry-After and pacing live there), hands every raw
    payload to ``lander.land(response, kind)`` *before* inspecting it, follows pagination to the
    end, and raises a ``SourceError`` subclass for error bodies (including HTTP 200 ones) or
    malformed payloads. ``kind`` names the load spec (and so the raw table) the file feeds.
  - A partition is atomic: if ``extract`` raises, none of its files are loaded.

- ``load_specs``: how each landed kind becomes rows of its raw table (:mod:`flows.sources.loadspec`);
  ``unloaded_kinds`` are landed for the record only (e.g. manifests).
- ``sample``: ``generate(SampleContext)`` writes the bundled sample as a recording, under the
  request keys the connector's own URL functions compute (no HTTP client needed).
- ``cadence``: how often the source publishes and how late (:class:`Cadence`); ``bilateral status``
  measures freshness against it. ``watermark(state)`` says how far the recorded state reaches.

``state`` is a read-only snapshot of what earlier runs recorded for the source (watermarks, loaded
periods); ``ExtractResult.state_updates`` are written after the partition loads. ``backfill`` is
``(first_day, last_day)`` for ``bilateral backfill --from --to``. ``full_refresh`` asks for
everything in the configured years, ignoring state. ``circuit`` is shared by every task of the
source in one run: a connector trips it when an answer means no further request can succeed
tonight (quota exhausted, key refused).
"""
from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from flows.errors import SourceError
from flows.sources.loadspec import LoadSpec

if TYPE_CHECKING:  # imported for annotations only: config imports the sources, not the other way round
    from flows.config import Config
    from flows.http import HttpClient
    from flows.landing import Lander, LandedFile
    from flows.recording import RecordingWriter


class SourceSettings(BaseModel):
    """``[sources.<name>]``: what every source has. A source subclasses it to add its own options
    (typed fields with defaults) and to override defaults such as ``base_url``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enabled: bool = Field(True, description="run this source")
    base_url: str = Field(description="API root; a mirror or a local server works")
    timeout_seconds: float = Field(30.0, gt=0, description="per request")
    max_retries: int = Field(4, ge=0, description="retries of a request on network errors, 429 and 5xx")
    backoff_seconds: float = Field(2.0, ge=0, description="first retry delay; doubles each retry, with jitter")
    min_interval_seconds: float = Field(0.0, ge=0, description="pacing between live requests")
    api_key_env: str = Field("", description="environment variable holding the API key (never the key itself)")
    api_key_secret_block: str = Field("", description="Prefect Secret block holding the API key")
    max_bad_record_share: float = Field(0.01, ge=0, le=1, description=(
        "share of a file's records that may break the record contract (quarantined one by one); above it "
        "the file is refused whole: format drift rather than bad records"))

    _name: str = PrivateAttr("")

    @property
    def name(self) -> str:
        return self._name

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError("a base URL contains no spaces or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("expected an http(s) URL with a host")
        if ".." in parts.path.split("/"):
            raise ValueError("a base URL must not contain '..' path segments")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("a base URL carries no credentials, query or fragment")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError("expected the name of an environment variable (letters, digits, underscores), "
                             "e.g. COMTRADE_API_KEY")
        return value

    @field_validator("api_key_secret_block")
    @classmethod
    def _block_name(cls, value: str) -> str:
        # the name becomes part of a Prefect API path: Prefect's own rule for block names
        if not re.fullmatch(r"[a-z0-9-]*", value):
            raise ValueError("expected a Prefect block name (lower-case letters, digits, dashes), e.g. comtrade-api-key")
        return value

    def api_key(self) -> str | None:
        """The source's API key from its environment variable, else its Prefect Secret block, else None."""
        if self.api_key_env and os.environ.get(self.api_key_env):
            return os.environ[self.api_key_env]
        if self.api_key_secret_block:
            from prefect.blocks.system import Secret

            try:
                return Secret.load(self.api_key_secret_block).get()
            except ValueError:
                return None
        return None


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
    files: list["LandedFile"] = field(default_factory=list)
    records: int = 0
    notes: list[str] = field(default_factory=list)
    error: str = ""
    state_updates: dict[str, str] = field(default_factory=dict)
    #: some of the partition's data was not updated tonight (a best-effort source's failed series)
    stale: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


class Circuit:
    """Shared by every extract task of one source in one run. ``trip`` records the answer that makes
    further requests pointless; ``check`` raises it for later partitions. A trip tied to a
    ``period`` (network outage) lets that period's own Prefect retry try again; one without
    (quota exhausted, key refused) stops the source for the night."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._tripped: tuple[str | None, SourceError] | None = None

    def trip(self, exc: SourceError, period: str | None = None) -> None:
        with self._lock:
            if self._tripped is None:
                self._tripped = (period, exc)

    @property
    def tripped(self) -> SourceError | None:
        return self._tripped[1] if self._tripped else None

    def check(self, period: str | None = None) -> None:
        if self._tripped is None:
            return
        tripped_period, exc = self._tripped
        if tripped_period is not None and tripped_period == period:
            return
        earlier = f" (period {tripped_period})" if tripped_period else ""
        # a network trip becomes a plain SourceError: final for this task, never retried by Prefect
        kind = SourceError if tripped_period is not None else type(exc)
        raise kind(self.source, exc.where, f"skipped: the source was stopped for tonight earlier in this run"
                   f"{earlier}: {exc.problem}", exc.hint or "the next nightly run fetches it")


class Connector(ABC):
    def __init__(self, config: "Config", source: SourceSettings, client: "HttpClient", run_date: date,
                 state: dict[str, str] | None = None, full_refresh: bool = False,
                 backfill: tuple[date, date] | None = None, circuit: Circuit | None = None) -> None:
        self.config, self.source, self.client = config, source, client
        self.name = source.name
        self.run_date, self.state, self.full_refresh = run_date, dict(state or {}), full_refresh
        self.backfill = backfill
        self.circuit = circuit or Circuit(self.name)

    @abstractmethod
    def partitions(self) -> list[Partition]:
        """Tonight's units of work, in the order they should run."""

    @abstractmethod
    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        """Fetch one partition, landing every payload; raise SourceError on unusable answers."""


@dataclass(frozen=True)
class SampleContext:
    """What a sample generator gets: the configuration, its source's settings, where the recording
    goes, and the logical run date (for sources whose sample follows the publication calendar)."""

    config: "Config"
    settings: SourceSettings
    out_dir: Path
    run_date: date

    def writer(self) -> "RecordingWriter":
        from flows.recording import RecordingWriter

        return RecordingWriter(self.out_dir, self.settings.name)


@dataclass(frozen=True)
class Cadence:
    """How often a source publishes new data and how late, and so how long its last successful load
    stays fresh. ``bilateral status`` calls a source stale when its last successful load is older
    than ``stale_after``; ``every`` and ``lag`` are shown beside it (the reason for the threshold)."""

    every: str                 # how often new data appears, in words: "15 minutes", "month", "year"
    lag: str                   # how long after its period the data is published, in words
    stale_after: timedelta     # a last successful load older than this is stale

    def describe(self) -> str:
        hours = self.stale_after.total_seconds() / 3600
        limit = f"{hours:g} h" if hours < 72 else f"{hours / 24:g} days"
        return f"new data every {self.every}, published {self.lag}; stale after {limit} without a successful load"


#: a source that declares nothing: loaded every night, stale after a missed night (plus 12 hours)
NIGHTLY = Cadence("night", "by the next night", timedelta(hours=36))


def latest_watermark(state: dict[str, str]) -> str | None:
    """The default watermark: the least advanced ``watermark:<stream>`` value (None without one)."""
    values = [v for k, v in state.items() if k.startswith("watermark") and v]
    return min(values) if values else None


@dataclass(frozen=True)
class Source:
    """Everything bilateral needs to know about one source; exported as ``SOURCE`` by its package."""

    name: str
    summary: str
    settings: type[SourceSettings]
    connector: type[Connector]
    load_specs: tuple[LoadSpec, ...]
    sample: Callable[[SampleContext], None]
    #: kinds landed for the record only, never loaded (manifests, zips whose CSV is loaded)
    unloaded_kinds: tuple[str, ...] = ()
    #: query parameters that carry secrets: redacted in landed URLs, dropped from recording keys
    secret_params: tuple[str, ...] = ()
    #: a best-effort source never stops publication: when it fails it is reported stale (or failed) and
    #: the marts keep its last good data
    best_effort: bool = False
    #: the package directory (README.md, reference/); set by discovery
    package_dir: Path | None = None
    #: publication cadence: what ``bilateral status`` measures freshness against
    cadence: Cadence = NIGHTLY
    #: how far the source's recorded state (``audit.source_state``) reaches, for ``bilateral status``
    watermark: Callable[[dict[str, str]], str | None] = latest_watermark

    @property
    def raw_tables(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(spec.raw_table for spec in self.load_specs))

    @property
    def landed_kinds(self) -> tuple[str, ...]:
        return tuple(spec.kind for spec in self.load_specs) + self.unloaded_kinds

    def load_spec(self, kind: str) -> LoadSpec | None:
        return next((spec for spec in self.load_specs if spec.kind == kind), None)
