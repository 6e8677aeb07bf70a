"""UN Comtrade ``get``/``preview`` answers ``{elapsedTime, count, data: [records], error}`` ->
raw.comtrade_record, one row per record with the API's 47 fields under their API names.

Checks refuse a file (naming the field and the records) when the envelope changed shape, a
required field is missing or has the wrong JSON type (e.g. a non-numeric primaryValue), a value
is out of its domain (refMonth, period vs freqCode, flowCode, negative values) or a reporter /
partner code is not in Comtrade's reference lists (flows/reference/countries/Reporters.json,
reference/partners.csv).
"""
from __future__ import annotations

from pathlib import Path

from flows.paths import REFERENCE_DIR
from flows.sources.comtrade.connector import KIND
from flows.sources.loadspec import LoadSpec

PARTNERS_CSV = Path(__file__).resolve().parent / "reference" / "partners.csv"

#: API field -> DuckDB type, in API order (README.md, "Record fields")
FIELDS: dict[str, str] = {
    "typeCode": "VARCHAR", "freqCode": "VARCHAR", "refPeriodId": "INTEGER", "refYear": "INTEGER",
    "refMonth": "INTEGER", "period": "VARCHAR", "reporterCode": "INTEGER", "reporterISO": "VARCHAR",
    "reporterDesc": "VARCHAR", "flowCode": "VARCHAR", "flowDesc": "VARCHAR", "partnerCode": "INTEGER",
    "partnerISO": "VARCHAR", "partnerDesc": "VARCHAR", "partner2Code": "INTEGER", "partner2ISO": "VARCHAR",
    "partner2Desc": "VARCHAR", "classificationCode": "VARCHAR", "classificationSearchCode": "VARCHAR",
    "isOriginalClassification": "BOOLEAN", "cmdCode": "VARCHAR", "cmdDesc": "VARCHAR", "aggrLevel": "INTEGER",
    "isLeaf": "BOOLEAN", "customsCode": "VARCHAR", "customsDesc": "VARCHAR", "mosCode": "VARCHAR",
    "motCode": "INTEGER", "motDesc": "VARCHAR", "qtyUnitCode": "INTEGER", "qtyUnitAbbr": "VARCHAR",
    "qty": "DOUBLE", "isQtyEstimated": "BOOLEAN", "altQtyUnitCode": "INTEGER", "altQtyUnitAbbr": "VARCHAR",
    "altQty": "DOUBLE", "isAltQtyEstimated": "BOOLEAN", "netWgt": "DOUBLE", "isNetWgtEstimated": "BOOLEAN",
    "grossWgt": "DOUBLE", "isGrossWgtEstimated": "BOOLEAN", "cifvalue": "DOUBLE", "fobvalue": "DOUBLE",
    "primaryValue": "DOUBLE", "legacyEstimationFlag": "INTEGER", "isReported": "BOOLEAN", "isAggregate": "BOOLEAN",
}
_INT = ("UBIGINT", "BIGINT")
_NUM = ("UBIGINT", "BIGINT", "DOUBLE")
#: fields every record must carry, with the JSON types allowed
REQUIRED: dict[str, tuple[str, ...]] = {
    "typeCode": ("VARCHAR",), "freqCode": ("VARCHAR",), "refYear": _INT, "refMonth": _INT, "period": ("VARCHAR",),
    "reporterCode": _INT, "flowCode": ("VARCHAR",), "partnerCode": _INT, "partner2Code": _INT,
    "classificationCode": ("VARCHAR",), "cmdCode": ("VARCHAR",), "customsCode": ("VARCHAR",), "motCode": _INT,
    "primaryValue": _NUM,
}
#: optional numeric fields: a number or null
NUMERIC_OR_NULL = ("cifvalue", "fobvalue", "qty", "altQty", "netWgt", "grossWgt")
FLOW_CODES = ("M", "X", "RM", "RX", "DX", "FM", "MIP", "MOP", "XIP", "XOP")

_STRUCT = "{" + ", ".join(f'"{k}": "{v}"' for k, v in FIELDS.items()) + "}"


def _known_codes() -> list[int]:
    """Comtrade reporter and partner codes of the reference lists (read once, inlined in the check)."""
    import csv
    import json

    codes = {int(r["id"]) for r in csv.DictReader(PARTNERS_CSV.open(encoding="utf-8"))}
    doc = json.loads((REFERENCE_DIR / "countries" / "Reporters.json").read_text(encoding="utf-8-sig"))
    codes |= {int(r["reporterCode"]) for r in doc["results"]}
    return sorted(codes)


_KNOWN = ", ".join(map(str, _known_codes()))
_CHECKED = {**REQUIRED, **{f: _NUM for f in NUMERIC_OR_NULL}}
_JSON_STRUCT = "{" + ", ".join(f'"{k}": "JSON"' for k in _CHECKED) + "}"


