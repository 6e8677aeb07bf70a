"""UN Comtrade API v1 (flows/sources/comtrade/README.md): final goods data, HS as reported.

Two modes, chosen by ``sources.comtrade.api_mode`` (default ``auto``: keyed when a key is set):

- **keyed** ``GET {base}/data/v1/get/C/{A|M}/HS?...`` with the subscription key from the environment
  variable named by ``api_key_env`` (``COMTRADE_API_KEY``) or the Prefect Secret block named by
  ``api_key_secret_block``; sent as the ``Ocp-Apim-Subscription-Key`` header (``auth = "header"``)
  or the ``subscription-key`` query parameter (``auth = "query"``, redacted everywhere). Comma lists
  of periods, partners, flows and commodities; up to ``max_records`` rows per call (free tier 100k).
- **preview** ``GET {base}/public/v1/preview/C/{A|M}/HS?...``: no key, ONE period per call, at most
  500 rows per call (a comma list of periods is HTTP 400).
- ``auto`` also picks keyed when replaying a recording made in keyed mode (the bundled sample is one).

Every request pins ``partner2Code=0, customsCode=C00, motCode=0`` (the totals rows; breakdowns
would double count). Work is partitioned reporter x year (``A-2023-CAN``, ``M-2025-CAN``); inside a
partition, requests are split by commodity group: ``TOTAL`` (with World and the transit partners,
all flows M, X, RM, RX) and HS chapters + listed products (focus partners, flows M and X). Monthly
requests always ask for the calendar year's twelve months so request keys do not depend on the
run date. A group is split further (commodities, then periods, partners, flows) until its upper-
bound row estimate fits the cap and its URL fits ``max_url_length``; a response that returns
exactly the cap is treated as truncated (file rejected) and split again.

Errors: 429/5xx are retried by the shared HttpClient (Retry-After honoured); 403 "Out of call
volume quota" raises QuotaExhausted with the reset time and stops the source for the night;
401 (bad or missing key) raises ApiErrorBody and also stops the source; HTTP 200 with ``count: 0``
is a note ("no data published yet"), not an error.

Incremental state (``audit.source_state``): key ``A:CAN:2023`` / ``M:CAN:2025`` -> comma list of
periods that returned data. Each night re-fetches the last ``revision_years`` years /
``revision_months`` months plus anything never loaded; ``backfill`` fetches the given range.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from flows.countries import countries, lookup
from flows.errors import ApiErrorBody, MalformedResponse, QuotaExhausted, SourceError
from flows.http import HttpResponse, build_url
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings

if TYPE_CHECKING:
    from flows.config import Config
    from flows.landing import Lander

KIND = "comtrade_record"
PREVIEW_CAP = 500
ALL_FLOWS = ("M", "X", "RM", "RX")
MAIN_FLOWS = ("M", "X")
#: every HS chapter Comtrade publishes (HS.json aggrLevel 2: 01-97 and 99; 77 is reserved but listed)
HS_CHAPTERS = tuple(f"{i:02d}" for i in range(1, 98)) + ("99",)
#: HS lines of the dated tariff measures (docs/sources/tariffs.md; steel/aluminum 72/73/76 are chapters anyway)
DEFAULT_PRODUCTS = [
    "870340", "870360", "870370", "870380",  # EVs and plug-in hybrids (Canada's 100% surtax, 2024-10-01)
    "120510",  # canola (low erucic rape) seed (China's 75.8% deposit, 2025-08-14)
    "1514",  # rapeseed / canola oil (China +100%, 2025-03-20)
    "230649",  # rapeseed oil cake / meal (China +100%, 2025-03-20)
    "071310",  # dried peas (China +100%, 2025-03-20)
    "0203",  # pork (China +25%, 2025-03-20)
    "030612", "030614", "030632", "030633",  # lobsters and crabs (China +25%, 2025-03-20)
]
#: Comtrade's static reference lists (no key), refreshed on request into the landing zone
REFERENCE_FILES = ("Reporters.json", "partnerAreas.json", "HS.json")
_QUOTA_RE = re.compile(r"replenished in (\d+):(\d{2}):(\d{2})")
#: query parameters that carry the key (auth = "query"): redacted, never part of a recording key
SECRET_PARAMS = ("subscription-key",)
FlowCode = Literal["M", "X", "RM", "RX", "DX", "FM"]
_ISO3 = r"^[A-Z]{3}$"
#: HS code of a product option: a chapter, heading or subheading (2, 4 or 6 digits)
_HS_CODE = r"^[0-9]{2}([0-9]{2}){0,2}$"


@dataclass(frozen=True)
class RequestSpec:
    """One API call: a reporter, periods, partners, flows and commodities."""

    freq: str  # A | M
    reporter: int
    periods: tuple[str, ...]
    partners: tuple[int, ...]
    flows: tuple[str, ...]
    cmds: tuple[str, ...]
    group: str  # total | products

    def estimate(self) -> int:
        """Upper bound of the rows the call can return."""
        return len(self.periods) * len(self.partners) * len(self.flows) * len(self.cmds)

    def split(self) -> list["RequestSpec"]:
        """Two halves along the widest splittable dimension; [] when nothing can be split."""
        for dim in ("cmds", "periods", "partners", "flows"):
            values = getattr(self, dim)
            if len(values) > 1:
                mid = (len(values) + 1) // 2
                return [replace(self, **{dim: values[:mid]}), replace(self, **{dim: values[mid:]})]
        return []


class ComtradeSettings(SourceSettings):
    base_url: str = "https://comtradeapi.un.org"
    timeout_seconds: float = Field(60.0, gt=0)
    min_interval_seconds: float = Field(1.5, ge=0)
    api_key_env: str = "COMTRADE_API_KEY"
    api_mode: Literal["auto", "keyed", "preview"] = Field(
        "auto", description="auto: keyed when a key is set (or a keyed recording replays), else preview")
    auth: Literal["header", "query"] = Field("header", description="how the key is sent")
    freqs: list[Literal["A", "M"]] = Field(default_factory=lambda: ["A", "M"], min_length=1)
    flows: list[FlowCode] = Field(default_factory=lambda: list(ALL_FLOWS), min_length=1)
    products: list[str] = Field(default_factory=lambda: list(DEFAULT_PRODUCTS),
                                description="HS codes fetched besides the chapters (2, 4 or 6 digits)")
    transit_partners: list[str] = Field(default_factory=lambda: ["HKG"], description="ISO3 codes")
    monthly_months: int = Field(24, ge=1, le=120)
    monthly_history_start: int = Field(
        0, ge=0, le=2100,
        description="first year of the monthly history asked once per reporter x year (a first run, a new "
                    "country) and on --full-refresh, never before years.start; 0 = only the monthly window")
    revision_years: int = Field(2, ge=0)
    revision_months: int = Field(6, ge=0)
    max_records: int = Field(100000, ge=1, le=250000, description="row cap per keyed call")
    max_url_length: int = Field(4000, ge=200, le=4096)
    refresh_reference: bool = False

    @field_validator("products")
    @classmethod
    def _hs_codes(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not re.fullmatch(_HS_CODE, c)]
        if bad:
            raise ValueError(f"not HS codes of 2, 4 or 6 digits: {bad}")
        return value

    @field_validator("transit_partners")
    @classmethod
    def _iso3(cls, value: list[str]) -> list[str]:
        bad = [c for c in value if not re.fullmatch(_ISO3, c) or c not in countries()]
        if bad:
            raise ValueError(f"unknown ISO3 country codes: {bad}")
        return value


def code(iso3: str) -> int:
    return lookup(iso3).comtrade_code


class RequestPlanner:
    """The calls for a partition and their URLs, in one mode (keyed or preview): pure, no HTTP."""

    def __init__(self, config: "Config", settings: ComtradeSettings, mode: str, api_key: str | None = None) -> None:
        self.config, self.settings, self.mode, self.api_key = config, settings, mode, api_key

    @property
    def cap(self) -> int:
        return PREVIEW_CAP if self.mode == "preview" else int(self.settings.max_records)

    def partner_codes(self, reporter_iso3: str, group: str) -> tuple[int, ...]:
        others = [code(c) for c in self.config.countries if c != reporter_iso3]
        if group == "total":
            transit = [code(c) for c in self.settings.transit_partners if c not in self.config.countries]
            return tuple(dict.fromkeys([0, *others, *transit]))
        return tuple(others)

    def plan(self, params: dict) -> list[RequestSpec]:
        """The calls of one partition, each within the row cap and the URL length limit."""
        freq, year, iso3 = params["freq"], params["year"], params["reporter"]
        reporter = code(iso3)
        if self.mode == "preview":
            period_sets = [(x,) for x in params["periods"]]
        elif freq == "M":
            period_sets = [tuple(f"{year}{m:02d}" for m in range(1, 13))]  # stable keys; unpublished months are absent
        else:
            period_sets = [tuple(params["periods"])]
        flows = tuple(self.settings.flows)
        main_flows = tuple(f for f in MAIN_FLOWS if f in flows)
        cmds = tuple(dict.fromkeys([*HS_CHAPTERS, *self.settings.products]))
        specs = []
        for periods in period_sets:
            specs.append(RequestSpec(freq, reporter, periods, self.partner_codes(iso3, "total"), flows, ("TOTAL",), "total"))
            if main_flows and len(self.config.countries) > 1:
                specs.append(RequestSpec(freq, reporter, periods, self.partner_codes(iso3, "products"), main_flows,
                                         cmds, "products"))
        return [s for spec in specs for s in self._fit(spec)]

    def _fit(self, spec: RequestSpec) -> list[RequestSpec]:
        """Split until the URL fits ``max_url_length`` and the upper-bound row estimate (one row per
        period x partner x flow x commodity with the totals filter pinned) stays below the cap."""
        too_long = len(self.url(spec)) > int(self.settings.max_url_length)
        if not (too_long or spec.estimate() >= self.cap):
            return [spec]
        halves = spec.split()
        if not halves:
            if too_long:
                raise MalformedResponse(self.settings.name, self.url(spec), "a single-value request exceeds the URL "
                                        "length limit", "raise sources.comtrade.max_url_length")
            return [spec]
        return [s for half in halves for s in self._fit(half)]

    def url(self, spec: RequestSpec) -> str:
        path = f"{'public/v1/preview' if self.mode == 'preview' else 'data/v1/get'}/C/{spec.freq}/HS"
        params: dict[str, object] = {
            "reporterCode": spec.reporter, "period": ",".join(spec.periods),
            "partnerCode": ",".join(map(str, spec.partners)), "partner2Code": 0,
            "cmdCode": ",".join(spec.cmds), "flowCode": ",".join(spec.flows),
            "customsCode": "C00", "motCode": 0, "maxRecords": self.cap, "format": "JSON",
            "includeDesc": "true", "breakdownMode": "classic",
        }
        if self.mode == "keyed" and self.settings.auth == "query":
            params["subscription-key"] = self.api_key or ""
        return build_url(self.settings.base_url, path, params)


def partitions(config: "Config", settings: ComtradeSettings, run_date: date, state: dict[str, str],
               full_refresh: bool = False, backfill: tuple[date, date] | None = None) -> list[Partition]:
    """Tonight's reporter x year partitions: periods never loaded, periods in the revision window,
    or everything in a full refresh / backfill range. Monthly history years (``monthly_history_start``
    up to the window) are asked once per reporter: when the year has no state yet (a first run, a new
    country, an earlier history start) or in a full refresh."""
    parts: list[Partition] = []
    if settings.refresh_reference:
        parts.append(Partition(settings.name, "reference", "reference", {"reference": list(REFERENCE_FILES)}))
    for freq in settings.freqs:
        by_year: dict[int, list[str]] = {}
        for p in wanted_periods(config, settings, run_date, freq, backfill):
            by_year.setdefault(int(p[:4]), []).append(p)
        history = [] if (backfill or freq != "M") else history_years(config, settings, run_date)
        for year in history:
            by_year.setdefault(year, [f"{year}{m:02d}" for m in range(1, 13)])
        for year, periods in sorted(by_year.items()):
            for iso3 in config.countries:
                state_key = f"{freq}:{iso3}:{year}"
                if year in history and state_key in state and not full_refresh:
                    continue  # history already asked for (with or without data); backfill fetches it again
                loaded = set(filter(None, state.get(state_key, "").split(",")))
                need = [p for p in periods
                        if full_refresh or backfill or p not in loaded or _revisable(settings, run_date, freq, p)]
                if not need:
                    continue
                params = {"freq": freq, "year": year, "reporter": iso3, "periods": need,
                          "state_key": state_key, "loaded": sorted(loaded)}
                if year in history:
                    params["history"] = True
                parts.append(Partition(settings.name, f"{freq}-{year}-{iso3}", f"{freq}{year}", params))
    return parts


def history_years(config: "Config", settings: ComtradeSettings, run_date: date) -> list[int]:
    """Years of monthly history before the monthly window: from ``monthly_history_start`` (never before
    ``years.start``) to the year before the window's first year; [] when the option is 0."""
    start = int(settings.monthly_history_start)
    window = monthly_window(settings, run_date)
    if not start or not window:
        return []
    return list(range(max(start, config.start_year), int(window[0][:4])))


