"""World Bank Indicators API v2 (flows/sources/worldbank/README.md).

``GET {base}/country/CAN;CHN;USA/indicator/{id}?format=json&date=2015:2026&per_page=1000&page=N``
answers ``[pageMeta, rows]``; ``[meta, null]`` when nothing matched; ``[{"message": [...]}]`` (HTTP
200) for errors such as 175 (indicator not found) or 120 (invalid value); some malformed requests
get HTTP 400 text/html. One partition per indicator, all pages fetched.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from flows.errors import ApiErrorBody, MalformedResponse
from flows.http import HttpResponse, build_url
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings

if TYPE_CHECKING:
    from flows.config import Config
    from flows.landing import Lander

KIND = "worldbank_indicator"

#: The tariff and trade indicators bilateral keeps (README.md lists what each one is).
DEFAULT_INDICATORS = [
    "TM.TAX.MRCH.WM.AR.ZS", "TM.TAX.MRCH.SM.AR.ZS", "TM.TAX.MANF.WM.AR.ZS", "TM.TAX.MANF.SM.AR.ZS",
    "TM.TAX.TCOM.WM.AR.ZS", "TM.TAX.TCOM.SM.AR.ZS", "TM.TAX.MRCH.WM.FN.ZS", "TM.TAX.MRCH.SM.FN.ZS",
    "TM.TAX.MANF.WM.FN.ZS", "TM.TAX.MANF.SM.FN.ZS", "TM.TAX.MRCH.BR.ZS", "TM.TAX.MRCH.BC.ZS",
    "NE.EXP.GNFS.CD", "NE.IMP.GNFS.CD", "NE.TRD.GNFS.ZS", "TX.VAL.MRCH.CD.WT", "TM.VAL.MRCH.CD.WT",
    "NY.GDP.MKTP.CD", "GC.TAX.IMPT.ZS",
]


#: a World Bank indicator id: dot-separated parts of letters, digits and underscores (NY.GDP.MKTP.CD)
_INDICATOR_ID = r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*"


class WorldBankSettings(SourceSettings):
    base_url: str = "https://api.worldbank.org/v2"
    min_interval_seconds: float = Field(0.1, ge=0)
    indicators: list[str] = Field(default_factory=lambda: list(DEFAULT_INDICATORS), min_length=1,
                                  description="World Bank indicator ids")
    per_page: int = Field(1000, ge=1, le=32500, description="rows per page (the API allows up to 32,500)")

    @field_validator("indicators")
    @classmethod
    def _indicator_ids(cls, value: list[str]) -> list[str]:
        # an id is a segment of the request path: nothing else may reach the URL
        bad = [i for i in value if not re.fullmatch(_INDICATOR_ID, i)]
        if bad:
            raise ValueError(f"not World Bank indicator ids (dot-separated letters, digits, underscores, "
                             f"e.g. NY.GDP.MKTP.CD): {bad}")
        return value


def page_url(config: "Config", settings: WorldBankSettings, indicator: str, page: int) -> str:
    """One page of one indicator for the configured countries and years."""
    return build_url(settings.base_url, f"country/{';'.join(config.countries)}/indicator/{indicator}",
                     {"format": "json", "date": f"{config.start_year}:{config.end_year}",
                      "per_page": settings.per_page, "page": page})


class WorldBankConnector(Connector):
    source: WorldBankSettings

    def partitions(self) -> list[Partition]:
        period = f"{self.config.start_year}-{self.config.end_year}"
        return [Partition(self.name, ind, period, {"indicator": ind}) for ind in self.source.indicators]

    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        result = ExtractResult(self.name, partition.key, partition.period)
        indicator = partition.params["indicator"]
        page, pages = 1, 1
        while page <= pages:
            resp = self.client.get(page_url(self.config, self.source, indicator, page))
            landed = lander.land(resp, KIND)
            result.files.append(landed)
            try:
                meta, rows = parse_page(resp)
            except (ApiErrorBody, MalformedResponse) as exc:
                lander.reject(landed, exc.problem)
                raise
            if rows is None:
                lander.reject(landed, "no data: the API answered [meta, null]")
                result.notes.append(f"{indicator}: no data for {';'.join(self.config.countries)} "
                                    f"{self.config.start_year}:{self.config.end_year}")
                break
            result.records += len(rows)
            pages = meta["pages"]
            page += 1
        return result


def parse_page(resp: HttpResponse) -> tuple[dict, list | None]:
    """Check one page's envelope. Returns (meta with int fields, rows or None when empty)."""
    src, where = "worldbank", resp.redacted_url
    if resp.status != 200:
        raise ApiErrorBody(src, where, f"HTTP {resp.status} ({resp.content_type or 'no content type'}): "
                                       f"{resp.text()[:200]!r}", "check the indicator id and country codes")
    if resp.content_type and resp.content_type not in ("application/json", "text/json"):
        raise MalformedResponse(src, where, f"expected JSON, got {resp.content_type}: {resp.text()[:120]!r}")
    try:
        doc = json.loads(resp.body)
    except ValueError as exc:
        raise MalformedResponse(src, where, f"body is not valid JSON ({exc})") from None
    if isinstance(doc, list) and len(doc) == 1 and isinstance(doc[0], dict) and "message" in doc[0]:
        msgs = doc[0]["message"] if isinstance(doc[0]["message"], list) else [doc[0]["message"]]
        text = "; ".join(f"error {m.get('id')} ({m.get('key')}): {m.get('value')}" if isinstance(m, dict) else str(m)
                         for m in msgs)
        raise ApiErrorBody(src, where, f"API error body with HTTP 200: {text}",
                           "fix or remove the indicator in sources.worldbank.indicators")
    if not (isinstance(doc, list) and len(doc) == 2 and isinstance(doc[0], dict)):
        raise MalformedResponse(src, where, "expected a 2-element array [pageMeta, rows]")
    meta = dict(doc[0])
    try:
        for k in ("page", "pages", "per_page", "total"):
            meta[k] = int(meta.get(k) or 0)  # metadata endpoints send these as strings
    except (TypeError, ValueError):
        raise MalformedResponse(src, where, f"page metadata is not numeric: {doc[0]!r}") from None
    rows = doc[1]
    if rows is None:
        return meta, None
    if not isinstance(rows, list):
        raise MalformedResponse(src, where, f"expected a list of rows, got {type(rows).__name__}")
    return meta, rows
