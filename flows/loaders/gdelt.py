"""GDELT files -> raw tables.

- ``gdelt_event``: the CSV stream-unzipped from a 15-minute export zip (61 tab-separated fields, no
  header, no quoting) -> raw.gdelt_event, all 61 fields as VARCHAR exactly as sent (typed in
  staging), only events whose Actor1CountryCode and Actor2CountryCode form a configured pair
  (``{pairs}``, e.g. ``['CAN-CHN', ...]``, from the landed file's load_params). DuckDB parses the
  whole file; nothing is read row by row in Python.
- ``gdelt_export_file``: one row per batch file handled by a run (rows, bytes, MD5, loaded/skipped
  and why) -> raw.gdelt_export_file; the total rows per batch normalise event volume.
- ``gdelt_configured_pair``: the pairs a run was configured for -> raw.gdelt_configured_pair (the
  relations marts cover the latest run's pairs, with zeros where a pair has no events yet).
- ``gdelt_doc_article`` / ``gdelt_doc_timeline``: DOC 2.0 API JSON (artlist; timelinevolraw and
  timelinetone) -> raw.gdelt_doc_article / raw.gdelt_doc_timeline, tagged with the pair and mode.
"""
from flows.loaders.base import LoadSpec

#: GDELT 2.0 export columns in file order (codebook, source-formats.md §2.3)
EXPORT_COLUMNS = [
    "GLOBALEVENTID", "SQLDATE", "MonthYear", "Year", "FractionDate",
    "Actor1Code", "Actor1Name", "Actor1CountryCode", "Actor1KnownGroupCode", "Actor1EthnicCode",
    "Actor1Religion1Code", "Actor1Religion2Code", "Actor1Type1Code", "Actor1Type2Code", "Actor1Type3Code",
    "Actor2Code", "Actor2Name", "Actor2CountryCode", "Actor2KnownGroupCode", "Actor2EthnicCode",
    "Actor2Religion1Code", "Actor2Religion2Code", "Actor2Type1Code", "Actor2Type2Code", "Actor2Type3Code",
    "IsRootEvent", "EventCode", "EventBaseCode", "EventRootCode", "QuadClass", "GoldsteinScale",
    "NumMentions", "NumSources", "NumArticles", "AvgTone",
    "Actor1Geo_Type", "Actor1Geo_FullName", "Actor1Geo_CountryCode", "Actor1Geo_ADM1Code", "Actor1Geo_ADM2Code",
    "Actor1Geo_Lat", "Actor1Geo_Long", "Actor1Geo_FeatureID",
    "Actor2Geo_Type", "Actor2Geo_FullName", "Actor2Geo_CountryCode", "Actor2Geo_ADM1Code", "Actor2Geo_ADM2Code",
    "Actor2Geo_Lat", "Actor2Geo_Long", "Actor2Geo_FeatureID",
    "ActionGeo_Type", "ActionGeo_FullName", "ActionGeo_CountryCode", "ActionGeo_ADM1Code", "ActionGeo_ADM2Code",
    "ActionGeo_Lat", "ActionGeo_Long", "ActionGeo_FeatureID",
    "DATEADDED", "SOURCEURL",
]
assert len(EXPORT_COLUMNS) == 61

_COLS_STRUCT = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in EXPORT_COLUMNS) + "}"


def read_export_sql(file_expr: str = "{file}") -> str:
    """DuckDB's reader for export CSVs: 61 VARCHAR columns, tab, no header, no quote or escape."""
    return (f"read_csv({file_expr}, delim='\\t', header=false, quote='', escape='', auto_detect=false, "
            f"columns={_COLS_STRUCT})")


GDELT_EVENT = LoadSpec(
    kind="gdelt_event",
    raw_table="gdelt_event",
    columns={"source_stream": "VARCHAR", **{c: "VARCHAR" for c in EXPORT_COLUMNS}},
    select_sql=f"""
    select {{stream}} as source_stream, *
    from {read_export_sql()}
    where "Actor1CountryCode" <> "Actor2CountryCode"
      and list_contains({{pairs}}, least("Actor1CountryCode", "Actor2CountryCode") || '-'
                                   || greatest("Actor1CountryCode", "Actor2CountryCode"))
    """,
    # No per-file check query: each would parse the file a second time. The connector has already
    # refused files whose rows are not 61 fields; staging types with try_cast and the raw GX suite
    # (expectations/suites/raw_gdelt_events.json) rejects non-numeric ids and malformed DATEADDED.
)

GDELT_EXPORT_FILE = LoadSpec(
    kind="gdelt_export_file",
    raw_table="gdelt_export_file",
    columns={"batch_ts": "VARCHAR", "stream": "VARCHAR", "filename": "VARCHAR", "manifest_bytes": "BIGINT",
             "manifest_md5": "VARCHAR", "csv_rows": "BIGINT", "csv_bytes": "BIGINT", "status": "VARCHAR",
             "problem": "VARCHAR"},
    select_sql="""
    select * from read_csv({file}, delim='\\t', header=true, quote='', escape='', auto_detect=false,
        columns={'batch_ts': 'VARCHAR', 'stream': 'VARCHAR', 'filename': 'VARCHAR', 'manifest_bytes': 'BIGINT',
                 'manifest_md5': 'VARCHAR', 'csv_rows': 'BIGINT', 'csv_bytes': 'BIGINT', 'status': 'VARCHAR',
                 'problem': 'VARCHAR'})
    """,
)

GDELT_CONFIGURED_PAIR = LoadSpec(
    kind="gdelt_configured_pair",
    raw_table="gdelt_configured_pair",
    columns={"pair": "VARCHAR", "country_a": "VARCHAR", "country_b": "VARCHAR", "configured_on": "VARCHAR"},
    select_sql="""
    select * from read_csv({file}, delim='\\t', header=true, quote='', escape='', auto_detect=false,
        columns={'pair': 'VARCHAR', 'country_a': 'VARCHAR', 'country_b': 'VARCHAR', 'configured_on': 'VARCHAR'})
    """,
)

_ARTICLES = """
    with doc as (select content::json as j from read_text({file})),
    records as (select unnest(from_json(coalesce(j -> '$.articles', '[]'), '["json"]')) as a,
                       generate_subscripts(from_json(coalesce(j -> '$.articles', '[]'), '["json"]'), 1) as n
                from doc where json_type(j -> '$.articles') = 'ARRAY')
"""

GDELT_DOC_ARTICLE = LoadSpec(
    kind="gdelt_doc_article",
    raw_table="gdelt_doc_article",
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
    kind="gdelt_doc_timeline",
    raw_table="gdelt_doc_timeline",
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

LOAD_SPECS = [GDELT_EVENT, GDELT_EXPORT_FILE, GDELT_CONFIGURED_PAIR, GDELT_DOC_ARTICLE, GDELT_DOC_TIMELINE]
