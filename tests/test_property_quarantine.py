"""Property-based tests of the record contract, per source, in the sources' real formats: hypothesis
writes files mixing valid records with malformed ones (wrong types, missing, extra and retyped
fields, out-of-range values, dates past the horizon, duplicates, bad encodings). Through the real
loader into a real DuckDB file, every record must either be quarantined with the reason the contract
gives, or be loaded exactly as sent: never silently coerced into a wrong number, and the good records
around a bad one always load.

`pytest tests/test_property_quarantine.py --hypothesis-show-statistics` prints, per source, how many
records of each outcome were generated."""
from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from datetime import date
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from flows.landing import LandedFile
from flows.loading import load_results
from flows.paths import PACKAGE_DIR
from flows.sources.base import ExtractResult
from flows.sources.gdelt_events.load import EXPORT_COLUMNS
from flows.warehouse import ensure_schemas

RUN_DATE = date(2026, 11, 28)
COUNTS: dict[str, int] = {}  # outcome -> records, over every generated example (printed with -s)


@pytest.fixture(scope="module", autouse=True)
def _report_counts():
    yield
    if COUNTS:
        print("\nrecords generated, by outcome: " + json.dumps(dict(sorted(COUNTS.items())), indent=1))
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _load(source: str, kind: str, body: bytes, params: dict | None = None, suffix: str = ".json"):
    """Load one landed file (bad-record share unbounded: this tests records, not drift)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"file{suffix}"
        path.write_bytes(body)
        db = Path(tmp) / "w.duckdb"
        ensure_schemas(db)
        f = LandedFile("r", source, kind, str(path), "u", 200, len(body), hashlib.sha256(body).hexdigest(),
                       "2026-11-28T00:00:00+00:00", "replay", False, load_params=params or {})
        report = load_results(db, "r", [ExtractResult(source, "p", "p", files=[f])], run_date=RUN_DATE,
                              max_bad_share={source: 1.0})
        assert report.failures == [], report.failures
        with duckdb.connect(str(db), read_only=True) as con:
            raw = {r[0]: r[1:] for r in con.execute(f"select * exclude (_run_id, _landed_file, _file_sha256, _loaded_at, "
                                                    f"_origin, _synthetic) from raw.{kind}").fetchall()}
            cols = [c for c, in con.execute(f"select column_name from duckdb_columns() where schema_name = 'raw' and "
                                             f"table_name = '{kind}' and column_name not like '\\_%' escape '\\' "
                                             "order by column_index").fetchall()]
            quarantined = {r[0]: r[1] for r in con.execute(f"select record_no, rule from quarantine.{kind}").fetchall()}
    return {n: dict(zip(cols, (n, *v))) for n, v in raw.items()}, quarantined


def _check(source: str, expected: list[str | None], raw: dict, quarantined: dict) -> None:
    """expected[i]: the rule record i+1 must be quarantined for, or None when it must load."""
    for n, rule in enumerate(expected, start=1):
        outcome = f"{source}: {'quarantined ' + rule if rule else 'loaded'}"
        event(outcome)
        COUNTS[outcome] = COUNTS.get(outcome, 0) + 1
        if rule:
            assert quarantined.get(n) == rule and n not in raw, (n, rule, quarantined.get(n), raw.get(n))
        else:
            assert n in raw and n not in quarantined, (n, quarantined.get(n))


# --- World Bank ----------------------------------------------------------------------------------
WB_MUTATIONS = {
    "valid": (lambda r: r, None),
    "value as text": (lambda r: {**r, "value": "2.5%"}, "wrong_type"),
    "value as a bool": (lambda r: {**r, "value": True}, "wrong_type"),
    "value as an object": (lambda r: {**r, "value": {"v": 1}}, "wrong_type"),
    "value missing (not reported)": (lambda r: {k: v for k, v in r.items() if k != "value"}, None),
    "extra field": (lambda r: {**r, "footnote": "revised"}, None),
    "date not a year": (lambda r: {**r, "date": "20x1"}, "out_of_domain"),
    "date past the horizon": (lambda r: {**r, "date": "2099"}, "beyond_horizon"),
    "country code retyped as a number": (lambda r: {**r, "countryiso3code": 124}, "missing_field"),
    "country code lower case": (lambda r: {**r, "countryiso3code": "can"}, "out_of_domain"),
    "indicator missing": (lambda r: {k: v for k, v in r.items() if k != "indicator"}, "missing_field"),
}


def _wb_record(year: int, value: float) -> dict:
    return {"indicator": {"id": "NY.GDP.MKTP.CD", "value": "GDP"}, "country": {"id": "CA", "value": "Canada"},
            "countryiso3code": "CAN", "date": str(year), "value": value, "unit": "", "obs_status": "", "decimal": 0}


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(WB_MUTATIONS)), st.floats(0, 1e13, allow_nan=False)),
                min_size=1, max_size=25))
def test_worldbank_records(cases):
    records, expected = [], []
    for i, (name, value) in enumerate(cases):
        mutate, rule = WB_MUTATIONS[name]
        records.append(mutate(_wb_record(2000 + i % 20, value)))
        expected.append(rule)
    raw, quarantined = _load("worldbank", "worldbank_indicator", json.dumps([{"page": 1, "pages": 1}, records]).encode())
    _check("worldbank", expected, raw, quarantined)
    for n, record in enumerate(records, start=1):
        if n in raw:  # loaded exactly as sent: never coerced
            assert raw[n]["value"] == record.get("value") and raw[n]["date"] == record["date"]
            assert raw[n]["countryiso3code"] == record["countryiso3code"]


# --- UN Comtrade -----------------------------------------------------------------------------------
COMTRADE = json.loads((PACKAGE_DIR / "sources" / "comtrade" / "reference" / "recorded" / "get_C_A_HS_recorded.json")
                      .read_bytes())
CT_MUTATIONS = {
    "valid": (lambda r: r, None),
    "value as text": (lambda r: {**r, "primaryValue": "6.1e9 USD"}, "wrong_type"),
    "value negative": (lambda r: {**r, "primaryValue": -5.0}, "out_of_domain"),
    "value missing": (lambda r: {k: v for k, v in r.items() if k != "primaryValue"}, "wrong_type"),
    "refMonth 13": (lambda r: {**r, "refMonth": 13}, "out_of_domain"),
    "unknown flow": (lambda r: {**r, "flowCode": "Z"}, "out_of_domain"),
    "unknown partner code": (lambda r: {**r, "partnerCode": 9999}, "out_of_domain"),
    "reporter retyped as text": (lambda r: {**r, "reporterCode": "156"}, "wrong_type"),
    "cmdCode missing": (lambda r: {k: v for k, v in r.items() if k != "cmdCode"}, "wrong_type"),
    "year past the horizon": (lambda r: {**r, "refYear": 2099, "period": "2099"}, "out_of_domain"),
    "extra field": (lambda r: {**r, "newField": [1, 2]}, None),
    "unit code beyond 32 bits": (lambda r: {**r, "qtyUnitCode": 2 ** 40}, "out_of_domain"),
    "year as a fraction": (lambda r: {**r, "refYear": float(r["refYear"])}, "wrong_type"),
    "duplicate of a valid record": (lambda r: r, None),
}


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(CT_MUTATIONS)), st.integers(0, 3),
                          st.floats(0, 1e12, allow_nan=False)), min_size=1, max_size=25))
def test_comtrade_records(cases):
    records, expected = [], []
    for name, base, value in cases:
        mutate, rule = CT_MUTATIONS[name]
        records.append(mutate({**copy.deepcopy(COMTRADE["data"][base]), "primaryValue": value}))
        expected.append(rule)
    body = json.dumps({"elapsedTime": "0.1 secs", "count": len(records), "data": records, "error": ""}).encode()
    raw, quarantined = _load("comtrade", "comtrade_record", body)
    _check("comtrade", expected, raw, quarantined)
    for n, record in enumerate(records, start=1):
        if n in raw:
            assert raw[n]["primaryValue"] == record["primaryValue"] and raw[n]["cmdCode"] == record["cmdCode"]
            assert raw[n]["partnerCode"] == record["partnerCode"] and raw[n]["flowCode"] == record["flowCode"]


# --- GDELT events export ---------------------------------------------------------------------------
def _event(n: int, goldstein: float) -> list[str]:
    row = [""] * 61
    row[0], row[1], row[7], row[17], row[26], row[28], row[29] = str(n), "20250312", "CAN", "CHN", "042", "04", "1"
    row[30], row[31], row[34], row[59] = f"{goldstein:.1f}", "3", "-2.5", "20250312141500"
    row[25], row[32], row[33] = "1", "1", "3"  # IsRootEvent, NumSources, NumArticles: every real row has them
    return row


GD_MUTATIONS = {
    "valid": (lambda r: r, None),
    "58 fields (GDELT 1.0)": (lambda r: r[:58], "malformed_line"),
    "62 fields": (lambda r: r + ["extra"], "malformed_line"),
    "Goldstein 42": (lambda r: [*r[:30], "42.0", *r[31:]], "out_of_domain"),
    "Goldstein not a number": (lambda r: [*r[:30], "high", *r[31:]], "wrong_type"),
    "tone nan-ish": (lambda r: [*r[:34], "nan-ish", *r[35:]], "wrong_type"),
    "QuadClass 9": (lambda r: [*r[:29], "9", *r[30:]], "out_of_domain"),
    "SQLDATE not a date": (lambda r: [r[0], "2025-03-12", *r[2:]], "wrong_type"),
    "dated 2099": (lambda r: [r[0], "20990101", *r[2:]], "beyond_horizon"),
    "id not a number": (lambda r: ["x" + r[0], *r[1:]], "wrong_type"),
    "not UTF-8": (lambda r: [*r[:60], "https://example.com/\udcff"], "malformed_line"),
}


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(GD_MUTATIONS)), st.floats(-10, 10, allow_nan=False)),
                min_size=1, max_size=25))
def test_gdelt_event_records(cases):
    lines, expected = [], []
    for i, (name, goldstein) in enumerate(cases):
        mutate, rule = GD_MUTATIONS[name]
        lines.append("\t".join(mutate(_event(1000 + i, goldstein))))
        expected.append(rule)
    body = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    raw, quarantined = _load("gdelt_events", "gdelt_event", body,
                             {"stream": "export", "pairs": ["CAN-CHN"], "countries": ["CAN", "CHN"]}, ".CSV")
    _check("gdelt_events", expected, raw, quarantined)
    for n, line in enumerate(lines, start=1):
        if n in raw:
            fields = line.split("\t")
            assert raw[n]["GoldsteinScale"] == fields[30] and raw[n]["GLOBALEVENTID"] == fields[0]
            assert [raw[n][c] or "" for c in EXPORT_COLUMNS] == fields, "stored exactly as sent"


# --- GDELT DOC timeline ------------------------------------------------------------------------------
DOC_MUTATIONS = {
    "valid": (lambda p: p, None),
    "value as text": (lambda p: {**p, "value": "lots"}, "wrong_type"),
    "value missing": (lambda p: {"date": p["date"]}, "wrong_type"),
    "date malformed": (lambda p: {**p, "date": "2026-01-15"}, "wrong_type"),
    "extra field": (lambda p: {**p, "norm": 150000}, None),
}


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(DOC_MUTATIONS)), st.floats(-50, 50, allow_nan=False)),
                min_size=1, max_size=25))
def test_gdelt_doc_timeline_points(cases):
    points, expected = [], []
    for i, (name, value) in enumerate(cases):
        mutate, rule = DOC_MUTATIONS[name]
        points.append(mutate({"date": f"202601{1 + i % 28:02d}T000000Z", "value": value}))
        expected.append(rule)
    body = json.dumps({"timeline": [{"series": "Average Tone", "data": points}]}).encode()
    raw, quarantined = _load("gdelt_doc", "gdelt_doc_timeline", body, {"pair": "CAN-CHN", "query": "q",
                                                                       "mode": "timelinetone"})
    _check("gdelt_doc", expected, raw, quarantined)
    for n, point in enumerate(points, start=1):
        if n in raw:
            assert raw[n]["value"] == point["value"] and raw[n]["date"] == point["date"]


# --- WITS TRAINS -------------------------------------------------------------------------------------
WITS = json.loads((PACKAGE_DIR / "sources" / "wits" / "reference" / "trn_tariff_usa_000_2017.json").read_bytes())
WITS_KEYS = list(WITS["dataSets"][0]["series"])[:40]


@settings(max_examples=8, deadline=None, derandomize=True, database=None)
@given(st.dictionaries(st.integers(0, 39), st.sampled_from(["text", "negative", "missing"]), max_size=6))
def test_wits_observations(mutations):
    doc = copy.deepcopy(WITS)
    doc["dataSets"][0]["series"] = {k: doc["dataSets"][0]["series"][k] for k in WITS_KEYS}
    for i, how in mutations.items():
        obs = doc["dataSets"][0]["series"][WITS_KEYS[i]]["observations"]["0"]
        obs[0] = {"text": "n/a", "negative": -3.0, "missing": None}[how]
    raw, quarantined = _load("wits", "wits_trn_tariff", json.dumps(doc).encode())
    keys = {v["series_key"]: v for v in raw.values()}
    bad_keys = {WITS_KEYS[i]: how for i, how in mutations.items()}
    for key in WITS_KEYS:
        outcome = f"wits: {'quarantined' if key in bad_keys else 'loaded'}"
        event(outcome)
        COUNTS[outcome] = COUNTS.get(outcome, 0) + 1
        if key in bad_keys:
            assert key not in keys, (key, bad_keys[key])
        else:
            assert keys[key]["rate"] == WITS["dataSets"][0]["series"][key]["observations"]["0"][0]
    assert len(quarantined) == len(mutations) and len(raw) == 40 - len(mutations)
