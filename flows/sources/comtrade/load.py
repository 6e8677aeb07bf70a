"""UN Comtrade ``get``/``preview`` answers ``{elapsedTime, count, data: [records], error}`` ->
raw.comtrade_record, one row per record with the API's 47 fields under their API names.

A file is refused whole when its envelope changed shape. A record is quarantined (the rest load)
when a required field is missing or any field has the wrong JSON type (e.g. a non-numeric
primaryValue, a text aggrLevel: from_json would load it as null), a
value is out of its domain (refMonth, period vs freqCode, flowCode, negative values, an integer
beyond 32 bits: from_json would load it as null too), a reporter / partner code is not in Comtrade's
reference lists (flows/reference/countries/Reporters.json, reference/partners.csv) or its year is
after the run's year. A field outside the 47 (a new or renamed one) is noted by the loader.
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
#: the JSON types each DuckDB type of FIELDS accepts
_JSON_TYPES = {"VARCHAR": ("VARCHAR",), "INTEGER": _INT, "DOUBLE": _NUM, "BOOLEAN": ("BOOLEAN",)}
#: every other field is optional: its type or null; a retyped one is quarantined, never loaded as null
OPTIONAL: dict[str, tuple[str, ...]] = {f: _JSON_TYPES[t] for f, t in FIELDS.items() if f not in REQUIRED}
FLOW_CODES = ("M", "X", "RM", "RX", "DX", "FM", "MIP", "MOP", "XIP", "XOP")

#: the parse's types: an INTEGER field is read as HUGEINT (any JSON integer fits), so that a value
#: beyond 32 bits is named by a check instead of loading as null
_PARSED = {k: "HUGEINT" if v == "INTEGER" else v for k, v in FIELDS.items()}
_STRUCT = "{" + ", ".join(f'"{k}": "{v}"' for k, v in _PARSED.items()) + "}"


def _known_codes() -> list[int]:
    """Comtrade reporter and partner codes of the reference lists (read once, inlined in the check)."""
    import csv
    import json

    codes = {int(r["id"]) for r in csv.DictReader(PARTNERS_CSV.open(encoding="utf-8"))}
    doc = json.loads((REFERENCE_DIR / "countries" / "Reporters.json").read_text(encoding="utf-8-sig"))
    codes |= {int(r["reporterCode"]) for r in doc["results"]}
    return sorted(codes)


_KNOWN = ", ".join(map(str, _known_codes()))
_CHECKED = {**REQUIRED, **OPTIONAL}
#: the JSON paths whose types one json_type call per record lists, in _CHECKED order
_PATHS = "[" + ", ".join(f"'$.{k}'" for k in _CHECKED) + "]"
_POSITION = {k: i for i, k in enumerate(_CHECKED, start=1)}


def _type_problem(field: str, allowed: tuple[str, ...], nullable: bool) -> str:
    """The problem of ``field``'s JSON type, from the record's ``_types`` list (SQL null: missing,
    'NULL': a JSON null); the value is read from the record's text only for a record that has one."""
    ok = ", ".join(f"'{t}'" for t in allowed)
    want = {"VARCHAR": "a string", "BOOLEAN": "true or false"}.get(allowed[0], "an integer" if allowed == _INT else "a number")
    ty, value = f"_types[{_POSITION[field]}]", f"left(json_extract(_raw, '$.{field}')::varchar, 40)"
    if nullable:
        return (f"case when {ty} not in ({ok}, 'NULL') then 'field {field}: expected {want} or null, got ' "
                f"|| {ty} || ' ' || {value} end")
    return (f"case when coalesce({ty}, 'NULL') = 'NULL' then 'field {field}: missing or null' when {ty} not in ({ok}) "
            f"then 'field {field}: expected {want}, got ' || {ty} || ' ' || {value} end")


_TYPE_EXPRS = [_type_problem(f, t, False) for f, t in REQUIRED.items()] + \
              [_type_problem(f, t, True) for f, t in OPTIONAL.items()]
_FLOWS = ", ".join(f"'{f}'" for f in FLOW_CODES)
_RANGE_EXPRS = [f"""case when "{f}" not between -2147483648 and 2147483647 then 'field {f}: ' || "{f}" """
                "|| ' is beyond a 32-bit integer' end" for f, t in FIELDS.items() if t == "INTEGER"]
