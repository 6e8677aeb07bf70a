"""Country code crosswalk. ISO3 is bilateral's join key; every source has its own codes.

Built from UN Comtrade's reporter list (real copy in flows/reference/countries/), which carries
the traps a generic M49 table gets wrong: USA = 842 (not 840), France = 251, India = 699,
Switzerland = 757, "Other Asia, nes" (Taiwan) = 490.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from flows.paths import REFERENCE_DIR


@dataclass(frozen=True)
class Country:
    iso3: str
    iso2: str
    comtrade_code: int
    name: str


@lru_cache(maxsize=1)
def countries() -> dict[str, Country]:
    """Current, non-group Comtrade reporters keyed by ISO3 (the newest code wins, e.g. 842 for USA)."""
    raw = json.loads((REFERENCE_DIR / "countries" / "Reporters.json").read_text(encoding="utf-8"))
    out: dict[str, Country] = {}
    for r in raw["results"]:
        iso3 = r.get("reporterCodeIsoAlpha3") or ""
        if r.get("isGroup") or r.get("entryExpiredDate") or len(iso3) != 3 or not iso3.isalpha():
            continue
        out[iso3] = Country(iso3, r.get("reporterCodeIsoAlpha2") or "", int(r["reporterCode"]), r["reporterDesc"])
    return out


def lookup(iso3: str) -> Country:
    try:
        return countries()[iso3]
    except KeyError:
        raise KeyError(f"unknown country code {iso3!r}") from None
