"""World Bank Indicators pages ``[meta, rows]`` -> raw.worldbank_indicator (one row per record).

Record contract (a record that breaks it is quarantined, the rest of the page loads): ``value`` a
number or null; ``indicator.id``, ``countryiso3code`` and ``date`` strings; ``date`` a year no later
than the run's year; ``countryiso3code`` three letters; every other field of its type or null
(``decimal`` an integer, ``unit``/``obs_status`` and the names strings).
"""
from flows.sources.loadspec import LoadSpec
from flows.sources.worldbank.connector import KIND

#: the fields of a record (README.md); another one (a new or renamed field) is noted by the loader
RECORD_FIELDS = ("indicator", "country", "countryiso3code", "date", "value", "unit", "obs_status", "decimal")
#: optional fields and the JSON types they may have besides null (a retyped one is quarantined, never
#: loaded as null or as the text of an array)
OPTIONAL = {"indicator": ("OBJECT",), "country": ("OBJECT",), "indicator.value": ("VARCHAR",),
            "country.id": ("VARCHAR",), "country.value": ("VARCHAR",), "unit": ("VARCHAR",),
            "obs_status": ("VARCHAR",), "decimal": ("BIGINT", "UBIGINT")}
_WANT = {"OBJECT": "an object", "VARCHAR": "a string", "BIGINT": "an integer"}


def _retyped(path: str, types: tuple[str, ...]) -> str:
    value, ok = f"(_json -> '$.{path}')", ", ".join(f"'{t}'" for t in (*types, "NULL"))
    return (f"case when json_type({value}) not in ({ok}) then 'field {path}: expected {_WANT[types[0]]} or null, got ' "
            f"|| json_type({value}) || ' ' || left({value}::varchar, 40) end")


_RETYPED = ", ".join(_retyped(f, t) for f, t in OPTIONAL.items())

WORLDBANK_INDICATOR = LoadSpec(
    kind=KIND,
    raw_table=KIND,
    columns={
        "record_no": "INTEGER", "indicator_id": "VARCHAR", "indicator_value": "VARCHAR", "country_id": "VARCHAR",
        "country_value": "VARCHAR", "countryiso3code": "VARCHAR", "date": "VARCHAR", "value": "DOUBLE",
        "unit": "VARCHAR", "obs_status": "VARCHAR", "decimal": "INTEGER",
    },
    parse_sql="""
    with doc as (select filename as _file, content::json as j from read_text({files})),
    records as (select _file, unnest(from_json(j -> 1, '["json"]')) as r,
                       generate_subscripts(from_json(j -> 1, '["json"]'), 1) as n from doc)
    select _file, n as record_no, r::varchar as _raw, r as _json,
           r ->> '$.indicator.id' as indicator_id, r ->> '$.indicator.value' as indicator_value,
           r ->> '$.country.id' as country_id, r ->> '$.country.value' as country_value,
           r ->> '$.countryiso3code' as countryiso3code, r ->> '$.date' as date,
           try_cast(r ->> '$.value' as double) as value, r ->> '$.unit' as unit,
           r ->> '$.obs_status' as obs_status, try_cast(r ->> '$.decimal' as integer) as decimal
    from records
    """,
    file_checks=("""
    with doc as (select filename as _file, try_cast(content as json) as j from read_text({files}))
    select _file, 'expected a 2-element array [pageMeta, rows], got ' || coalesce(json_type(j), 'invalid JSON')
    from doc where json_type(j) is distinct from 'ARRAY' or json_type(j -> 1) not in ('ARRAY', 'NULL')
    """,),
    checks=(
        """
        select _file, record_no, 'wrong_type', 'value is ' || json_type(_json -> '$.value') || ' '
               || left((_json -> '$.value')::varchar, 40) || ', expected a number or null'
        from {parsed} where json_type(_json -> '$.value') not in ('DOUBLE', 'BIGINT', 'UBIGINT', 'NULL')
        """,
        """
        select _file, record_no, 'missing_field', 'missing or non-string field: ' || concat_ws(', ',
                  case when json_type(_json -> '$.indicator.id') is distinct from 'VARCHAR' then 'indicator.id' end,
                  case when json_type(_json -> '$.countryiso3code') is distinct from 'VARCHAR' then 'countryiso3code' end,
                  case when json_type(_json -> '$.date') is distinct from 'VARCHAR' then 'date' end)
        from {parsed}
        where json_type(_json -> '$.indicator.id') is distinct from 'VARCHAR'
           or json_type(_json -> '$.countryiso3code') is distinct from 'VARCHAR'
           or json_type(_json -> '$.date') is distinct from 'VARCHAR'
        """,
        f"""
        select _file, record_no, 'wrong_type', problem
        from (select _file, record_no, concat_ws('; ', {_RETYPED}) as problem from {{parsed}}) where problem <> ''
        """,
        """
        select _file, record_no, 'out_of_domain', 'date ' || coalesce(date, 'null') || ' is not a year'
        from {parsed} where not regexp_full_match(coalesce(date, ''), '[0-9]{4}')
        """,
        """
        select _file, record_no, 'beyond_horizon', 'date ' || date || ' is after the run year ' || year(date {run_date})
        from {parsed} where regexp_full_match(coalesce(date, ''), '[0-9]{4}') and date::integer > year(date {run_date})
        """,
        """
        select _file, record_no, 'out_of_domain', 'countryiso3code ' || countryiso3code || ' is not an ISO3 code'
        from {parsed} where countryiso3code is not null and not regexp_full_match(countryiso3code, '[A-Z]{3}')
        """,
    ),
    natural_key=("countryiso3code", "indicator_id", "date"),
    unknown_fields=f"""
    select _file, field from (select _file, unnest(json_keys(_json)) as field from {{parsed}})
    where field not in ({", ".join(f"'{f}'" for f in RECORD_FIELDS)})
    """,
)

LOAD_SPECS = (WORLDBANK_INDICATOR,)
