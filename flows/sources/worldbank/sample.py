"""Sample World Bank indicator pages for the configured countries (generated: no real recording
of these series exists in the reference data). Levels are calibrated to public orders of
magnitude (e.g. Canada's merchandise exports ~US$0.5T, China's ~US$3.4T, applied weighted-mean
tariffs of 1-4%), with US and Chinese averages stepping up in 2018-2019 and 2025. Tariff series
are sparse, as the real ones are: some years are null. Rows are newest first, like the API's.
"""
from __future__ import annotations

import hashlib
import json
import math

from flows.countries import lookup
from flows.http import request_key
from flows.sources.base import SampleContext
from flows.sources.worldbank.connector import page_url

NAMES = {
    "TM.TAX.MRCH.WM.AR.ZS": "Tariff rate, applied, weighted mean, all products (%)",
    "TM.TAX.MRCH.SM.AR.ZS": "Tariff rate, applied, simple mean, all products (%)",
    "TM.TAX.MANF.WM.AR.ZS": "Tariff rate, applied, weighted mean, manufactured products (%)",
    "TM.TAX.MANF.SM.AR.ZS": "Tariff rate, applied, simple mean, manufactured products (%)",
    "TM.TAX.TCOM.WM.AR.ZS": "Tariff rate, applied, weighted mean, primary products (%)",
    "TM.TAX.TCOM.SM.AR.ZS": "Tariff rate, applied, simple mean, primary products (%)",
    "TM.TAX.MRCH.WM.FN.ZS": "Tariff rate, most favored nation, weighted mean, all products (%)",
    "TM.TAX.MRCH.SM.FN.ZS": "Tariff rate, most favored nation, simple mean, all products (%)",
    "TM.TAX.MANF.WM.FN.ZS": "Tariff rate, most favored nation, weighted mean, manufactured products (%)",
    "TM.TAX.MANF.SM.FN.ZS": "Tariff rate, most favored nation, simple mean, manufactured products (%)",
    "TM.TAX.MRCH.BR.ZS": "Bound rate, simple mean, all products (%)",
    "TM.TAX.MRCH.BC.ZS": "Binding coverage, all products (%)",
    "NE.EXP.GNFS.CD": "Exports of goods and services (current US$)",
    "NE.IMP.GNFS.CD": "Imports of goods and services (current US$)",
    "NE.TRD.GNFS.ZS": "Trade (% of GDP)",
    "TX.VAL.MRCH.CD.WT": "Merchandise exports (current US$)",
    "TM.VAL.MRCH.CD.WT": "Merchandise imports (current US$)",
    "NY.GDP.MKTP.CD": "GDP (current US$)",
    "GC.TAX.IMPT.ZS": "Customs and other import duties (% of tax revenue)",
}
# 2018 GDP (US$) and merchandise exports/imports (US$), public orders of magnitude.
_SCALE = {"USA": (20.5e12, 1.66e12, 2.61e12), "CHN": (13.9e12, 2.49e12, 2.13e12), "CAN": (1.72e12, 0.45e12, 0.47e12),
          "MEX": (1.22e12, 0.45e12, 0.48e12), "JPN": (5.04e12, 0.74e12, 0.75e12), "KOR": (1.72e12, 0.60e12, 0.54e12),
          "DEU": (3.97e12, 1.56e12, 1.29e12), "FRA": (2.79e12, 0.58e12, 0.67e12), "GBR": (2.86e12, 0.49e12, 0.67e12)}
_TARIFF_BASE = {"USA": 1.6, "CHN": 3.4, "CAN": 1.5, "MEX": 1.9, "JPN": 1.8, "KOR": 4.8, "DEU": 1.8, "FRA": 1.8, "GBR": 1.8}
# multiplicative steps of the average applied tariff (trade-war years)
_TARIFF_STEP = {("USA", 2019): 1.9, ("USA", 2025): 4.5, ("CHN", 2019): 1.2, ("CHN", 2025): 1.4, ("CAN", 2025): 1.3}


