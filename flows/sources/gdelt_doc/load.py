"""GDELT DOC 2.0 API JSON -> raw tables, tagged with the pair, query and mode (from load_params).

- ``gdelt_doc_article``: ``artlist`` answers ``{"articles": [...]}`` -> raw.gdelt_doc_article.
- ``gdelt_doc_timeline``: ``timelinevolraw`` / ``timelinetone`` answers ``{"timeline": [{series, data}]}``
  -> raw.gdelt_doc_timeline, one row per point.
"""
from flows.sources.gdelt_doc.connector import KIND_ARTICLE, KIND_TIMELINE
from flows.sources.loadspec import LoadSpec

_ARTICLES = """
    with doc as (select content::json as j from read_text({file})),
    records as (select unnest(from_json(coalesce(j -> '$.articles', '[]'), '["json"]')) as a,
                       generate_subscripts(from_json(coalesce(j -> '$.articles', '[]'), '["json"]'), 1) as n
                from doc where json_type(j -> '$.articles') = 'ARRAY')
"""

GDELT_DOC_ARTICLE = LoadSpec(
    kind=KIND_ARTICLE,
    raw_table=KIND_ARTICLE,
    columns={"pair": "VARCHAR", "query": "VARCHAR", "record_no": "INTEGER", "url": "VARCHAR", "url_mobile": "VARCHAR",
             "title": "VARCHAR", "seendate": "VARCHAR", "socialimage": "VARCHAR", "domain": "VARCHAR",
             "language": "VARCHAR", "sourcecountry": "VARCHAR"},
    select_sql=_ARTICLES + """
    select {pair} as pair, {query} as query, n as record_no, a ->> '$.url' as url, a ->> '$.url_mobile' as url_mobile,
           a ->> '$.title' as title, a ->> '$.seendate' as seendate, a ->> '$.socialimage' as socialimage,
           a ->> '$.domain' as domain, a ->> '$.language' as language, a ->> '$.sourcecountry' as sourcecountry
    from records
    """,
    checks=(_ARTICLES + """
    select n, 'article without url or with seendate ' || coalesce(a ->> '$.seendate', 'null') || ' (expected YYYYMMDDTHHMMSSZ)'
    from records
    where coalesce(a ->> '$.url', '') = '' or not regexp_full_match(coalesce(a ->> '$.seendate', ''), '[0-9]{8}T[0-9]{6}Z')
    """,),
)

_TIMELINE = """
    with doc as (select content::json as j from read_text({file})),
    series as (select unnest(from_json(j -> '$.timeline', '["json"]')) as s from doc
               where json_type(j -> '$.timeline') = 'ARRAY'),
    points as (select s ->> '$.series' as series, unnest(from_json(s -> '$.data', '["json"]')) as p,
                      generate_subscripts(from_json(s -> '$.data', '["json"]'), 1) as n
               from series where json_type(s -> '$.data') = 'ARRAY')
"""

GDELT_DOC_TIMELINE = LoadSpec(
    kind=KIND_TIMELINE,
    raw_table=KIND_TIMELINE,
    columns={"pair": "VARCHAR", "query": "VARCHAR", "mode": "VARCHAR", "series": "VARCHAR", "record_no": "INTEGER",
             "date": "VARCHAR", "value": "DOUBLE", "norm": "DOUBLE"},
    select_sql=_TIMELINE + """
    select {pair} as pair, {query} as query, {mode} as mode, series, n as record_no, p ->> '$.date' as date,
           cast(p ->> '$.value' as double) as value, cast(p ->> '$.norm' as double) as norm
    from points
    """,
    checks=(_TIMELINE + """
    select n, 'point ' || p::varchar || ': date must be YYYYMMDDTHHMMSSZ and value a number'
    from points
    where not regexp_full_match(coalesce(p ->> '$.date', ''), '[0-9]{8}T[0-9]{6}Z')
       or json_type(p -> '$.value') not in ('DOUBLE', 'BIGINT', 'UBIGINT')
    """,),
)

LOAD_SPECS = (GDELT_DOC_ARTICLE, GDELT_DOC_TIMELINE)
