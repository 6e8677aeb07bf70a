"""UN Comtrade API v1 (reference: source-formats.md section 1): final goods data, HS as reported.

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
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from flows.config import ConfigError
from flows.connectors.base import Connector, ExtractResult, Partition
from flows.countries import countries, lookup
from flows.errors import ApiErrorBody, MalformedResponse, QuotaExhausted, SourceError
from flows.http import HttpResponse
from flows.landing import Lander

KIND = "comtrade_record"
PREVIEW_CAP = 500
ALL_FLOWS = ("M", "X", "RM", "RX")
MAIN_FLOWS = ("M", "X")
#: every HS chapter Comtrade publishes (HS.json aggrLevel 2: 01-97 and 99; 77 is reserved but listed)
HS_CHAPTERS = tuple(f"{i:02d}" for i in range(1, 98)) + ("99",)
#: HS lines of the tariff measures in tariff-measures.md (steel/aluminum 72/73/76 are chapters anyway)
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
#: (base_url, run date) -> the answer that stopped the source tonight (quota exhausted, key refused).
#: Process-wide: the flow builds a connector per source x period task, all of them must stop.
_STOPPED: dict[tuple[str, str], SourceError] = {}
_STOPPED_LOCK = threading.Lock()


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


class ComtradeConnector(Connector):
    name = "comtrade"
    default_base_url = "https://comtradeapi.un.org"
    default_min_interval_seconds = 1.5
    options = {
        "api_mode": (str, "auto"),  # auto | keyed | preview
        "auth": (str, "header"),  # header | query
        "freqs": (list, ["A", "M"]),
        "flows": (list, list(ALL_FLOWS)),
        "products": (list, DEFAULT_PRODUCTS),
        "transit_partners": (list, ["HKG"]),
        "monthly_months": (int, 24),
        "revision_years": (int, 2),
        "revision_months": (int, 6),
        "max_records": (int, 100000),
        "max_url_length": (int, 4000),
        "refresh_reference": (bool, False),
    }
    secret_params = ("subscription-key",)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._key: str | None = None
        self._key_loaded = False
        opts = self.source.options
        for f in opts["freqs"]:
            if f not in ("A", "M"):
                raise ConfigError(f"config key 'sources.comtrade.freqs': {f!r} is not A or M")
        for f in opts["flows"]:
            if f not in ("M", "X", "RM", "RX", "DX", "FM"):
                raise ConfigError(f"config key 'sources.comtrade.flows': unknown flow code {f!r}")
        if opts["api_mode"] not in ("auto", "keyed", "preview"):
            raise ConfigError(f"config key 'sources.comtrade.api_mode': {opts['api_mode']!r} is not auto, keyed or preview")
        if opts["auth"] not in ("header", "query"):
            raise ConfigError(f"config key 'sources.comtrade.auth': {opts['auth']!r} is not header or query")

    @property
    def _stop_key(self) -> tuple[str, str]:
        return (self.source.base_url, str(self.run_date))

    # --- mode and codes -------------------------------------------------------------------------
    def api_key(self) -> str | None:
        if not self._key_loaded:
            self._key, self._key_loaded = self.source.api_key(), True
        return self._key

    @property
    def mode(self) -> str:
        """keyed | preview. ``auto``: keyed when a key is set, or when replaying a recording that was
        made in keyed mode (replay needs no key); the public preview endpoint otherwise."""
        mode = self.source.options["api_mode"]
        if mode == "auto":
            return "keyed" if self.api_key() or self._replays_keyed() else "preview"
        return mode

    def _replays_keyed(self) -> bool:
        index = getattr(self.client.transport, "_index", None)
        if not callable(index):
            return False
        try:
            return any(k.startswith("data/v1/get/") for k in index(self.name))
        except Exception:  # noqa: BLE001 - a transport without an index is simply not a replay
            return False

    @property
    def cap(self) -> int:
        return PREVIEW_CAP if self.mode == "preview" else int(self.source.options["max_records"])

    def code(self, iso3: str) -> int:
        return lookup(iso3).comtrade_code

    def partner_codes(self, reporter_iso3: str, group: str) -> tuple[int, ...]:
        others = [self.code(c) for c in self.config.countries if c != reporter_iso3]
        if group == "total":
            transit = [self.code(c) for c in self.source.options["transit_partners"]
                       if c in countries() and c not in self.config.countries]
            return tuple(dict.fromkeys([0, *others, *transit]))
        return tuple(others)

    # --- periods and partitions ------------------------------------------------------------------
    def monthly_window(self) -> list[str]:
        """Months kept current (YYYYMM, oldest first): at least the last ``monthly_months`` months before
        the run month, widened to whole calendar years (so year-on-year changes and the dated measures
        of the first window year are covered, and one keyed request per year serves them all)."""
        n = int(self.source.options["monthly_months"])
        last = self.run_date.year * 12 + self.run_date.month - 2  # month before the run month, 0-based
        first_year = (last - (n - 1)) // 12
        return [f"{i // 12}{i % 12 + 1:02d}" for i in range(first_year * 12, last + 1)]

    def _wanted_periods(self, freq: str) -> list[str]:
        """Periods tonight may fetch, before state is consulted."""
        if self.backfill:
            first, last = self.backfill
            if freq == "A":
                return [str(y) for y in range(first.year, last.year + 1)]
            out, y, m = [], first.year, first.month
            while (y, m) <= (last.year, last.month):
                out.append(f"{y}{m:02d}")
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            return out
        if freq == "A":
            return [str(y) for y in range(self.config.start_year, self.config.end_year + 1)]
        return self.monthly_window()

    def _revisable(self, freq: str, period: str) -> bool:
        if freq == "A":
            return int(period) >= self.run_date.year - int(self.source.options["revision_years"])
        y, m = int(period[:4]), int(period[4:])
        months_back = (self.run_date.year - y) * 12 + (self.run_date.month - m)
        return months_back <= int(self.source.options["revision_months"])

    def partitions(self) -> list[Partition]:
        parts: list[Partition] = []
        if self.source.options["refresh_reference"]:
            parts.append(Partition(self.name, "reference", "reference", {"reference": list(REFERENCE_FILES)}))
        for freq in self.source.options["freqs"]:
            by_year: dict[int, list[str]] = {}
            for p in self._wanted_periods(freq):
                by_year.setdefault(int(p[:4]), []).append(p)
            for year, periods in sorted(by_year.items()):
                for iso3 in self.config.countries:
                    state_key = f"{freq}:{iso3}:{year}"
                    loaded = set(filter(None, self.state.get(state_key, "").split(",")))
                    need = [p for p in periods
                            if self.full_refresh or self.backfill or p not in loaded or self._revisable(freq, p)]
                    if not need:
                        continue
                    parts.append(Partition(self.name, f"{freq}-{year}-{iso3}", f"{freq}{year}",
                                           {"freq": freq, "year": year, "reporter": iso3, "periods": need,
                                            "state_key": state_key, "loaded": sorted(loaded)}))
        return parts

    # --- requests --------------------------------------------------------------------------------
    def plan(self, partition: Partition) -> list[RequestSpec]:
        """The calls of one partition, each within the row cap and the URL length limit."""
        p = partition.params
        freq, year, iso3 = p["freq"], p["year"], p["reporter"]
        reporter = self.code(iso3)
        if self.mode == "preview":
            period_sets = [(x,) for x in p["periods"]]
        elif freq == "M":
            period_sets = [tuple(f"{year}{m:02d}" for m in range(1, 13))]  # stable keys; unpublished months are absent
        else:
            period_sets = [tuple(p["periods"])]
        flows = tuple(self.source.options["flows"])
        main_flows = tuple(f for f in MAIN_FLOWS if f in flows)
        cmds = tuple(dict.fromkeys([*HS_CHAPTERS, *self.source.options["products"]]))
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
        too_long = len(self.url(spec)) > int(self.source.options["max_url_length"])
        if not (too_long or spec.estimate() >= self.cap):
            return [spec]
        halves = spec.split()
        if not halves:
            if too_long:
                raise MalformedResponse(self.name, self.url(spec), "a single-value request exceeds the URL length limit",
                                        "raise sources.comtrade.max_url_length")
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
        if self.mode == "keyed" and self.source.options["auth"] == "query":
            params["subscription-key"] = self.api_key() or ""
        return self.client.url(path, params)

    def _headers(self) -> dict[str, str]:
        if self.mode == "keyed" and self.source.options["auth"] == "header":
            key = self.api_key()
            if key:
                return {"Ocp-Apim-Subscription-Key": key}
        return {}

    # --- extraction ------------------------------------------------------------------------------
    def extract(self, partition: Partition, lander: Lander) -> ExtractResult:
        stopped = _STOPPED.get(self._stop_key)
        if stopped is not None:
            raise type(stopped)(self.name, stopped.where,
                                f"source stopped for tonight after an earlier answer: {stopped.problem}", stopped.hint)
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
                    with _STOPPED_LOCK:
                        _STOPPED.setdefault(self._stop_key, exc)
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
        return result

    def _refresh_reference(self, partition: Partition, lander: Lander, result: ExtractResult) -> ExtractResult:
        """Fetch Comtrade's reference lists and land them for inspection (kind "": not loaded). bilateral
        keeps using flows/reference/comtrade/ until someone reviews and copies a new list there."""
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
                                f"compare with flows/reference/comtrade/ before adopting")
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


__all__ = ["ComtradeConnector", "RequestSpec", "parse_response", "KIND"]