def monthly_window(settings: ComtradeSettings, run_date: date) -> list[str]:
    """Months kept current (YYYYMM, oldest first): at least the last ``monthly_months`` months before
    the run month, widened to whole calendar years (so year-on-year changes and the dated measures
    of the first window year are covered, and one keyed request per year serves them all)."""
    n = int(settings.monthly_months)
    last = run_date.year * 12 + run_date.month - 2  # month before the run month, 0-based
    first_year = (last - (n - 1)) // 12
    return [f"{i // 12}{i % 12 + 1:02d}" for i in range(first_year * 12, last + 1)]


def wanted_periods(config: "Config", settings: ComtradeSettings, run_date: date, freq: str,
                   backfill: tuple[date, date] | None = None) -> list[str]:
    """Periods tonight may fetch, before state is consulted (monthly history years: history_years)."""
    if backfill:
        first, last = backfill
        if freq == "A":
            return [str(y) for y in range(first.year, last.year + 1)]
        out, y, m = [], first.year, first.month
        while (y, m) <= (last.year, last.month):
            out.append(f"{y}{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return out
    if freq == "A":
        return [str(y) for y in range(config.start_year, config.end_year + 1)]
    return monthly_window(settings, run_date)


def _revisable(settings: ComtradeSettings, run_date: date, freq: str, period: str) -> bool:
    if freq == "A":
        return int(period) >= run_date.year - int(settings.revision_years)
    y, m = int(period[:4]), int(period[4:])
    months_back = (run_date.year - y) * 12 + (run_date.month - m)
    return months_back <= int(settings.revision_months)


class ComtradeConnector(Connector):
    source: ComtradeSettings

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._key: str | None = None
        self._key_loaded = False

    def api_key(self) -> str | None:
        if not self._key_loaded:
            self._key, self._key_loaded = self.source.api_key(), True
        return self._key

    @property
    def mode(self) -> str:
        """keyed | preview. ``auto``: keyed when a key is set, or when replaying a recording that was
        made in keyed mode (replay needs no key); the public preview endpoint otherwise."""
        mode = self.source.api_mode
        if mode == "auto":
            return "keyed" if self.api_key() or self._replays_keyed() else "preview"
        return mode

    def _replays_keyed(self) -> bool:
        keys = self.client.recorded_keys()
        return bool(keys) and any(k.startswith("data/v1/get/") for k in keys)

    @property
    def planner(self) -> RequestPlanner:
        return RequestPlanner(self.config, self.source, self.mode, self.api_key())

    @property
    def cap(self) -> int:
        return self.planner.cap

    def monthly_window(self) -> list[str]:
        return monthly_window(self.source, self.run_date)

    def partitions(self) -> list[Partition]:
        return partitions(self.config, self.source, self.run_date, self.state, self.full_refresh, self.backfill)

    def plan(self, partition: Partition) -> list[RequestSpec]:
        return self.planner.plan(partition.params)

    def url(self, spec: RequestSpec) -> str:
        return self.planner.url(spec)

    def _headers(self) -> dict[str, str]:
        if self.mode == "keyed" and self.source.auth == "header":
            key = self.api_key()
            if key:
                return {"Ocp-Apim-Subscription-Key": key}
        return {}

    # --- extraction ------------------------------------------------------------------------------
    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        self.circuit.check(partition.period)  # a network trip of this very period lets its retry try again
        if self.mode == "keyed" and not self.api_key() and not self._replays_keyed():
            raise ApiErrorBody(self.name, self.source.base_url, "api_mode is 'keyed' but no API key is set",
                               f"set {self.source.api_key_env or 'COMTRADE_API_KEY'} or use api_mode = 'auto'")
        result = ExtractResult(self.name, partition.key, partition.period)
        if "reference" in partition.params:
            return self._refresh_reference(partition, lander, result)
        with_data: set[str] = set()
        queue = list(self.plan(partition))
        while queue:
            spec = queue.pop(0)
            url = self.url(spec)
            resp = self.client.get(url, headers=self._headers())
            landed = lander.land(resp, KIND)
            result.files.append(landed)
            try:
                doc = parse_response(resp)
            except SourceError as exc:
                lander.reject(landed, exc.problem)
                if isinstance(exc, QuotaExhausted) or resp.status == 401:
                    self.circuit.trip(exc)  # no further call can succeed tonight: stop every partition
                raise
            rows = doc["data"]
            if len(rows) >= self.cap:
                halves = spec.split()
                if not halves:
                    lander.reject(landed, f"truncated: {len(rows)} rows = the {self.cap}-row cap")
                    raise MalformedResponse(self.name, resp.redacted_url,
                                            f"a single-value request returned the {self.cap}-row cap: the answer is truncated",
                                            "raise sources.comtrade.max_records (premium keys allow 250000)")
                lander.reject(landed, f"truncated: {len(rows)} rows = the {self.cap}-row cap; re-fetched as {len(halves)} smaller requests")
                result.notes.append(f"{partition.key}: {spec.group} answer hit the {self.cap}-row cap; split")
                queue[:0] = halves
                continue
            if not rows:
                result.notes.append(f"{partition.key}: no data published yet for {spec.group} "
                                    f"periods {','.join(spec.periods)} (HTTP 200, count 0)")
                continue
            result.records += len(rows)
            with_data.update(str(r.get("period")) for r in rows if isinstance(r, dict))
        loaded = set(partition.params.get("loaded", [])) | (with_data & set(partition.params["periods"]))
        if with_data:
            result.state_updates[partition.params["state_key"]] = ",".join(sorted(loaded))
        elif partition.params.get("history"):
            # a history year is asked once: its state key records that, even when it had no monthly
            # data (a reporter publishing annual data only); bilateral backfill asks again
            result.state_updates[partition.params["state_key"]] = ",".join(sorted(loaded))
        return result

    def _refresh_reference(self, partition: Partition, lander: "Lander", result: ExtractResult) -> ExtractResult:
        """Fetch Comtrade's reference lists and land them for inspection (kind "": not loaded). bilateral
        keeps using its shipped lists until someone reviews and copies a new list there."""
        for name in partition.params["reference"]:
            resp = self.client.get(self.client.url(f"files/v1/app/reference/{name}"))
            landed = lander.land(resp, "")
            result.files.append(landed)
            try:
                doc = json.loads(resp.body.decode("utf-8-sig")) if resp.status == 200 else None
            except (ValueError, UnicodeDecodeError):
                doc = None
            if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
                lander.reject(landed, f"HTTP {resp.status}: not a reference list {{results: [...]}}")
                result.notes.append(f"reference {name}: could not be refreshed (HTTP {resp.status})")
                continue
            result.notes.append(f"reference {name}: {len(doc['results'])} entries landed at {landed.path}; "
                                f"compare with flows/sources/comtrade/reference/ before adopting")
        return result


def parse_response(resp: HttpResponse) -> dict:
    """Check one answer's status and envelope. Returns the envelope with ``data`` a list.
    Raises QuotaExhausted (403 quota), ApiErrorBody (401, other 4xx, error bodies) or MalformedResponse."""
    src, where = "comtrade", resp.redacted_url
    text = resp.text()
    message = _message(text)
    if resp.status == 401:
        raise ApiErrorBody(src, where, f"HTTP 401 (subscription key missing or invalid): {message!r}",
                           "set COMTRADE_API_KEY (sources.comtrade.api_key_env) to a valid key, "
                           "or unset it to use the public preview endpoint; the source is stopped for tonight")
    if resp.status == 403:
        m = _QUOTA_RE.search(message)
        if m or "quota" in message.lower():
            reset = ""
            if m:
                h, mi, s = (int(x) for x in m.groups())
                at = datetime.now(timezone.utc) + timedelta(hours=h, minutes=mi, seconds=s)
                reset = f"; quota resets at {at.strftime('%Y-%m-%d %H:%M')} UTC (in {h:02d}:{mi:02d}:{s:02d})"
            raise QuotaExhausted(src, where, f"HTTP 403, call quota exhausted: {message!r}{reset}",
                                 "Comtrade is stopped for tonight; the next nightly run continues where this one stopped")
        raise ApiErrorBody(src, where, f"HTTP 403: {message!r}",
                           "the key may not be subscribed to the 'comtrade - v1' product")
    if resp.status != 200:
        hint = ("the request URL is too long: lower sources.comtrade.max_url_length"
                if "too long" in text.lower() else "check the request parameters")
        raise ApiErrorBody(src, where, f"HTTP {resp.status}: {message!r}", hint)
    try:
        doc = json.loads(resp.body.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(src, where, f"body is not valid JSON ({exc}): {text[:120]!r}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise MalformedResponse(src, where, "expected an object {count, data: [...], error}; got "
                                + (f"keys {sorted(doc)}" if isinstance(doc, dict) else type(doc).__name__))
    if doc.get("error"):
        raise ApiErrorBody(src, where, f"API error body with HTTP 200: {doc['error']!r}", "check the request parameters")
    return doc


def _message(text: str) -> str:
    """The human message of an APIM/Comtrade error body (JSON ``message``/``errorObject``), else the text."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if isinstance(doc, dict):
        if isinstance(doc.get("errorObject"), dict):
            return str(doc["errorObject"].get("errorMessage", doc))[:300]
        for k in ("message", "error", "Message"):
            if doc.get(k):
                return str(doc[k])[:300]
    return text.strip()[:300]


__all__ = ["ComtradeConnector", "ComtradeSettings", "RequestPlanner", "RequestSpec", "parse_response", "KIND"]