def _type_problem(field: str, allowed: tuple[str, ...], nullable: bool) -> str:
    ok = ", ".join(f"'{t}'" for t in allowed)
    want = {"VARCHAR": "a string"}.get(allowed[0], "an integer" if allowed == _INT else "a number")
    if nullable:
        return (f"case when json_type(j.{field}) not in ({ok}) then 'field {field}: expected {want} or null, got ' "
                f"|| json_type(j.{field}) || ' ' || left(j.{field}::varchar, 40) end")
    return (f"case when j.{field} is null then 'field {field}: missing or null' when json_type(j.{field}) not in ({ok}) "
            f"then 'field {field}: expected {want}, got ' || json_type(j.{field}) || ' ' || left(j.{field}::varchar, 40) end")


_TYPE_EXPRS = [_type_problem(f, t, False) for f, t in REQUIRED.items()] + \
              [_type_problem(f, _NUM, True) for f in NUMERIC_OR_NULL]
_FLOWS = ", ".join(f"'{f}'" for f in FLOW_CODES)
_DOMAIN_EXPRS = [
    "case when v.freqCode not in ('A', 'M') then 'field freqCode: ' || v.freqCode || ' is not A or M' end",
    "case when not (v.refMonth between 1 and 12 or v.refMonth = 52) then 'field refMonth: ' || v.refMonth || ' is not 1..12 or 52' end",
    "case when v.freqCode = 'A' and (v.refMonth <> 52 or v.period <> v.refYear::varchar) then 'field period: ' || v.period "
    "|| ' does not match annual refYear ' || v.refYear || ' / refMonth 52' end",
    "case when v.freqCode = 'M' and v.period is distinct from (v.refYear::varchar || lpad(v.refMonth::varchar, 2, '0')) "
    "then 'field period: ' || v.period || ' does not match monthly refYear/refMonth ' || v.refYear || '/' || v.refMonth end",
    f"case when v.flowCode not in ({_FLOWS}) then 'field flowCode: unknown flow ' || v.flowCode end",
    "case when v.primaryValue < 0 then 'field primaryValue: negative ' || v.primaryValue end",
    f"case when v.reporterCode not in ({_KNOWN}) then 'field reporterCode: unknown Comtrade code ' || v.reporterCode end",
    f"case when v.partnerCode not in ({_KNOWN}) then 'field partnerCode: unknown Comtrade code ' || v.partnerCode end",
    f"case when v.partner2Code not in ({_KNOWN}) then 'field partner2Code: unknown Comtrade code ' || v.partner2Code end",
]

# One parse of the whole document into typed records (and, for the checks, per-field JSON values).
_TYPED = f"""
    with doc as (select content::json as j from read_text({{file}})),
    parsed as (select from_json(j -> '$.data', '[{_STRUCT}]') as vs from doc),
    records as (select unnest(range(1, len(vs) + 1)) as n, unnest(vs) as v from parsed)
"""
_CHECKED_RECORDS = f"""
    with doc as (select content::json as j from read_text({{file}})),
    parsed as (select from_json(j -> '$.data', '[{_JSON_STRUCT}]') as js, from_json(j -> '$.data', '[{_STRUCT}]') as vs
               from doc),
    records as (select unnest(range(1, len(vs) + 1)) as n, unnest(js) as j, unnest(vs) as v from parsed)
"""

COMTRADE_RECORD = LoadSpec(
    kind=KIND,
    raw_table=KIND,
    columns={"record_no": "INTEGER", **FIELDS},
    select_sql=_TYPED + """
    select n as record_no, v.* from records
    """,
    checks=(
        # changed schema: the envelope
        """
        with doc as (select try_cast(content as json) as j from read_text({file}))
        select 0, 'changed schema: expected an object with a "data" array, got '
                  || coalesce(json_type(j), 'invalid JSON') || ' with keys ' || coalesce(json_keys(j)::varchar, '[]')
        from doc where json_type(j -> '$.data') is distinct from 'ARRAY'
        """,
        # per record: missing fields, wrong JSON types (non-numeric values), values out of their
        # domain, codes not in the reference lists
        _CHECKED_RECORDS + f"""
        , problems as (
            select n, concat_ws('; ', {', '.join(_TYPE_EXPRS)}) as type_problems,
                   concat_ws('; ', {', '.join(_DOMAIN_EXPRS)}) as domain_problems
            from records)
        select n, case when type_problems <> '' then type_problems else domain_problems end
        from problems where type_problems <> '' or domain_problems <> '' order by n
        """,
    ),
)

LOAD_SPECS = (COMTRADE_RECORD,)
