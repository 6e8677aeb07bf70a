"""Sample UN Comtrade answers (generated, marked synthetic) in the exact ``data/v1/get`` record
format, for every request the connector makes in keyed mode (and, on request, preview mode). The
connector in ``auto`` mode replays a keyed recording without needing COMTRADE_API_KEY.

What the numbers are calibrated to (public figures; docs/sources/comtrade.md#sample lists each source):
- China-reported trade with Canada 2024: exports US$46.4B (+3%), imports US$46.6B (+6.1%);
  2025: exports +3%, imports -11%. US-reported trade with Canada 2024: exports US$349.4B, imports
  US$412.7B (USTR / US Census).
- Mirror flows disagree the way they do in reality: importer-reported values (CIF, by origin)
  exceed exporter-reported ones (FOB, by consignment). Canada's imports from China are ~38% above
  China's exports to Canada and China's imports from Canada ~80% above Canada's exports to China,
  because goods move through Hong Kong and the US (transit partner HKG is in the sample). China's
  reported exports to the US exceed US imports from China (de minimis, routing), as published.
  The US exports to Canada equal Canada's imports from the US within ~1% (the two exchange import
  data). Below TOTAL the gap has two parts: every chapter's direct shipments carry a freight margin
  (``true_margin``: growing with the distance between capitals, larger for bulky goods; none for
  Canada, which values imports FOB), and a few transit chapters per direction (``_TRANSIT``) carry
  the attribution gap that brings the TOTAL to the direction's ratio.
- Seed story: Canada's imports of Chinese EVs (8703.40/60/70/80) collapse from October 2024 (100%
  surtax); Canada's canola oil (1514), meal (2306.49) and peas (0713.10) exports to China collapse
  from April 2025 (100% tariff from 2025-03-20; March half-affected); pork and seafood fall by
  about 40% (25%); canola seed (1205.10) collapses from September 2025 (75.8% deposit from
  2025-08-14) and partly recovers from March 2026.
- Annual values are the sum of the months with a small revision difference (Comtrade's annual
  and monthly data differ); chapters sum to TOTAL except a small unallocated (confidential) share
  in some flows; RX/RM are reported by Canada and the US at TOTAL level only.

Deterministic: values come from hashes of their coordinates, never from the wall clock; which
periods are "published" depends only on ``run_date`` (default: today): annual data for every year
before the run year, monthly data from January 2010 up to two months before the run month. The
recording answers every request the connector can make for the configured years (the monthly
window, the first run's monthly history from ``monthly_history_start``, backfills).
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import lru_cache
from pathlib import Path

from flows.countries import lookup
from flows.http import request_key
from flows.sources.base import SampleContext
from flows.sources.comtrade.connector import HS_CHAPTERS, SECRET_PARAMS, RequestPlanner, RequestSpec

REFERENCE = Path(__file__).resolve().parent / "reference"

RECORDED_AT = "2026-10-15T00:00:00+00:00"
YEARS = range(2010, 2031)

# --- calibration ---------------------------------------------------------------------------------
#: exporter-reported (FOB) value of each direction in 2024, US$, and importer/exporter mirror ratio
DIRECTIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("CHN", "CAN"): (46.4e9, 1.38),   # China's exports to Canada 46.4B (China customs 2024)
    ("CAN", "CHN"): (25.9e9, 1.80),   # -> China's imports from Canada 46.6B (2024)
    ("CAN", "USA"): (405e9, 1.019),   # -> US imports from Canada 412.7B (USTR / US Census 2024)
    ("USA", "CAN"): (349.4e9, 1.01),  # US exports to Canada 349.4B (USTR / US Census 2024); data exchange: ~1%
    ("CHN", "USA"): (525e9, 0.84),    # US imports from China 439B below China's reported exports
    ("USA", "CHN"): (143.5e9, 1.14),  # China's imports from the US 163.6B
}
#: index of the exporter-reported value by year (2024 = 1)
_INDEX = {
    ("CHN", "CAN"): [.62, .60, .66, .72, .74, .75, .92, 1.02, .971, 1.0, 1.03, 1.04],
    ("CAN", "CHN"): [.43, .40, .47, .55, .46, .55, .70, .78, .943, 1.0, .89, .93],
    ("CHN", "USA"): [.92, .87, .96, 1.03, .88, .86, 1.10, 1.09, .95, 1.0, .78, .80],
    ("USA", "CHN"): [.81, .80, .91, .83, .74, .85, 1.05, 1.05, 1.03, 1.0, .82, .85],
    ("CAN", "USA"): [.73, .71, .76, .80, .81, .72, .92, 1.08, 1.02, 1.0, .95, .96],
    ("USA", "CAN"): [.80, .76, .81, .86, .84, .73, .88, .99, 1.00, 1.0, .96, .97],
}
_GENERIC_INDEX = [.74, .72, .78, .84, .83, .78, .93, 1.06, 1.0, 1.0, 1.01, 1.03]  # 2015..2026
#: reporter's trade with the World in 2024 (exports, imports), US$
WORLD_2024 = {"CAN": (569e9, 546e9), "CHN": (3580e9, 2590e9), "USA": (2065e9, 3290e9),
              "MEX": (617e9, 625e9), "JPN": (707e9, 742e9), "KOR": (683e9, 632e9), "DEU": (1662e9, 1424e9),
              "FRA": (598e9, 704e9), "GBR": (521e9, 816e9)}
#: reporter -> HKG (exports, imports) 2024 at TOTAL level (transit partner)
HKG_2024 = {"CAN": (3.2e9, 1.4e9), "CHN": (290e9, 9.5e9), "USA": (27e9, 4.8e9)}
#: re-exports / re-imports as a share of exports / imports (reported by CAN and USA only)
RE_SHARES = {"CAN": (0.055, 0.012), "USA": (0.11, 0.02)}
#: chapter weights by direction (rest spread over all chapters)
_CHAPTER_WEIGHTS = {
    ("CAN", "CHN"): {"12": 14, "26": 12, "47": 10, "27": 14, "44": 5, "03": 4, "15": 3, "23": 3, "07": 2,
                     "02": 3, "84": 5, "85": 2, "88": 2, "28": 2, "31": 3, "10": 4, "72": 1, "76": 1},
    ("CHN", "CAN"): {"85": 25, "84": 18, "94": 5, "95": 5, "87": 4, "73": 3, "72": 1, "76": 1.5, "39": 4,
                     "61": 2.5, "62": 2.5, "64": 2, "90": 3, "29": 2, "63": 1.5, "42": 1.5},
    ("CAN", "USA"): {"27": 28, "87": 13, "84": 7, "76": 3, "72": 2, "73": 2, "44": 3, "39": 3, "71": 3,
                     "85": 3, "30": 2, "48": 2, "88": 2, "31": 1.5, "03": 1, "02": 1, "15": .5, "12": .5},
    ("USA", "CAN"): {"87": 15, "84": 14, "27": 10, "85": 8, "39": 5, "30": 4, "90": 3, "73": 2, "72": 2,
                     "76": 1, "08": 2, "07": 2},
    ("CHN", "USA"): {"85": 27, "84": 20, "95": 6, "94": 5, "87": 3, "39": 4, "61": 3, "62": 3, "64": 3,
                     "90": 2, "73": 2},
    ("USA", "CHN"): {"12": 12, "88": 8, "85": 10, "84": 10, "27": 12, "90": 6, "30": 5, "29": 3, "47": 3,
                     "02": 2, "10": 2, "52": 3},
}
#: share of TOTAL not allocated to any chapter (confidential trade), by exporter
_UNALLOCATED = {"CAN": 0.004, "USA": 0.002}
#: story products: exporter-reported 2024 value (US$), mirror ratio, chapter, months of impact
_PRODUCTS = {
    ("CHN", "CAN"): {"870380": 1.55e9, "870360": 0.20e9, "870340": 0.10e9, "870370": 0.004e9},
    ("CAN", "CHN"): {"120510": 2.5e9, "1514": 0.70e9, "230649": 0.75e9, "071310": 0.35e9, "0203": 0.45e9,
                     "030612": 0.25e9, "030614": 0.10e9, "030632": 0.35e9, "030633": 0.20e9},
    ("CAN", "USA"): {"870380": 0.9e9, "120510": 0.35e9, "1514": 1.6e9, "230649": 0.9e9, "071310": 0.10e9,
                     "0203": 1.9e9, "030612": 0.25e9, "030632": 0.35e9, "030633": 0.45e9},
    ("USA", "CAN"): {"870380": 2.4e9, "870360": 0.6e9, "870340": 1.1e9, "0203": 1.1e9, "030632": 0.03e9},
    ("CHN", "USA"): {"870380": 0.05e9, "870360": 0.02e9, "870340": 0.03e9, "030614": 0.02e9},
    ("USA", "CHN"): {"870380": 0.6e9, "870340": 0.3e9, "0203": 1.2e9, "030632": 0.05e9, "071310": 0.02e9},
}
#: importers whose imports are valued at the place of direct shipment (FOB/FAS), not CIF: Canada
#: (Statistics Canada: imports valued "F.O.B. place of direct shipment to Canada")
FAS_IMPORTERS = ("CAN",)
#: capitals (GeoNames coordinates): the sample's freight margins grow with the great-circle distance
_CAPITALS = {"CAN": (45.41117, -75.69812), "CHN": (39.9075, 116.39723), "USA": (38.89511, -77.03637),
             "MEX": (19.42847, -99.12766), "JPN": (35.6895, 139.69171), "KOR": (37.566, 126.9784),
             "DEU": (52.52437, 13.41053), "FRA": (48.85341, 2.3488), "GBR": (51.50853, -0.12574),
             "HKG": (22.27832, 114.17469)}
#: chapters whose freight is a larger share of value (ores, cereals, oilseeds, wood, pulp, fertilisers,
#: salt/stone/cement, iron and steel) and a smaller one (electronics, instruments, jewellery, pharma, aircraft)
_BULKY = {"10": 0.035, "12": 0.03, "25": 0.04, "26": 0.04, "31": 0.035, "44": 0.03, "47": 0.03, "72": 0.025}
_LIGHT = {"85": -0.015, "90": -0.018, "71": -0.02, "30": -0.015, "88": -0.015}
#: chapters through which a direction's attribution gap runs (goods consigned through Hong Kong or the
#: US: the exporter records the country of consignment, the importer the origin): the importer-side
#: TOTAL is reached by scaling these chapters; every other chapter differs only by its freight margin
_TRANSIT = {
    ("CHN", "CAN"): ("84", "85", "94", "95"),
    ("CAN", "CHN"): ("26", "27", "84", "85", "88"),
    ("CHN", "USA"): ("84", "85"),
    ("USA", "CHN"): ("84", "85", "90"),
}
MONTH_SEASON = [0.86, 0.80, 1.0, 0.98, 1.02, 1.01, 0.98, 1.0, 1.01, 1.06, 1.08, 1.20]


def _noise(*parts: object) -> float:
    """Deterministic pseudo-random number in [0, 1) from the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@lru_cache(maxsize=None)
