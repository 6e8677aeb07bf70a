"""WITS TRAINS SDMX-JSON tariff answers -> raw.wits_trn_tariff (one row per series observation).

SDMX-JSON keeps codes out of the data: a series key ``"0:0:17:0:0"`` holds indexes into the
``structure.dimensions.series`` value lists, and each observation ``[value, a1, a2, ...]`` holds
indexes into the ``structure.attributes.observation`` value lists (README.md, "Response format").
TRN quirk: the key's third and fourth positions are PRODUCTCODE and PARTNER although the structure
announces PARTNER at keyPosition 2 (the real recording confirms it: position 3 runs over 5,388
products). Dimensions and attributes are looked up by id, never by position, except for that
documented key layout. Parsed with DuckDB's JSON functions, no Python loops. A file that is not a TRN answer, or
whose structure lacks an attribute the raw table loads, is refused whole; an observation that breaks the record
contract (a value that is not a number, a key or an attribute index that points nowhere) is quarantined, the
rest of the file loads. Dimensions and attributes the contract does not know are noted.
"""
from flows.sources.loadspec import LoadSpec
from flows.sources.wits.connector import KIND

#: series key positions (1-based) of the TRN key layout actually served
KEY_POSITIONS = {"FREQ": 1, "REPORTER": 2, "PRODUCTCODE": 3, "PARTNER": 4, "DATATYPE": 5}

_DIMS = ("FREQ", "REPORTER", "PRODUCTCODE", "PARTNER", "DATATYPE")
_ATTRS = ("NOMENCODE", "TARIFFTYPE", "SUM_OF_RATES", "MIN_RATE", "MAX_RATE", "TOTALNOOFLINES", "NBR_PREF_LINES",
          "NBR_MFN_LINES", "NBR_NA_LINES", "OBS_VALUE_MEASURE")
#: position of each attribute in structure.attributes.observation (1-based; the value is ov[pos + 1])
_ATTR_POS = ", ".join(f"max(case when a.id = '{a}' then pos end) as p_{a.lower()}" for a in _ATTRS)
_ATTR_IDX = ", ".join(f"try_cast(ov[p_{a.lower()} + 1] as integer) as i_{a.lower()}, ov[p_{a.lower()} + 1] as o_{a.lower()}"
                     for a in _ATTRS)
#: attributes whose index (as sent) points nowhere in their code list: a retyped index, never loaded as null
_UNRESOLVED = "concat_ws(', ', " + ", ".join(
    f"case when r.o_{a.lower()} is not null and a_{a.lower()}.v.id is null then '{a} ' || r.o_{a.lower()} end"
    for a in _ATTRS) + ")"

_VALUES = '[{"id":"VARCHAR","values":[{"id":"VARCHAR","name":"VARCHAR"}]}]'
_ATTR_LIST = ", ".join(f"'{a}'" for a in _ATTRS)
#: every dimension and attribute id of the TRN structure: loaded, or known and left out (EXCLUDEDFROM)
_KNOWN_IDS = (*_DIMS, "TIME_PERIOD", *_ATTRS, "EXCLUDEDFROM")
#: the dimension and observation attribute ids of each file (a file without a structure yields none)
_STRUCTURE_IDS = """
    with doc as (select filename as _file, try_cast(content as json) as j from read_text({file}))
    select _file, unnest(from_json(j -> '$.structure.attributes.observation', '[{"id": "VARCHAR"}]')).id as id from doc
    union all
    select _file, unnest(from_json(j -> '$.structure.dimensions.series', '[{"id": "VARCHAR"}]')).id from doc
    union all
    select _file, unnest(from_json(j -> '$.structure.dimensions.observation', '[{"id": "VARCHAR"}]')).id from doc
"""

