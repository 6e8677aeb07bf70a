"""GDELT DOC 2.0 API JSON -> raw tables, tagged with the pair, query and mode (from load_params).

- ``gdelt_doc_article``: ``artlist`` answers ``{"articles": [...]}`` -> raw.gdelt_doc_article.
- ``gdelt_doc_timeline``: ``timelinevolraw`` / ``timelinetone`` answers ``{"timeline": [{series, data}]}``
  -> raw.gdelt_doc_timeline, one row per point.

Every article field is a string (or null), a point's ``norm`` a number (or null): a retyped field is
quarantined, never loaded as the text of a number or an object.
"""
from flows.sources.gdelt_doc.connector import KIND_ARTICLE, KIND_TIMELINE
from flows.sources.loadspec import LoadSpec

#: the fields of an article and of a timeline point (README.md); another one is noted by the loader
ARTICLE_FIELDS = ("url", "url_mobile", "title", "seendate", "socialimage", "domain", "language", "sourcecountry")
POINT_FIELDS = ("date", "value", "norm")


def _not_of_type(fields: tuple[str, ...], types: tuple[str, ...], want: str) -> str:
    """A check: fields that are present and neither of ``types`` nor null (a retyped field, never loaded as text)."""
    ok = ", ".join(f"'{t}'" for t in (*types, "NULL"))
    cases = ", ".join(f"case when json_type(_raw::json -> '$.{f}') not in ({ok}) then 'field {f}: expected {want} or "
                      f"null, got ' || json_type(_raw::json -> '$.{f}') || ' ' || left((_raw::json -> '$.{f}')::varchar, 40) end"
                      for f in fields)
    return (f"select _file, record_no, 'wrong_type', problem from (select _file, record_no, concat_ws('; ', {cases}) "
            "as problem from {parsed}) where problem <> ''")


def _unknown(known: tuple[str, ...]) -> str:
    names = ", ".join(f"'{f}'" for f in known)
    return f"""
    select _file, field from (select _file, unnest(json_keys(_raw::json)) as field from {{parsed}})
    where field not in ({names})
    """


_ARTICLES = """
    with doc as (select filename as _file, content::json as j from read_text({files})),
    records as (select _file, unnest(from_json(coalesce(j -> '$.articles', '[]'), '["json"]')) as a,
                       generate_subscripts(from_json(coalesce(j -> '$.articles', '[]'), '["json"]'), 1) as n
                from doc where json_type(j -> '$.articles') = 'ARRAY')
"""

GDELT_DOC_ARTICLE = LoadSpec(
    kind=KIND_ARTICLE,
    raw_table=KIND_ARTICLE,
    columns={"record_no": "INTEGER", "pair": "VARCHAR", "query": "VARCHAR", "url": "VARCHAR", "url_mobile": "VARCHAR",
             "title": "VARCHAR", "seendate": "VARCHAR", "socialimage": "VARCHAR", "domain": "VARCHAR",
             "language": "VARCHAR", "sourcecountry": "VARCHAR"},
    parse_sql=_ARTICLES + """
    select _file, n as record_no, a::varchar as _raw, {pair} as pair, {query} as query, a ->> '$.url' as url,
           a ->> '$.url_mobile' as url_mobile, a ->> '$.title' as title, a ->> '$.seendate' as seendate,
           a ->> '$.socialimage' as socialimage, a ->> '$.domain' as domain, a ->> '$.language' as language,
           a ->> '$.sourcecountry' as sourcecountry
    from records
    """,
    checks=("""
    select _file, record_no, 'missing_field', 'article without url' from {parsed} where coalesce(url, '') = ''
    union all
    select _file, record_no, 'wrong_type', 'seendate ' || coalesce(seendate, 'null') || ' is not YYYYMMDDTHHMMSSZ'
    from {parsed} where not regexp_full_match(coalesce(seendate, ''), '[0-9]{8}T[0-9]{6}Z')
    union all
    select _file, record_no, 'beyond_horizon', 'seendate ' || seendate || ' is after the run date'
    from {parsed} where try_strptime(seendate, '%Y%m%dT%H%M%SZ') > date {run_date} + interval 2 day
    """, _not_of_type(ARTICLE_FIELDS, ("VARCHAR",), "a string")),
    natural_key=("pair", "url"),
    unknown_fields=_unknown(ARTICLE_FIELDS),
)

_TIMELINE = """
    with doc as (select filename as _file, content::json as j from read_text({files})),
    series as (select _file, unnest(from_json(j -> '$.timeline', '["json"]')) as s from doc
               where json_type(j -> '$.timeline') = 'ARRAY'),
    points as (select _file, s ->> '$.series' as series, unnest(from_json(s -> '$.data', '["json"]')) as p
               from series where json_type(s -> '$.data') = 'ARRAY')
"""

GDELT_DOC_TIMELINE = LoadSpec(
    kind=KIND_TIMELINE,
    raw_table=KIND_TIMELINE,
    columns={"record_no": "INTEGER", "pair": "VARCHAR", "query": "VARCHAR", "mode": "VARCHAR", "series": "VARCHAR",
             "date": "VARCHAR", "value": "DOUBLE", "norm": "DOUBLE"},
    parse_sql=_TIMELINE + """
    select _file, row_number() over (partition by _file) as record_no, p::varchar as _raw, p as _json, {pair} as pair, {query} as query,
           {mode} as mode, series, p ->> '$.date' as date, try_cast(p ->> '$.value' as double) as value,
           try_cast(p ->> '$.norm' as double) as norm
    from points
    """,
    checks=("""
    select _file, record_no, 'wrong_type', 'point ' || _raw || ': date must be YYYYMMDDTHHMMSSZ'
    from {parsed} where not regexp_full_match(coalesce(date, ''), '[0-9]{8}T[0-9]{6}Z')
    union all
    select _file, record_no, 'wrong_type', 'point ' || _raw || ': value must be a number'
    from {parsed} where coalesce(json_type(_json -> '$.value'), 'missing') not in ('DOUBLE', 'BIGINT', 'UBIGINT')
    """, _not_of_type(("norm",), ("DOUBLE", "BIGINT", "UBIGINT"), "a number")),
    natural_key=("pair", "mode", "series", "date"),
    unknown_fields=_unknown(POINT_FIELDS),
)

LOAD_SPECS = (GDELT_DOC_ARTICLE, GDELT_DOC_TIMELINE)
