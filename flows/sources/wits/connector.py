"""WITS TRAINS tariffs (flows/sources/wits/README.md), SDMX-JSON.

``GET {base}/datasource/TRN/reporter/{num}/partner/{num|000}/product/all/year/{yyyy}/datatype/reported?format=JSON``
answers the applied tariff of every HS6 line of one reporter against one partner (``000`` = World,
i.e. the MFN rate) in one year. Reporter and partner are WITS numeric codes (UN M49: USA = 840, not
Comtrade's 842), mapped from bilateral's ISO3 codes by ``reference/wits_countries.csv`` (the dbt
seed ``tariff_wits_countries`` is the same table for the staging model).

Limits (WITS API intro page): at most two dimensions may be ``all`` and never reporter and partner
together. Partitions never use more than one: one reporter x partner x year each, product ``all``.
Bilateral (preferential) rows exist only where a trade agreement exists; for other pairs WITS
answers with an error document instead of data. Such "no data" answers (and years WITS has not
published yet: it lags 1-3 years), and any other WITS error document, are notes naming the WITS
message, not failures; only error documents saying the request itself is invalid (a wrong code or
option: a bilateral bug or misconfiguration) raise ApiErrorBody, for that partition only.

Incremental: a year that loaded is remembered per reporter x partner (``loaded:USA:000:2017``) and
not fetched again unless it is among the last ``refresh_years`` years, the run is a full refresh,
or a backfill range covers it.
"""
from __future__ import annotations

import csv
import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from flows.errors import ApiErrorBody, MalformedResponse
from flows.http import HttpResponse, build_url
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings

if TYPE_CHECKING:
    from flows.config import Config
    from flows.landing import Lander

KIND = "wits_trn_tariff"
WORLD = "000"
DATAFLOW_ID = "DF_WITS_Tariff_TRAINS"
COUNTRIES_CSV = Path(__file__).resolve().parent / "reference" / "wits_countries.csv"
_NO_DATA = re.compile(r"no\s+(data|records?)|not\s+available|data\s+not\s+found", re.IGNORECASE)
#: error documents that mean bilateral built a wrong request: these fail the partition
_INVALID = re.compile(r"invalid|not\s+valid|incorrect|malformed|bad\s+request|not\s+allowed", re.IGNORECASE)


@lru_cache(maxsize=1)
def wits_codes() -> dict[str, str]:
    """ISO3 -> WITS numeric code (3 digits)."""
    with COUNTRIES_CSV.open(encoding="utf-8") as fh:
        return {row["iso3"]: row["wits_code"] for row in csv.DictReader(fh)}


def wits_code(iso3: str) -> str:
    try:
        return wits_codes()[iso3]
    except KeyError:
        raise KeyError(f"no WITS code for {iso3!r}; add it to {COUNTRIES_CSV}") from None


def check_request_limits(reporter: str, partner: str, product: str, year: str) -> None:
    """WITS refuses more than two 'all' dimensions, and 'all' reporters with 'all' partners."""
    dims = {"reporter": reporter, "partner": partner, "product": product, "year": year}
    alls = [k for k, v in dims.items() if str(v).lower() == "all"]
    if len(alls) > 2 or {"reporter", "partner"} <= set(alls):
        raise ValueError(f"WITS request with 'all' for {', '.join(alls)} breaks the API limits "
                         "(at most two 'all' dimensions, never reporter and partner together)")


class WitsSettings(SourceSettings):
    base_url: str = "https://wits.worldbank.org/API/V1/SDMX/V21"
    timeout_seconds: float = Field(120.0, gt=0)
    min_interval_seconds: float = Field(1.0, ge=0)
    datatype: Literal["reported", "aveestimated"] = "reported"
    first_year: int = Field(0, ge=0, description="0 = years.start")
    last_year: int = Field(0, ge=0, description="0 = years.end")
    refresh_years: int = Field(3, ge=0, description="always re-fetch the latest N years (WITS lags and revises)")
    preferential: bool = Field(True, description="also fetch reporter x partner rates for the configured pairs")


def years(config: "Config", settings: WitsSettings, backfill: tuple[date, date] | None = None) -> list[int]:
    first = settings.first_year or config.start_year
    last = settings.last_year or config.end_year
    if backfill:
        first, last = max(first, backfill[0].year), min(last, backfill[1].year)
    return list(range(first, last + 1))


def tariff_url(settings: WitsSettings, reporter_iso3: str, partner_iso3: str | None, year: int,
               product: str = "all") -> str:
    reporter = wits_code(reporter_iso3)
    partner = WORLD if partner_iso3 is None else wits_code(partner_iso3)
    check_request_limits(reporter, partner, product, str(year))
    return build_url(settings.base_url,
                     f"datasource/TRN/reporter/{reporter}/partner/{partner}/product/{product}/year/{year}"
                     f"/datatype/{settings.datatype}", {"format": "JSON"})


def request_plan(config: "Config", settings: WitsSettings) -> list[tuple[str, str | None]]:
    """(reporter ISO3, partner ISO3 or None for World/MFN) for every request group."""
    plan: list[tuple[str, str | None]] = [(c, None) for c in config.countries]
    if settings.preferential:
        for a, b in config.pairs:
            plan += [(a, b), (b, a)]
    return plan