_ROWS = f"""
    with doc as (select filename as _file, content::json as j from read_text({{file}})),
    parts as (
        select
            _file,
            j ->> '$.header.id' as dataflow_id,
            j ->> '$.header.prepared' as prepared,
            from_json(j -> '$.structure.dimensions.series', '{_VALUES}') as dims,
            from_json(j -> '$.structure.dimensions.observation', '{_VALUES}') as odims,
            from_json(j -> '$.structure.attributes.observation', '{_VALUES}') as attrs,
            from_json(coalesce(j -> '$.dataSets[0].series', '{{}}'), '"MAP(VARCHAR, JSON)"') as series
        from doc
    ),
    dim_list as (
        select unnest(dims) as d, generate_subscripts(dims, 1) as pos from parts
    ),
    dim_values as (
        select d.id as dim_id, unnest(d."values") as v, generate_subscripts(d."values", 1) - 1 as idx from dim_list
    ),
    time_values as (
        select unnest(odims[1]."values") as v, generate_subscripts(odims[1]."values", 1) - 1 as idx from parts
    ),
    attr_list as (
        select unnest(attrs) as a, generate_subscripts(attrs, 1) as pos from parts
    ),
    attr_values as (
        select a.id as attr_id, pos, unnest(a."values") as v, generate_subscripts(a."values", 1) - 1 as idx from attr_list
    ),
    entries as (
        select unnest(map_entries(series)) as e from parts
    ),
    observations as (
        select e.key as series_key, string_split(e.key, ':') as k,
               unnest(map_entries(from_json(coalesce(e.value -> '$.observations', '{{}}'), '"MAP(VARCHAR, JSON)"'))) as o
        from entries
    ),
    attr_pos as (
        select {_ATTR_POS} from attr_list
    ),
    records as (
        select
            row_number() over (order by series_key, o.key) as n,
            series_key, k, o.key as obs_key, o.value as obs_json, ov,
            {_ATTR_IDX}
        from (
            select *, try_cast(from_json(o.value, '["VARCHAR"]') as varchar[]) as ov from observations
        ) as obs
        cross join attr_pos
    )
"""


def _dim_join(dim_id: str) -> str:
    pos = KEY_POSITIONS[dim_id]
    a = "d_" + dim_id.lower()
    return (f"left join dim_values as {a} on {a}.dim_id = '{dim_id}' "
            f"and {a}.idx = try_cast(r.k[{pos}] as integer)")


def _attr_join(attr_id: str) -> str:
    a = "a_" + attr_id.lower()
    return f"left join attr_values as {a} on {a}.attr_id = '{attr_id}' and {a}.idx = r.i_{attr_id.lower()}"


_JOINS = "\n".join([_dim_join(d) for d in _DIMS] + [_attr_join(a) for a in _ATTRS]
                   + ["left join time_values as t on t.idx = try_cast(r.obs_key as integer)"])