def _distance_km(a: str, b: str) -> float:
    """Great-circle distance between two capitals (8,000 km when one is unknown)."""
    import math

    if a not in _CAPITALS or b not in _CAPITALS:
        return 8000.0
    (la1, lo1), (la2, lo2) = _CAPITALS[a], _CAPITALS[b]
    p1, p2, dl = math.radians(la1), math.radians(la2), math.radians(lo2 - lo1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


@lru_cache(maxsize=None)
def true_margin(exporter: str, importer: str, chapter: str) -> float:
    """The sample's CIF/FOB margin of a chapter's direct shipments: ln(1 + margin) = -0.06 + 0.012 ln(km)
    plus a chapter effect (bulky goods more, light goods less), from about 2% (Ottawa-Washington) to
    5% (Beijing-Washington) for ordinary goods; 0 for importers valuing FOB/FAS (Canada)."""
    import math

    if importer in FAS_IMPORTERS:
        return 0.0
    ln_margin = -0.06 + 0.012 * math.log(_distance_km(exporter, importer)) + _BULKY.get(chapter, _LIGHT.get(chapter, 0.0))
    return min(max(math.exp(ln_margin) - 1, 0.002), 0.15)


def _index(exporter: str, importer: str, year: int) -> float:
    table = _INDEX.get((exporter, importer), _GENERIC_INDEX)
    if year < 2015:
        return table[0] * 0.97 ** (2015 - year)
    if year > 2026:
        return table[-1] * 1.02 ** (year - 2026)
    return table[year - 2015]


def _story(exporter: str, importer: str, product: str, y: int, m: int) -> float:
    """Multiplier of a product's monthly value from the dated measures."""
    ym = y * 100 + m
    if (exporter, importer) == ("CHN", "CAN") and product.startswith("8703"):
        if y < 2019:
            return 0.0 if product == "870380" and y < 2017 else 0.05
        ramp = {2019: 0.10, 2020: 0.15, 2021: 0.25, 2022: 0.45, 2023: 0.85}.get(y, 1.0)
        return ramp if ym < 202410 else 0.025  # Canada's 100% surtax from 2024-10-01
    if (exporter, importer) == ("CAN", "CHN"):
        if product in ("1514", "230649", "071310"):  # +100% from 2025-03-20
            if ym >= 202603 and product != "1514":
                return 0.55  # freed from March 2026 (announced 2026-01-16)
            return 1.0 if ym < 202503 else (0.6 if ym == 202503 else 0.12)
        if product == "0203" or product.startswith("03"):  # +25% from 2025-03-20
            if ym >= 202603 and product.startswith("03"):
                return 0.8
            return 1.0 if ym < 202503 else (0.8 if ym == 202503 else 0.6)
        if product == "120510":  # 75.8% anti-dumping deposit from 2025-08-14
            if y == 2019 and m >= 3:
                return 0.55  # 2019 halt of major exporters
            if ym >= 202603:
                return 0.45
            return 1.0 if ym < 202508 else (0.7 if ym == 202508 else 0.08)
    return 1.0


@lru_cache(maxsize=1)
def _hs_names() -> dict[str, str]:
    doc = json.loads((REFERENCE / "HS.json").read_text(encoding="utf-8-sig"))
    out = {}
    for r in doc["results"]:
        text, prefix = r["text"], r["id"] + " - "
        out[r["id"]] = text[len(prefix):] if text.startswith(prefix) else text
    out["TOTAL"] = "All Commodities"
    return out


@lru_cache(maxsize=None)
def _partner_names() -> dict[int, tuple[str, str]]:
    import csv

    out = {}
    with (REFERENCE / "partners.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            iso = "W00" if row["id"] == "0" else row["iso_3"].strip()
            out[int(row["id"])] = (iso, row["country"].strip())
    return out


class _Model:
    """Monthly values of every (exporter, importer, cmd) as reported by each side."""

    def __init__(self, countries: tuple[str, ...]) -> None:
        self.countries = countries
        self._cache: dict[tuple, dict[str, tuple[float, float]]] = {}

    def base(self, exporter: str, importer: str) -> tuple[float, float]:
        if (exporter, importer) in DIRECTIONS:
            return DIRECTIONS[(exporter, importer)]
        ex_world = WORLD_2024.get(exporter, (400e9 * (0.5 + _noise(exporter, "w")), 0))[0]
        share = 0.005 + 0.03 * _noise(exporter, importer, "share")
        return ex_world * share, (1 + true_margin(exporter, importer, "TOTAL")) * (0.97 + 0.1 * _noise(exporter, importer, "ratio"))

    def month(self, exporter: str, importer: str, y: int, m: int) -> dict[str, tuple[float, float]]:
        """cmd -> (exporter-reported FOB, importer-reported CIF) for one month; 'TOTAL' included."""
        key = (exporter, importer, y, m)
        if key in self._cache:
            return self._cache[key]
        level, ratio = self.base(exporter, importer)
        season = MONTH_SEASON[m - 1] / (sum(MONTH_SEASON) / 12)
        total = level * _index(exporter, importer, y) / 12 * season * (1 + 0.06 * (_noise(key, "t") - 0.5))
        weights = _CHAPTER_WEIGHTS.get((exporter, importer), {})
        raw = {c: (weights.get(c, 0.0) + 0.35 * _noise(exporter, importer, c, "w") ** 3) * (1 + 0.2 * (_noise(key, c) - 0.5))
               for c in HS_CHAPTERS if c != "77"}
        raw["99"] = raw["99"] * 0.1
        products = {p: v / 12 * _index(exporter, importer, y) * season * _story(exporter, importer, p, y, m)
                    * (1 + 0.1 * (_noise(key, p) - 0.5))
                    for p, v in _PRODUCTS.get((exporter, importer), {}).items()}
        allocated = total * (1 - _UNALLOCATED.get(exporter, 0.0))
        # story products sit inside their chapter: the chapter keeps its weight share of the rest
        in_chapter: dict[str, float] = {}
        for p, v in products.items():
            in_chapter[p[:2]] = in_chapter.get(p[:2], 0.0) + v
        rest = allocated - sum(in_chapter.values())
        wsum = sum(raw.values())
        out: dict[str, tuple[float, float]] = {}
        # importer side: direct shipments add the freight margin of their chapter (the products too);
        # the direction's mirror ratio on the TOTAL is reached through its transit chapters
        product_cif = {p: v * (1 + true_margin(exporter, importer, p[:2])) * (1 + 0.04 * (_noise(key, p, "m") - 0.5))
                       for p, v in products.items()}
        in_chapter_cif: dict[str, float] = {}
        for p, v in product_cif.items():
            in_chapter_cif[p[:2]] = in_chapter_cif.get(p[:2], 0.0) + v
        target_cif = total * ratio * (1 + 0.02 * (_noise(key, "cif") - 0.5))
        allocated_cif = target_cif * (1 - _UNALLOCATED.get(importer, 0.0))
        rest_cif = {c: (rest * w / wsum) * (1 + true_margin(exporter, importer, c))
                    * (1 + 0.08 * (_noise(exporter, importer, c, "r") - 0.5)) * (1 + 0.08 * (_noise(key, c, "r") - 0.5))
                    for c, w in raw.items()}
        target_rest = allocated_cif - sum(in_chapter_cif.values())
        transit = [c for c in _TRANSIT.get((exporter, importer), ()) if c in rest_cif]
        direct_sum = sum(v for c, v in rest_cif.items() if c not in transit)
        transit_sum = sum(rest_cif[c] for c in transit)
        if transit and target_rest - direct_sum > 0.05 * transit_sum:
            scales = {c: ((target_rest - direct_sum) / transit_sum if c in transit else 1.0) for c in rest_cif}
        else:
            scales = dict.fromkeys(rest_cif, target_rest / sum(rest_cif.values()))
        for c, w in raw.items():
            fob = rest * w / wsum + in_chapter.get(c, 0.0)
            cif = rest_cif[c] * scales[c] + in_chapter_cif.get(c, 0.0)
            out[c] = (fob, cif)
        for p, v in products.items():
            out[p] = (v, product_cif[p])
        out["TOTAL"] = (total, target_cif)
        self._cache[key] = out
        return out

    def value(self, exporter: str, importer: str, cmd: str, y: int, m: int | None, side: str) -> float:
        """US$ as reported by ``side`` ('X' exporter, 'M' importer); m None = annual."""
        i = 0 if side == "X" else 1
        if m is not None:
            return self.month(exporter, importer, y, m).get(cmd, (0.0, 0.0))[i]
        months = sum(self.month(exporter, importer, y, mm).get(cmd, (0.0, 0.0))[i] for mm in range(1, 13))
        return months * (1 + 0.012 * (_noise(exporter, importer, y, side, "rev") - 0.5))

    def world(self, reporter: str, flow: str, y: int, m: int | None) -> float:
        ex, im = WORLD_2024.get(reporter, (400e9 * (0.5 + _noise(reporter, "w")), 380e9 * (0.5 + _noise(reporter, "w"))))
        base = (ex if flow in ("X", "RX") else im) * _GENERIC_INDEX[min(max(y, 2015), 2026) - 2015]
        if flow in ("RX", "RM"):
            base *= RE_SHARES[reporter][0 if flow == "RX" else 1]
        if m is not None:
            return base / 12 * MONTH_SEASON[m - 1] / (sum(MONTH_SEASON) / 12) * (1 + 0.04 * (_noise(reporter, flow, y, m) - 0.5))
        return base

    def hkg(self, reporter: str, flow: str, y: int, m: int | None) -> float:
        ex, im = HKG_2024.get(reporter, (2e9, 1e9))
        base = (ex if flow == "X" else im) * _GENERIC_INDEX[min(max(y, 2015), 2026) - 2015]
        return base if m is None else base / 12 * (1 + 0.05 * (_noise(reporter, "hkg", flow, y, m) - 0.5))


def _record(reporter: str, partner_code: int, flow: str, cmd: str, y: int, m: int | None, value: float) -> dict:
    rep = lookup(reporter)
    p_iso, p_desc = _partner_names()[partner_code]
    annual = m is None
    level = 0 if cmd == "TOTAL" else len(cmd)
    cls = "H4" if y < 2017 else ("H5" if y < 2022 else "H6")
    value = round(value, 0) if value >= 1000 else round(value, 2)
    is_import = flow in ("M", "RM")
    qty = None
    if level == 6:
        qty = round(value / (0.6 + 30 * _noise(cmd, "price")), 0)  # kg at a product-specific unit value
    return {
        "typeCode": "C", "freqCode": "A" if annual else "M", "refPeriodId": int(f"{y}{1 if annual else m:02d}01"),
        "refYear": y, "refMonth": 52 if annual else m, "period": str(y) if annual else f"{y}{m:02d}",
        "reporterCode": rep.comtrade_code, "reporterISO": reporter, "reporterDesc": rep.name,
        "flowCode": flow, "flowDesc": {"M": "Import", "X": "Export", "RM": "Re-import", "RX": "Re-export"}[flow],
        "partnerCode": partner_code, "partnerISO": p_iso, "partnerDesc": p_desc,
        "partner2Code": 0, "partner2ISO": "W00", "partner2Desc": "World",
        "classificationCode": cls, "classificationSearchCode": "HS", "isOriginalClassification": True,
        "cmdCode": cmd, "cmdDesc": _hs_names().get(cmd, cmd), "aggrLevel": level, "isLeaf": level == 6,
        "customsCode": "C00", "customsDesc": "TOTAL CPC", "mosCode": "0", "motCode": 0, "motDesc": "TOTAL MOT",
        "qtyUnitCode": 8 if qty is not None else -1, "qtyUnitAbbr": "kg" if qty is not None else "N/A", "qty": qty,
        "isQtyEstimated": False, "altQtyUnitCode": -1, "altQtyUnitAbbr": "N/A", "altQty": None,
        "isAltQtyEstimated": False, "netWgt": qty, "isNetWgtEstimated": False, "grossWgt": None,
        "isGrossWgtEstimated": False, "cifvalue": value if is_import else None,
        "fobvalue": None if is_import else value, "primaryValue": value, "legacyEstimationFlag": 0,
        "isReported": True, "isAggregate": False,
    }


class _Published:
    """Which periods the sample says are published, as of ``run_date``: annual data for the years
    before the run year; monthly data from January 2010 up to two months before the run month (as
    UN Comtrade publishes monthly data for Canada, China and the US)."""

    def __init__(self, run_date: date) -> None:
        self.last_year = run_date.year - 1
        last = run_date.year * 12 + run_date.month - 3  # two months before the run month, 0-based
        self.last_month = (last // 12) * 100 + last % 12 + 1
        self.first_month = YEARS[0] * 100 + 1

    def has(self, freq: str, period: str) -> bool:
        if freq == "A":
            return int(period) <= self.last_year
        return self.first_month <= int(period) <= self.last_month


def _rows(spec: RequestSpec, reporter: str, model: _Model, published: _Published) -> list[tuple]:
    """(reporter, partner code, flow, cmd, year, month, value) of every record a call returns, in the API's order."""
    codes = _partner_names()
    rows = []
    for period in spec.periods:
        if not published.has(spec.freq, period):
            continue
        y, m = int(period[:4]), (None if spec.freq == "A" else int(period[4:]))
        for partner in spec.partners:
            p_iso = codes[partner][0]
            for flow in spec.flows:
                for cmd in spec.cmds:
                    if partner == 0:
                        if cmd != "TOTAL" or (flow in ("RX", "RM") and reporter not in RE_SHARES):
                            continue
                        v = model.world(reporter, flow, y, m)
                    elif p_iso == "HKG":
                        if cmd != "TOTAL" or flow not in ("M", "X"):
                            continue
                        v = model.hkg(reporter, flow, y, m)
                    elif flow in ("RX", "RM"):
                        if cmd != "TOTAL" or reporter not in RE_SHARES:
                            continue
                        exporter, importer = (reporter, p_iso) if flow == "RX" else (p_iso, reporter)
                        share = RE_SHARES[reporter][0 if flow == "RX" else 1]
                        v = model.value(exporter, importer, "TOTAL", y, m, "X" if flow == "RX" else "M") * share
                    else:
                        exporter, importer = (reporter, p_iso) if flow == "X" else (p_iso, reporter)
                        v = model.value(exporter, importer, cmd, y, m, flow)
                    if v >= 1.0:
                        rows.append((reporter, partner, flow, cmd, y, m, v))
    return rows


def rows_for(spec: RequestSpec, reporter: str, model: _Model, published: _Published) -> list[dict]:
    """The records a Comtrade call described by ``spec`` returns, in the API's order."""
    return [_record(*row) for row in _rows(spec, reporter, model, published)]


#: fields of a record that vary with its period and value; the rest is fixed per reporter x partner x flow x cmd
_VARYING = ("freqCode", "refPeriodId", "refYear", "refMonth", "period", "classificationCode", "qty", "netWgt",
            "cifvalue", "fobvalue", "primaryValue")


class _Encoder:
    """JSON text of records, byte for byte what ``json.dumps(_record(...))`` writes, from one template per
    reporter x partner x flow x cmd (json.dumps of ~200k dicts was most of the generator's time)."""

    def __init__(self) -> None:
        self._templates: dict[tuple, list[str]] = {}

    def _template(self, reporter: str, partner: int, flow: str, cmd: str) -> list[str]:
        key = (reporter, partner, flow, cmd)
        if key not in self._templates:
            rec = _record(reporter, partner, flow, cmd, 2000, 1, 1000.0)
            rec.update({f: f"\x00{i}\x00" for i, f in enumerate(_VARYING)})
            text = json.dumps(rec, separators=(",", ":"))
            parts = []
            for i in range(len(_VARYING)):
                head, text = text.split(f'"\\u0000{i}\\u0000"', 1)
                parts.append(head)
            self._templates[key] = [*parts, text]
        return self._templates[key]

    def encode(self, row: tuple) -> str:
        reporter, partner, flow, cmd, y, m, value = row
        parts = self._template(reporter, partner, flow, cmd)
        value = round(value, 0) if value >= 1000 else round(value, 2)
        num = repr(float(value))
        qty = "null"
        if len(cmd) == 6 and cmd != "TOTAL":
            qty = repr(float(round(value / (0.6 + 30 * _noise(cmd, "price")), 0)))
        is_import = flow in ("M", "RM")
        cls = "H4" if y < 2017 else ("H5" if y < 2022 else "H6")
        if m is None:
            head = ('"A"', f"{y}0101", str(y), "52", f'"{y}"')
        else:
            head = ('"M"', f"{y}{m:02d}01", str(y), str(m), f'"{y}{m:02d}"')
        values = (*head, f'"{cls}"', qty, qty, num if is_import else "null", "null" if is_import else num, num)
        return "".join(p + v for p, v in zip(parts, values)) + parts[-1]


def _body(rows: list[str]) -> bytes:
    secs = 0.05 + len(rows) / 20000
    return ('{"elapsedTime":"%.2f secs","count":%d,"data":[' % (secs, len(rows)) + ",".join(rows)
            + '],"error":""}').encode()


def generate(ctx: SampleContext, modes: tuple[str, ...] = ("keyed",)) -> None:
    """Write the sample recording. ``modes``: keyed (the bundled sample; the connector in ``auto`` mode
    replays it without a key) and/or preview (one period per call; used by the tests)."""
    config, settings, run_date = ctx.config, ctx.settings, ctx.run_date
    writer = ctx.writer()
    model = _Model(config.countries)
    published = _Published(run_date)
    header_auth = settings.model_copy(update={"auth": "header"})
    seen: set[str] = set()
    encoder = _Encoder()
    # years.end = "latest" is the year the configuration was read; the monthly window follows the run
    # date, which may lie in a later year (a run dated 2027-02 asks for 2027's months)
    years = range(config.start_year, max(config.end_year, run_date.year) + 1)
    for mode in modes:
        planner = RequestPlanner(config, header_auth, mode)
        for freq in settings.freqs:
            if freq == "A":
                periods_by_year = {y: [str(y)] for y in years}
            else:  # every month of every configured year: the window, the first run's history and backfills
                periods_by_year = {y: [f"{y}{m:02d}" for m in range(1, 13)] for y in years}
            for year, periods in periods_by_year.items():
                for iso3 in config.countries:
                    params = {"freq": freq, "year": year, "reporter": iso3, "periods": periods}
                    for spec in planner.plan(params):
                        key = request_key(settings.base_url, planner.url(spec), SECRET_PARAMS)
                        if key in seen:
                            continue
                        seen.add(key)
                        rows = [encoder.encode(r) for r in _rows(spec, iso3, model, published)]
                        writer.add(key, _body(rows), content_type="application/json",
                                   synthetic=True, recorded_at=RECORDED_AT)


__all__ = ["generate", "rows_for"]