class WitsConnector(Connector):
    source: WitsSettings

    def partitions(self) -> list[Partition]:
        refresh_from = self.run_date.year - self.source.refresh_years if self.run_date else 0
        out = []
        for year in years(self.config, self.source, self.backfill):
            for reporter, partner in request_plan(self.config, self.source):
                label = partner or WORLD
                state_key = f"loaded:{reporter}:{label}:{year}"
                if (not self.full_refresh and not self.backfill and state_key in self.state
                        and year < refresh_from):
                    continue
                out.append(Partition(self.name, f"{reporter}-{label}-{year}", str(year),
                                     {"reporter": reporter, "partner": partner, "year": year, "state_key": state_key}))
        return out

    # --- extraction -----------------------------------------------------------------------------
    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        result = ExtractResult(self.name, partition.key, partition.period)
        p = partition.params
        resp = self.client.get(tariff_url(self.source, p["reporter"], p["partner"], p["year"]))
        landed = lander.land(resp, KIND)
        result.files.append(landed)
        try:
            n_series = parse_tariff_response(resp, expect_reporter=wits_code(p["reporter"]))
        except NoData as exc:
            lander.reject(landed, f"no data: {exc}")
            what = "MFN (partner World)" if p["partner"] is None else f"preferential vs {p['partner']}"
            result.notes.append(f"{p['reporter']} {what} {p['year']}: no WITS data ({exc})")
            return result
        except (ApiErrorBody, MalformedResponse) as exc:
            lander.reject(landed, exc.problem)
            raise
        result.records = n_series
        result.state_updates[p["state_key"]] = "ok"
        return result


class NoData(Exception):
    """WITS has nothing for this reporter/partner/year (no agreement, or not published yet)."""


def _error_document(text: str) -> tuple[str, str, str] | None:
    """(id, key, message) of a WITS ``<wits:error>`` document, else None."""
    m = re.search(r"<(?:\w+:)?message\b([^>]*)>(.*?)</(?:\w+:)?message>", text, re.IGNORECASE | re.DOTALL)
    if not m or "error" not in text[:400].lower():
        return None
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
    return attrs.get("id", ""), attrs.get("key", ""), re.sub(r"\s+", " ", m.group(2)).strip()


def parse_tariff_response(resp: HttpResponse, expect_reporter: str | None = None) -> int:
    """Check one TRN answer; returns its number of series. Raises NoData, ApiErrorBody or MalformedResponse."""
    src, where = "wits", resp.redacted_url
    text = resp.text()
    err = _error_document(text)
    if err is not None:
        code, key, message = err
        detail = f"WITS error {code} ({key}): {message}".replace(" ()", "")
        if _INVALID.search(f"{key} {message}") and not _NO_DATA.search(f"{key} {message}"):
            raise ApiErrorBody(src, where, f"HTTP {resp.status} error document: {detail}",
                               "check the reporter/partner codes (flows/sources/wits/reference/wits_countries.csv) and sources.wits options")
        # no data (no agreement for the pair, a year not published yet) or another WITS message:
        # reported as a note, the file kept as rejected; other partitions and sources go on
        raise NoData(detail)
    if resp.status == 404 or (resp.status == 200 and not text.strip()):
        raise NoData(f"HTTP {resp.status} with {'an empty body' if not text.strip() else repr(text[:120])}")
    if resp.status != 200:
        raise ApiErrorBody(src, where, f"HTTP {resp.status} ({resp.content_type or 'no content type'}): {text[:200]!r}",
                           "check the request against the TRN request format in flows/sources/wits/README.md")
    try:
        doc = json.loads(resp.body)
    except ValueError as exc:
        raise MalformedResponse(src, where, f"body is not valid JSON ({exc}): {text[:120]!r}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("structure"), dict) or "dataSets" not in doc:
        raise MalformedResponse(src, where, "expected an SDMX-JSON message with header, dataSets and structure")
    header_id = (doc.get("header") or {}).get("id")
    if header_id != DATAFLOW_ID:
        raise MalformedResponse(src, where, f"header.id is {header_id!r}, expected {DATAFLOW_ID!r}")
    datasets = doc["dataSets"]
    series = datasets[0].get("series") if isinstance(datasets, list) and datasets and isinstance(datasets[0], dict) else None
    if not series:
        raise NoData("SDMX message without series")
    if not isinstance(series, dict):
        raise MalformedResponse(src, where, f"dataSets[0].series is {type(series).__name__}, expected an object")
    dims = {d.get("id"): d for d in (doc["structure"].get("dimensions") or {}).get("series", []) if isinstance(d, dict)}
    missing = {"FREQ", "REPORTER", "PARTNER", "PRODUCTCODE", "DATATYPE"} - set(dims)
    if missing:
        raise MalformedResponse(src, where, f"series dimensions missing: {', '.join(sorted(missing))}")
    reporters = [v.get("id") for v in dims["REPORTER"].get("values", [])]
    if expect_reporter and reporters and expect_reporter not in reporters:
        raise MalformedResponse(src, where, f"answer is for reporter(s) {reporters}, requested {expect_reporter}")
    return len(series)