WITS_TRN_TARIFF = LoadSpec(
    kind=KIND,
    raw_table="wits_trn_tariff",
    columns={
        "record_no": "INTEGER", "series_key": "VARCHAR", "freq": "VARCHAR", "reporter_code": "VARCHAR",
        "reporter_name": "VARCHAR", "partner_code": "VARCHAR", "partner_name": "VARCHAR",
        "product_code": "VARCHAR", "product_name": "VARCHAR", "datatype": "VARCHAR", "year": "VARCHAR",
        "rate": "DOUBLE", "nomen_code": "VARCHAR", "tariff_type": "VARCHAR", "sum_of_rates": "DOUBLE",
        "min_rate": "DOUBLE", "max_rate": "DOUBLE", "total_lines": "INTEGER", "pref_lines": "INTEGER",
        "mfn_lines": "INTEGER", "na_lines": "INTEGER", "value_measure": "VARCHAR", "dataflow_id": "VARCHAR",
        "prepared": "VARCHAR",
    },
    parse_sql=_ROWS + f"""
    select
        p._file,
        cast(r.n as integer) as record_no,
        r.series_key || ' ' || r.obs_key || ' ' || r.obs_json::varchar as _raw,
        r.obs_json as _obs,
        r.k as _key,
        t.v.id is not null as _has_year,
        {_UNRESOLVED} as _unresolved,
        r.series_key,
        d_freq.v.id as freq,
        d_reporter.v.id as reporter_code,
        d_reporter.v.name as reporter_name,
        d_partner.v.id as partner_code,
        d_partner.v.name as partner_name,
        d_productcode.v.id as product_code,
        d_productcode.v.name as product_name,
        d_datatype.v.id as datatype,
        t.v.id as year,
        try_cast(r.ov[1] as double) as rate,
        a_nomencode.v.id as nomen_code,
        a_tarifftype.v.id as tariff_type,
        try_cast(a_sum_of_rates.v.id as double) as sum_of_rates,
        try_cast(a_min_rate.v.id as double) as min_rate,
        try_cast(a_max_rate.v.id as double) as max_rate,
        try_cast(a_totalnooflines.v.id as integer) as total_lines,
        try_cast(a_nbr_pref_lines.v.id as integer) as pref_lines,
        try_cast(a_nbr_mfn_lines.v.id as integer) as mfn_lines,
        try_cast(a_nbr_na_lines.v.id as integer) as na_lines,
        a_obs_value_measure.v.id as value_measure,
        p.dataflow_id,
        p.prepared
    from records as r
    cross join (select _file, dataflow_id, prepared from parts) as p
    {_JOINS}
    """,
    file_checks=("""
    with doc as (select filename as _file, try_cast(content as json) as j from read_text({file}))
    select _file, 'not a WITS TRAINS tariff answer: header.id is ' || coalesce(j ->> '$.header.id', 'missing')
           || ' (expected DF_WITS_Tariff_TRAINS)'
    from doc where (j ->> '$.header.id') is distinct from 'DF_WITS_Tariff_TRAINS'
    """, f"""
    with ids as ({_STRUCTURE_IDS}),
    per_file as (select _file, list_filter([{_ATTR_LIST}], lambda a: not list_contains(list(id), a)) as missing
                 from ids group by _file)
    select _file, 'the SDMX structure lacks the observation attribute(s) ' || array_to_string(list_sort(missing), ', ')
           || ' that raw.wits_trn_tariff loads'
    from per_file where len(missing) > 0
    """),
    checks=(
        """
        select _file, record_no, 'wrong_type', 'series ' || series_key || ': observation value is '
               || coalesce(json_type(_obs -> '$[0]'), 'missing') || ', expected a number'
        from {parsed} where json_type(_obs -> '$[0]') not in ('DOUBLE', 'BIGINT', 'UBIGINT')
        """,
        """
        select _file, record_no, 'out_of_domain', 'series key ' || series_key
               || ' does not fit the TRN layout FREQ:REPORTER:PRODUCTCODE:PARTNER:DATATYPE'
        from {parsed} where len(_key) <> 5 or reporter_code is null or partner_code is null or product_code is null
        """,
        """
        select _file, record_no, 'out_of_domain', 'series ' || series_key || ': attribute index outside its code list: '
               || _unresolved
        from {parsed} where _unresolved <> ''
        """,
        """
        select _file, record_no, 'out_of_domain', 'series ' || series_key || ': observation period is not a year'
        from {parsed} where not _has_year or not regexp_full_match(coalesce(year, ''), '[0-9]{4}')
        """,
        """
        select _file, record_no, 'out_of_domain', 'series ' || series_key || ': rate ' || rate || ' is negative'
        from {parsed} where rate < 0
        """,
        """
        select _file, record_no, 'beyond_horizon', 'series ' || series_key || ': year ' || year || ' is after the run year'
        from {parsed} where regexp_full_match(coalesce(year, ''), '[0-9]{4}') and year::integer > year(date {run_date})
        """,
    ),
    natural_key=("reporter_code", "partner_code", "product_code", "year", "datatype"),
    unknown_fields=f"""
    with ids as ({_STRUCTURE_IDS})
    select _file, id from ids where id not in ({", ".join(f"'{x}'" for x in _KNOWN_IDS)})
    """,
    batch=False,  # the SDMX message's code lists are per file: one file per statement
)

LOAD_SPECS = (WITS_TRN_TARIFF,)
