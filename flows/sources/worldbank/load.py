"""World Bank Indicators pages ``[meta, rows]`` -> raw.worldbank_indicator (one row per record)."""
from flows.sources.loadspec import LoadSpec
from flows.sources.worldbank.connector import KIND

_ROWS = """
    with doc as (select content::json as j from read_text({file})),
    records as (select unnest(from_json(j -> 1, '["json"]')) as r, generate_subscripts(from_json(j -> 1, '["json"]'), 1) as n from doc)
"""

WORLDBANK_INDICATOR = LoadSpec(
    kind=KIND,
    raw_table=KIND,
    columns={
        "record_no": "INTEGER", "indicator_id": "VARCHAR", "indicator_value": "VARCHAR", "country_id": "VARCHAR",
        "country_value": "VARCHAR", "countryiso3code": "VARCHAR", "date": "VARCHAR", "value": "DOUBLE",
        "unit": "VARCHAR", "obs_status": "VARCHAR", "decimal": "INTEGER",
    },
    select_sql=_ROWS + """
    select n as record_no,
           r ->> '$.indicator.id' as indicator_id, r ->> '$.indicator.value' as indicator_value,
           r ->> '$.country.id' as country_id, r ->> '$.country.value' as country_value,
           r ->> '$.countryiso3code' as countryiso3code, r ->> '$.date' as date,
           cast(r ->> '$.value' as double) as value, r ->> '$.unit' as unit,
           r ->> '$.obs_status' as obs_status, cast(r ->> '$.decimal' as integer) as decimal
    from records
    """,
    checks=(
        _ROWS + """
        select n, 'value is ' || json_type(r -> '$.value') || ' ' || (r -> '$.value')::varchar || ', expected a number or null'
        from records where json_type(r -> '$.value') not in ('DOUBLE', 'BIGINT', 'UBIGINT', 'NULL')
        """,
        _ROWS + """
        select n, 'missing or non-string field: ' || concat_ws(', ',
                  case when json_type(r -> '$.indicator.id') is distinct from 'VARCHAR' then 'indicator.id' end,
                  case when json_type(r -> '$.countryiso3code') is distinct from 'VARCHAR' then 'countryiso3code' end,
                  case when json_type(r -> '$.date') is distinct from 'VARCHAR' then 'date' end)
        from records
        where json_type(r -> '$.indicator.id') is distinct from 'VARCHAR'
           or json_type(r -> '$.countryiso3code') is distinct from 'VARCHAR'
           or json_type(r -> '$.date') is distinct from 'VARCHAR'
        """,
        _ROWS + """
        select n, 'date ' || (r ->> '$.date') || ' is not a year'
        from records where not regexp_full_match(coalesce(r ->> '$.date', ''), '[0-9]{4}')
        """,
    ),
)

LOAD_SPECS = (WORLDBANK_INDICATOR,)
