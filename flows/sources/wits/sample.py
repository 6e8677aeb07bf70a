"""Sample WITS TRAINS answers for the configured countries, in the exact SDMX-JSON format of the
real recording (reference/trn_tariff_usa_000_2017.json), under the connector's own
request keys.

- United States MFN 2017: the REAL recorded answer (5,388 HS6 lines), replayed unmarked
  (``synthetic: false``): real 2017 data, the US MFN base of the sample.
- Every other answer is GENERATED and marked synthetic. MFN lines for the other countries cover
  the chapters the tariff measures touch (meat, fish, vegetables, cereals, oilseeds, fats, oil cake,
  energy, fertilisers, cotton, steel, aluminium, vehicles) in the H5 (HS2017) codes of the real
  recording, with rates of public orders of magnitude (Canada 6.1% on cars, China 9% on canola
  seed, 15% on cars) plus deterministic noise. TRAINS coverage is irregular and lags: only some
  years have data (Canada 2016/2019/2022, China 2015/2018/2021/2023, others as configured), the
  rest answer with a WITS error document saying no data, which the connector records as a note.
- Preferential answers exist only for pairs with an agreement (CAN-USA/USA-CAN: USMCA, mostly 0%);
  other pairs answer "no data", as WITS does without a preferential agreement.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from flows.http import request_key
from flows.sources.base import SampleContext
from flows.sources.wits.connector import request_plan, tariff_url, wits_code, wits_codes
from flows.sources.wits.connector import years as request_years

REAL_US_2017 = Path(__file__).resolve().parent / "reference" / "trn_tariff_usa_000_2017.json"
RECORDED_AT = "2026-10-15T00:00:00+00:00"
CHAPTERS = ("02", "03", "07", "10", "12", "15", "23", "27", "31", "52", "72", "73", "76", "87")
#: years with (generated) TRAINS data per reporter; other years answer "no data"
DATA_YEARS = {"CAN": (2016, 2019, 2022), "CHN": (2015, 2018, 2021, 2023), "USA": ()}
DEFAULT_DATA_YEARS = (2016, 2019, 2022)
#: preferential agreements among configured countries (USMCA/CUSMA)
AGREEMENTS = {frozenset({"CAN", "USA"}), frozenset({"CAN", "MEX"}), frozenset({"MEX", "USA"})}
# chapter-level MFN orders of magnitude (percent) and a few public line rates
_CHAPTER_RATE = {"CAN": {"02": 4.0, "03": 1.0, "07": 2.5, "10": 1.0, "12": 0.5, "15": 5.0, "23": 0.5, "27": 0.0,
                         "31": 0.0, "52": 0.0, "72": 0.5, "73": 2.5, "76": 2.0, "87": 6.1},
                 "CHN": {"02": 14.0, "03": 9.0, "07": 8.0, "10": 30.0, "12": 6.0, "15": 9.0, "23": 4.0, "27": 3.0,
                         "31": 4.0, "52": 5.0, "72": 4.0, "73": 8.0, "76": 6.0, "87": 15.0}}
_LINE_RATE = {("CHN", "120510"): 9.0, ("CHN", "151411"): 9.0, ("CHN", "151419"): 9.0, ("CHN", "151491"): 9.0,
              ("CHN", "151499"): 9.0, ("CHN", "230649"): 5.0, ("CHN", "071310"): 5.0, ("CHN", "020311"): 20.0,
              ("CHN", "030612"): 15.0, ("CHN", "030614"): 14.0, ("CHN", "870380"): 15.0,
              ("CAN", "870380"): 6.1, ("CAN", "870340"): 6.1, ("CAN", "870360"): 6.1, ("CAN", "120510"): 0.0}
NO_DATA_BODY = ('<?xml version="1.0" encoding="utf-8"?><wits:error xmlns:wits="http://wits.worldbank.org">'
                '<wits:message id="100" key="No Records Found.">No data available for the given combination '
                'of reporter, partner, product and year.</wits:message></wits:error>')


def _noise(*parts: object) -> float:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _rate(reporter: str, code: str, year: int) -> float:
    if (reporter, code) in _LINE_RATE:
        return _LINE_RATE[(reporter, code)]
    base = _CHAPTER_RATE.get(reporter, {}).get(code[:2], 2.0 + 6 * _noise(reporter, code[:2]))
    step = 0.9 if year >= 2018 and reporter == "CHN" else 1.0  # China's 2018 MFN cuts
    if _noise(reporter, code, "zero") < 0.25:
        return 0.0
    return round(base * step * (0.5 + _noise(reporter, code)), 1)


def _template() -> dict:
    return json.loads(REAL_US_2017.read_text(encoding="utf-8"))


def _message(template: dict, reporter: str, partner: str | None, year: int, codes: list[str]) -> bytes:
    """An SDMX-JSON TRAINS answer shaped exactly like the real one (same header, dimensions, attributes)."""
    doc = copy.deepcopy({k: v for k, v in template.items() if k != "dataSets"})
    doc["header"]["prepared"] = f"{min(year + 2, 2026)}-06-30T00:00:00"
    dims = {d["id"]: d for d in doc["structure"]["dimensions"]["series"]}
    names = {"CAN": "Canada", "CHN": "China", "USA": "United States", "MEX": "Mexico"}
    dims["REPORTER"]["values"] = [{"id": wits_code(reporter), "name": names.get(reporter, reporter)}]
    dims["PARTNER"]["values"] = ([{"id": "000", "name": "World"}] if partner is None
                                 else [{"id": wits_codes()[partner], "name": names.get(partner, partner)}])
    names_by_code = {v["id"]: v["name"] for v in template["structure"]["dimensions"]["series"][3]["values"]}
    dims["PRODUCTCODE"]["values"] = [{"id": c, "name": names_by_code.get(c, c)} for c in codes]
    doc["structure"]["dimensions"]["observation"][0]["values"] = [
        {"start": f"{year}-01-01T00:00:00", "end": f"{year}-12-31T00:00:00", "id": str(year), "name": str(year)}]
    attrs = {a["id"]: a for a in doc["structure"]["attributes"]["observation"]}
    tariff_type = {"id": "MFN", "name": "Most Favoured Nation Tariff"} if partner is None else \
        {"id": "PRF", "name": "Preferential tariff"}
    attrs["TARIFFTYPE"]["values"] = [tariff_type]
    value_lists: dict[str, list[str]] = {k: [] for k in ("SUM_OF_RATES", "MIN_RATE", "MAX_RATE", "TOTALNOOFLINES",
                                                         "NBR_PREF_LINES", "NBR_MFN_LINES", "NBR_NA_LINES")}

    def idx(attr: str, value: float | int) -> int:
        text = f"{value:g}"
        if text not in value_lists[attr]:
            value_lists[attr].append(text)
        return value_lists[attr].index(text)

    series = {}
    for i, code in enumerate(codes):
        rate = _rate(reporter, code, year) if partner is None else (0.0 if _noise(code, "pref") < 0.9 else
                                                                     _rate(reporter, code, year) / 2)
        lines = 1 + int(3 * _noise(reporter, code, "lines"))
        obs = [rate, 0, None, 0, idx("SUM_OF_RATES", round(rate * lines, 1)), idx("MIN_RATE", rate),
               idx("MAX_RATE", rate), idx("TOTALNOOFLINES", lines), idx("NBR_PREF_LINES", lines if partner else 0),
               idx("NBR_MFN_LINES", 0 if partner else lines), idx("NBR_NA_LINES", 0), 0]
        # TRN key layout actually served: FREQ:REPORTER:PRODUCTCODE:PARTNER:DATATYPE
        series[f"0:0:{i}:0:0"] = {"attributes": [], "annotations": [], "observations": {"0": obs}}
    for attr, values in value_lists.items():
        attrs[attr]["values"] = [{"id": v, "name": v} for v in values]
    out = {"header": doc["header"], "dataSets": [{"action": "Information", "attributes": [0], "series": series}],
           "structure": doc["structure"]}
    return json.dumps(out, separators=(",", ":")).encode()


def generate(ctx: SampleContext) -> None:
    config, source, writer = ctx.config, ctx.settings, ctx.writer()
    template = _template()
    real_codes = [v["id"] for v in template["structure"]["dimensions"]["series"][3]["values"]]
    codes = [c for c in real_codes if c[:2] in CHAPTERS]
    for year in request_years(config, source):
        for reporter, partner in request_plan(config, source):
            key = request_key(source.base_url, tariff_url(source, reporter, partner, year), ())
            if reporter == "USA" and partner is None and year == 2017:
                writer.add(key, REAL_US_2017.read_bytes(), content_type="application/json", synthetic=False,
                           recorded_at="2019-11-23T15:29:38+00:00")
                continue
            years = DATA_YEARS.get(reporter, DEFAULT_DATA_YEARS)
            has_data = year in years and (partner is None or frozenset({reporter, partner}) in AGREEMENTS)
            if has_data:
                writer.add(key, _message(template, reporter, partner, year, codes), content_type="application/json",
                           synthetic=True, recorded_at=RECORDED_AT)
            else:
                writer.add(key, NO_DATA_BODY.encode(), content_type="application/xml", synthetic=True,
                           recorded_at=RECORDED_AT)
