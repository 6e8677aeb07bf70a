"""GDELT DOC 2.0 API: news about each configured country pair (flows/sources/gdelt_doc/README.md).

``GET {base}/doc?query=<q>&mode=<mode>&format=json&timespan=<span>[&maxrecords=250&sort=DateDesc]``
for three modes per pair: ``artlist`` (up to 250 articles), ``timelinevolraw`` (article count per
step, ``norm`` = all monitored articles) and ``timelinetone`` (average tone per step). The query
per pair comes from ``pair_queries`` ("CAN-CHN=..." entries) or ``query_template``.

Best effort by design: the API throttles hard (one request per 5 s per IP, sometimes even below
that; 429 with a plain-text body, and the same text with HTTP 200), answers ``{}`` when nothing
matched, ``text/html`` messages for queries it does not like, and JSON with illegal characters.
Pacing is the shared client's ``min_interval_seconds`` (default 6 s); the throttling text is
retryable (``client.get(..., retryable=...)``). Any failure is a note, never a failed partition:
the landed response is rejected, the series keeps its last good data, and the marts flag the
pair's news series as stale. JSON with illegal characters is repaired the way gdeltdoc does
(drop the offending character at the decoder's error position, up to 100 times) and landed as a
cleaned copy next to the original.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator

from flows.countries import countries, lookup
from flows.errors import ApiErrorBody, MalformedResponse, SourceError
from flows.http import HttpResponse, build_url
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings

if TYPE_CHECKING:
    from flows.config import Config
    from flows.landing import Lander

KIND_ARTICLE = "gdelt_doc_article"
KIND_TIMELINE = "gdelt_doc_timeline"
MODES = ("artlist", "timelinevolraw", "timelinetone")
RATE_LIMIT_TEXT = "please limit requests"
MAX_REPAIRS = 100

#: names that read better in a news query than the Comtrade reporter name
QUERY_NAMES = {"USA": "United States", "GBR": "United Kingdom", "KOR": "South Korea"}


def is_rate_limited(resp: HttpResponse) -> bool:
    """The throttling answer: HTTP 429, or its plain-text body arriving with HTTP 200."""
    return resp.status == 429 or resp.body[:200].decode("utf-8", "replace").strip().lower().startswith(RATE_LIMIT_TEXT)


class GdeltDocSettings(SourceSettings):
    base_url: str = "https://api.gdeltproject.org/api/v2/doc"
    max_retries: int = Field(2, ge=0)
    backoff_seconds: float = Field(10.0, ge=0)
    min_interval_seconds: float = Field(6.0, ge=0, description="the API allows one request per 5 s per IP")
    query_template: str = Field('"{a}" "{b}" (trade OR tariff OR tariffs OR sanctions)',
                                description="{a} / {b}: the pair's country names; keywords under 3 characters "
                                            "are rejected by the API")
    pair_queries: list[str] = Field(default_factory=list, description="per-pair overrides, 'AAA-BBB=query'")
    timeline_timespan: str = Field("90d", pattern=r"^[0-9]+(min|h|d|w|m)$")
    artlist_timespan: str = Field("1d", pattern=r"^[0-9]+(min|h|d|w|m)$")
    maxrecords: int = Field(250, ge=1, le=250)
    modes: list[Literal["artlist", "timelinevolraw", "timelinetone"]] = Field(default_factory=lambda: list(MODES))

    @field_validator("query_template")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            query = value.format(a="A", b="B")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"placeholders other than {{a}} and {{b}}, or unbalanced braces ({exc!r})") from None
        _check_query(query)
        return value

    @field_validator("pair_queries")
    @classmethod
    def _pair_queries(cls, value: list[str]) -> list[str]:
        for item in value:
            key, sep, query = item.partition("=")
            codes = key.strip().upper().replace("–", "-").split("-")
            if not sep or len(codes) != 2 or any(c not in countries() for c in codes):
                raise ValueError(f"{item!r} is not 'AAA-BBB=query' with two known ISO3 country codes")
            if not query.strip():
                raise ValueError(f"{item!r} has an empty query")
            _check_query(query)
        return value


#: what a DOC API query is made of: words (any script), quoted phrases, OR-lists in parentheses and
#: operators such as sourcecountry:CH, near5:"a b", tone<-5, theme:TAX_FNCACT (README.md, "Request")
QUERY_PUNCTUATION = "\"'()-:<>=.,_*&+"
MAX_QUERY_LENGTH = 500


def _check_query(query: str) -> None:
    """A query reaches the request URL and, as a load parameter, SQL: only the query syntax passes."""
    bad = sorted({c for c in query if not (c.isalnum() or c == " " or c in QUERY_PUNCTUATION)})
    if bad:
        raise ValueError(f"character(s) {''.join(bad)!r} are not part of the GDELT DOC query syntax; allowed: letters, "
                         f"digits, spaces and {QUERY_PUNCTUATION}")
    if len(query) > MAX_QUERY_LENGTH:
        raise ValueError(f"a query of {len(query)} characters is longer than {MAX_QUERY_LENGTH}")


def pairs(config: "Config") -> list[str]:
    return ["-".join(sorted(p)) for p in config.pairs]


def query_for(settings: GdeltDocSettings, pair: str) -> str:
    for item in settings.pair_queries:
        key, _, query = item.partition("=")
        if "-".join(sorted(key.strip().upper().replace("–", "-").split("-"))) == pair and query.strip():
            return query.strip()
    a, b = pair.split("-")
    names = [QUERY_NAMES.get(c) or lookup(c).name for c in (a, b)]
    return settings.query_template.format(a=names[0], b=names[1])


def request_url(settings: GdeltDocSettings, pair: str, mode: str) -> str:
    params: dict[str, object] = {"query": query_for(settings, pair), "mode": mode, "format": "json"}
    if mode == "artlist":
        params.update(maxrecords=min(250, settings.maxrecords), sort="DateDesc", timespan=settings.artlist_timespan)
    else:
        params["timespan"] = settings.timeline_timespan
    return build_url(settings.base_url, "doc", params)


class GdeltDocConnector(Connector):
    source: GdeltDocSettings

    def partitions(self) -> list[Partition]:
        if self.backfill:
            return []  # the DOC API only covers ~3 months back: there is no history to backfill
        return [Partition(self.name, pair, "news", {"pair": pair}) for pair in pairs(self.config)]

    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        result = ExtractResult(self.name, partition.key, partition.period)
        pair = partition.params["pair"]
        for mode in self.source.modes:
            if mode not in MODES:
                result.notes.append(f"{pair}: mode {mode!r} is not supported (use {', '.join(MODES)})")
                continue
            try:
                n = self._fetch(pair, mode, lander, result)
            except SourceError as exc:
                result.notes.append(f"{pair} {mode}: news series not updated tonight (stale): {exc.problem}")
                result.stale = True
                continue
            result.records += n
            result.state_updates[f"last_success:{pair}:{mode}"] = self.run_date.isoformat() if self.run_date else ""
        return result

    def _fetch(self, pair: str, mode: str, lander: "Lander", result: ExtractResult) -> int:
        url = request_url(self.source, pair, mode)
        kind = KIND_ARTICLE if mode == "artlist" else KIND_TIMELINE
        params = {"pair": pair, "query": query_for(self.source, pair), "mode": mode}
        resp = self.client.get(url, retryable=is_rate_limited)  # raises SourceUnavailable when throttling persists
        landed = lander.land(resp, kind, load_params=params)
        result.files.append(landed)
        try:
            doc, repaired = parse_doc_response(resp)
        except SourceError as exc:
            lander.reject(landed, exc.problem)
            raise
        if repaired:
            lander.reject(landed, f"illegal characters in JSON ({repaired} removed); loaded from the cleaned copy")
            clean = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
            result.files.append(lander.land_derived(landed, kind, "json", [clean], load_params=params))
            result.notes.append(f"{pair} {mode}: removed {repaired} illegal character(s) from the JSON")
        if mode == "artlist":
            items = doc.get("articles") or []
        else:
            items = [p for s in (doc.get("timeline") or []) for p in (s.get("data") or [])]
        if not items:
            result.notes.append(f"{pair} {mode}: no results ({{}}) for {params['query']!r}")
        return len(items)


def parse_doc_response(resp: HttpResponse) -> tuple[dict, int]:
    """The JSON document and how many illegal characters had to be removed; SourceError otherwise."""
    src, where = "gdelt_doc", resp.redacted_url
    text = resp.body.decode("utf-8", errors="replace")
    if is_rate_limited(resp):
        raise ApiErrorBody(src, where, f"rate limited (HTTP {resp.status}): {text[:120].strip()!r}",
                           "keep min_interval_seconds at 6 or more; the next run retries")
    if resp.status != 200:
        raise ApiErrorBody(src, where, f"HTTP {resp.status} ({resp.content_type or 'no content type'}): {text[:160].strip()!r}")
    if resp.content_type == "text/html" or not text.lstrip().startswith(("{", "[")):
        raise ApiErrorBody(src, where, f"the API refused the query ({resp.content_type or 'no content type'}): "
                                       f"{text[:160].strip()!r}", "fix sources.gdelt_doc.query_template / pair_queries")
    repaired = 0
    while True:
        try:
            doc = json.loads(text)
            break
        except json.JSONDecodeError as exc:
            if repaired >= MAX_REPAIRS or exc.pos >= len(text):
                raise MalformedResponse(src, where, f"body is not valid JSON ({exc})") from None
            text = text[:exc.pos] + text[exc.pos + 1:]
            repaired += 1
    if isinstance(doc, list) or doc is None:
        raise MalformedResponse(src, where, f"expected a JSON object, got {type(doc).__name__}")
    if "articles" in doc and doc["articles"] is not None and not isinstance(doc["articles"], list):
        raise MalformedResponse(src, where, "'articles' is not a list")
    if "timeline" in doc and doc["timeline"] is not None and not isinstance(doc["timeline"], list):
        raise MalformedResponse(src, where, "'timeline' is not a list")
    return doc, repaired