def _noise(*parts: object) -> float:
    """Deterministic pseudo-random number in [0, 1) from the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _value(indicator: str, iso3: str, year: int) -> float | None:
    gdp, exp, imp = _SCALE.get(iso3, (0.5e12 + 1e12 * _noise(iso3, "gdp"), 0.2e12, 0.2e12))
    growth = (1.0 + 0.02 + 0.03 * _noise(iso3, "g")) ** (year - 2018)
    if year == 2020:
        growth *= 0.93
    jitter = 1 + 0.02 * (_noise(indicator, iso3, year) - 0.5)
    tariff = _TARIFF_BASE.get(iso3, 2 + 3 * _noise(iso3, "t"))
    for (c, y), step in _TARIFF_STEP.items():
        if c == iso3 and year >= y:
            tariff *= step
    if indicator.startswith("TM.TAX.") and indicator not in ("TM.TAX.MRCH.BC.ZS", "TM.TAX.MRCH.BR.ZS"):
        if year >= 2024 or _noise("gap", indicator, iso3, year) < 0.12:
            return None  # tariff series lag and are sparse
        factor = {"SM": 1.6, "WM": 1.0}[indicator.split(".")[3]] * {"MRCH": 1.0, "MANF": 1.05, "TCOM": 0.8}[indicator.split(".")[2]]
        if indicator.endswith(".FN.ZS"):
            factor *= 1.15
        return round(tariff * factor * jitter, 2)
    if indicator == "TM.TAX.MRCH.BR.ZS":
        return round(tariff * 2.1 + 1.5, 2) if year < 2024 else None
    if indicator == "TM.TAX.MRCH.BC.ZS":
        return 100.0 if year < 2024 else None
    if year >= 2025:
        return None  # national accounts for the latest year not published yet
    amounts = {"NY.GDP.MKTP.CD": gdp, "TX.VAL.MRCH.CD.WT": exp, "TM.VAL.MRCH.CD.WT": imp,
               "NE.EXP.GNFS.CD": exp * 1.2, "NE.IMP.GNFS.CD": imp * 1.15}
    if indicator in amounts:
        return float(round(amounts[indicator] * growth * jitter, -6))
    if indicator == "NE.TRD.GNFS.ZS":
        return round(100 * (exp * 1.2 + imp * 1.15) / gdp * jitter, 2)
    if indicator == "GC.TAX.IMPT.ZS":
        return round(tariff * 0.9 * jitter, 2)
    return round(100 * _noise(indicator, iso3, year), 2)


def generate(ctx: SampleContext) -> None:
    config, source, writer = ctx.config, ctx.settings, ctx.writer()
    per_page = source.per_page
    for indicator in source.indicators:
        name = NAMES.get(indicator, indicator)
        rows = []
        for iso3 in config.countries:
            for year in range(config.end_year, config.start_year - 1, -1):  # newest first
                rows.append({"indicator": {"id": indicator, "value": name},
                             "country": {"id": lookup(iso3).iso2, "value": lookup(iso3).name},
                             "countryiso3code": iso3, "date": str(year), "value": _value(indicator, iso3, year),
                             "unit": "", "obs_status": "", "decimal": 1 if indicator.startswith("TM.TAX") else 0})
        pages = max(1, math.ceil(len(rows) / per_page))
        for page in range(1, pages + 1):
            meta = {"page": page, "pages": pages, "per_page": per_page, "total": len(rows),
                    "sourceid": "2", "lastupdated": "2026-10-15"}
            body = json.dumps([meta, rows[(page - 1) * per_page: page * per_page]], separators=(",", ":")).encode()
            key = request_key(source.base_url, page_url(config, source, indicator, page), ())
            writer.add(key, body, content_type="application/json", synthetic=True, recorded_at="2026-10-15T00:00:00+00:00")