_DOMAIN_EXPRS = [
    "case when freqCode not in ('A', 'M') then 'field freqCode: ' || freqCode || ' is not A or M' end",
    "case when not (refMonth between 1 and 12 or refMonth = 52) then 'field refMonth: ' || refMonth || ' is not 1..12 or 52' end",
    "case when freqCode = 'A' and (refMonth <> 52 or period <> refYear::varchar) then 'field period: ' || period "
    "|| ' does not match annual refYear ' || refYear || ' / refMonth 52' end",
    "case when freqCode = 'M' and period is distinct from (refYear::varchar || lpad(refMonth::varchar, 2, '0')) "
    "then 'field period: ' || period || ' does not match monthly refYear/refMonth ' || refYear || '/' || refMonth end",
    f"case when flowCode not in ({_FLOWS}) then 'field flowCode: unknown flow ' || flowCode end",
    "case when primaryValue < 0 then 'field primaryValue: negative ' || primaryValue end",
    "case when cifvalue < 0 or fobvalue < 0 then 'field cifvalue/fobvalue: negative' end",
    f"case when reporterCode not in ({_KNOWN}) then 'field reporterCode: unknown Comtrade code ' || reporterCode end",
    f"case when partnerCode not in ({_KNOWN}) then 'field partnerCode: unknown Comtrade code ' || partnerCode end",
    f"case when partner2Code not in ({_KNOWN}) then 'field partner2Code: unknown Comtrade code ' || partner2Code end",
    *_RANGE_EXPRS,
]
_HORIZON = "case when refYear > year(date {run_date}) then 'field refYear: ' || refYear || ' is after the run year' end"

COMTRADE_RECORD = LoadSpec(
    kind=KIND,
    raw_table=KIND,
    columns={"record_no": "INTEGER", **FIELDS},
    # Each answer is split into its records' texts by one from_json of the whole document (null for a
    # file that is not an object with a "data" array: it gives no record, and the file check names
    # it); each record's text is then typed, and its checked fields' JSON types listed, by one parse
    # each of that small text, which DuckDB runs in parallel over records, not over files.
    split_sql="""
    with split as (select filename as _file, try(from_json(content, '{"data": ["json"]}')).data as rs
                   from read_text({files}))
    select _file, unnest(range(1, len(rs) + 1)) as record_no, unnest(rs) as r from split
    """,
    parse_sql=f"""
    select _file, record_no, r::varchar as _raw, json_type(r, {_PATHS}) as _types, unnest(from_json(r, '{_STRUCT}'))
    from {{split}}
    """,
    file_checks_if_empty=True,
    file_checks=("""
    with doc as (select filename as _file, content, try_cast(content as json) as j from read_text({files}))
    select _file, case when j is null then 'the file cannot be read as JSON (it starts with '
                                           || to_json(left(content, 40)) || ')'
                       else 'expected an object with a "data" array, got ' || json_type(j) || ' with keys '
                            || coalesce(json_keys(j)::varchar, '[]') end
    from doc where json_type(j, '$.data') is distinct from 'ARRAY'
    """,),
    # per record: missing fields and wrong JSON types (e.g. a non-numeric primaryValue) first, then
    # values out of their domain, codes not in the reference lists, periods after the run year
    checks=(f"""
    with problems as (
        select _file, record_no, concat_ws('; ', {', '.join(_TYPE_EXPRS)}) as type_problems,
               concat_ws('; ', {', '.join(_DOMAIN_EXPRS)}, {_HORIZON}) as domain_problems
        from {{parsed}})
    select _file, record_no, case when type_problems <> '' then 'wrong_type' else 'out_of_domain' end,
           case when type_problems <> '' then type_problems else domain_problems end
    from problems where type_problems <> '' or domain_problems <> ''
    """,),
    natural_key=("freqCode", "period", "reporterCode", "partnerCode", "partner2Code", "flowCode", "cmdCode",
                 "customsCode", "motCode"),
    # the union of the keys of a file's records; only a record with more keys than the known fields it
    # carries (from its _types list) is looked at field by field
    unknown_fields=f"""
    with records as (select _file, json_keys(_raw) as keys, list_count(_types) as known from {{parsed}}),
    keys as (select _file, unnest(keys) as field from records where len(keys) > known)
    select _file, field from keys where field not in ({", ".join(f"'{f}'" for f in FIELDS)})
    """,
)

LOAD_SPECS = (COMTRADE_RECORD,)
