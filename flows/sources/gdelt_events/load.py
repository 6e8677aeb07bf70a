"""GDELT 2.0 events export files -> raw tables.

- ``gdelt_event``: the CSV stream-unzipped from a 15-minute export zip (61 tab-separated fields, no
  header, no quoting) -> raw.gdelt_event, all 61 fields as VARCHAR exactly as sent (typed in
  staging), ``record_no`` = the line in the file, only events whose Actor1CountryCode and
  Actor2CountryCode form a configured pair (``{pairs}``, from the landed file's load_params). DuckDB
  parses the whole file; nothing is read row by row in Python. A line that is not 61 fields (GDELT
  1.0's 58, a cut or garbage line) or not UTF-8, and a kept event whose id, dates, QuadClass,
  Goldstein (outside [-10, 10]), tone, mention, source or article count or root flag is malformed
  (staging would read it as 0 or null), is quarantined with its line;
  the file's other events load.
- ``gdelt_export_file``: one row per batch file handled by a run (rows, bytes, MD5, loaded/skipped
  and why) -> raw.gdelt_export_file; the total rows per batch normalise event volume.
- ``gdelt_configured_pair``: the pairs a run was configured for -> raw.gdelt_configured_pair (the
  relations marts cover the latest run's pairs, with zeros where a pair has no events yet).
"""
from flows.sources.gdelt_events.connector import KIND_EVENT, KIND_FILE, KIND_PAIRS
from flows.sources.loadspec import LoadSpec

#: GDELT 2.0 export columns in file order (the GDELT 2.0 event codebook; README.md)
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
_LINE = "concat_ws(chr(9), " + ", ".join(f"""coalesce("{c}", '')""" for c in EXPORT_COLUMNS) + ")"
#: a kept line's fields back from its text (_f: the text split at tabs), as read_csv reads them
_FIELDS = ", ".join(f"nullif(_f[{i}], '') as \"{c}\"" for i, c in enumerate(EXPORT_COLUMNS, start=1))


def read_export_sql(file_expr: str = "{files}", rejects: bool = False) -> str:
    """DuckDB's reader for export CSVs: 61 VARCHAR columns, tab, no header, no quote or escape.
    With ``rejects``, the loader's ``{store_rejects}`` options: none on its first, strict scan (a file
    with a line it cannot parse, a wrong field count or bytes that are not UTF-8, fails it), then, only
    if that fails, lines it cannot parse are kept in the ``{rejects}`` table with their line number
    instead of failing the file (flows/sources/loadspec.py)."""
    keep_rejects = "{store_rejects}" if rejects else ""
    return (f"read_csv({file_expr}, delim='\\t', header=false, quote='', escape='', auto_detect=false, "
            f"columns={_COLS_STRUCT}, filename=true{keep_rejects})")


def _numeric(column: str, low: float, high: float) -> str:
    return f"""
    select _file, record_no, 'wrong_type', '{column} ' || coalesce("{column}", 'null') || ' is not a number'
    from {{parsed}} where try_cast("{column}" as double) is null or isnan(try_cast("{column}" as double))
    union all
    select _file, record_no, 'out_of_domain', '{column} ' || "{column}" || ' is outside [{low:g}, {high:g}]'
    from {{parsed}} where try_cast("{column}" as double) not between {low} and {high}
    """


_KEEP = """
    "Actor1CountryCode" <> "Actor2CountryCode"
    and list_contains({pairs}, least("Actor1CountryCode", "Actor2CountryCode") || '-'
                               || greatest("Actor1CountryCode", "Actor2CountryCode"))
    """

GDELT_EVENT = LoadSpec(
    kind=KIND_EVENT,
    raw_table=KIND_EVENT,
    columns={"record_no": "INTEGER", "source_stream": "VARCHAR", **{c: "VARCHAR" for c in EXPORT_COLUMNS}},
    # One parallel scan of the files (no window over it: row_number() over () would number the
    # events in one thread, parsing included) keeps, per event, only its file's position in {files}
    # and, for an event of a configured pair (the pair filter below), its line's text. The table keeps
    # the scan's order, so its rowid numbers the events; the kept ones are split back into their
    # fields (an empty field is null, as read_csv reads it), and one more row per file counts all its
    # events, for line numbers and bad-record shares (keep_in_parse).
    split_sql=f"""
    select list_position({{files}}, filename) as _fi, case when {_KEEP} then {_LINE} end as _line
    from {read_export_sql(rejects=True)}
    """,
    parse_sql=f"""
    with events as (select _fi, rowid + 1 as _k, _line from {{split}}),
    per_file as (select _fi, min(_k) as _k, count(*) as _n from events group by _fi),
    kept as (select _fi, _k, _line, string_split(_line, chr(9)) as _f from events where _line is not null)
    select {{files}}[_fi] as _file, null::integer as record_no, _k, _line as _raw, {{stream}} as source_stream,
           {_FIELDS}, null::bigint as _n
    from kept
    union all by name
    select {{files}}[_fi] as _file, _k, _n from per_file
    """,
    csv_rejects=True,
    keep_in_parse=True,
    # the events bilateral keeps: a configured pair ({{pairs}}, e.g. ['CAN-CHN', ...]) between two countries
    keep=_KEEP,
    checks=(
        """
        select _file, record_no, 'wrong_type', 'GLOBALEVENTID ' || coalesce(GLOBALEVENTID, 'null') || ' is not an integer'
        from {parsed} where try_cast(GLOBALEVENTID as bigint) is null
        """,
        """
        select _file, record_no, 'wrong_type', 'SQLDATE ' || coalesce(SQLDATE, 'null') || ' is not a date YYYYMMDD'
        from {parsed} where try_strptime(SQLDATE, '%Y%m%d') is null
        """,
        """
        select _file, record_no, 'beyond_horizon', 'SQLDATE ' || SQLDATE || ' is after the run date ' || {run_date}
        from {parsed} where try_strptime(SQLDATE, '%Y%m%d') > date {run_date} + interval 1 day
        """,
        """
        select _file, record_no, 'wrong_type', 'DATEADDED ' || coalesce(DATEADDED, 'null') || ' is not a time YYYYMMDDHHMMSS'
        from {parsed} where try_strptime(DATEADDED, '%Y%m%d%H%M%S') is null
        """,
        """
        select _file, record_no, 'out_of_domain', 'QuadClass ' || coalesce(QuadClass, 'null') || ' is not 1, 2, 3 or 4'
        from {parsed} where coalesce(QuadClass, '') not in ('1', '2', '3', '4')
        """,
        """
        select _file, record_no, 'wrong_type', 'EventCode ' || coalesce(EventCode, 'null') || ' is not a CAMEO code'
        from {parsed} where not regexp_full_match(coalesce(EventCode, ''), '[0-9]{2,4}')
        """,
        *(f"""
        select _file, record_no, 'wrong_type', '{c} ' || coalesce({c}, 'null') || ' is not a count'
        from {{parsed}} where try_cast({c} as integer) is null or try_cast({c} as integer) < 0
        """ for c in ("NumMentions", "NumSources", "NumArticles")),
        """
        select _file, record_no, 'out_of_domain', 'IsRootEvent ' || coalesce(IsRootEvent, 'null') || ' is not 0 or 1'
        from {parsed} where coalesce(IsRootEvent, '') not in ('0', '1')
        """,
        _numeric("GoldsteinScale", -10, 10),
        _numeric("AvgTone", -100, 100),
    ),
    natural_key=("GLOBALEVENTID",),
)

GDELT_EXPORT_FILE = LoadSpec(
    kind=KIND_FILE,
    raw_table=KIND_FILE,
    columns={"record_no": "INTEGER", "batch_ts": "VARCHAR", "stream": "VARCHAR", "filename": "VARCHAR",
             "manifest_bytes": "BIGINT", "manifest_md5": "VARCHAR", "csv_rows": "BIGINT", "csv_bytes": "BIGINT",
             "status": "VARCHAR", "problem": "VARCHAR"},
    # written by the connector itself (one row per batch file it handled): no record contract to check
    parse_sql="""
    select _source_file as _file, row_number() over (partition by _source_file) as record_no,
           batch_ts || ' ' || "filename" as _raw, * exclude (_source_file)
    from read_csv({files}, filename='_source_file', delim='\\t', header=true, quote='', escape='', auto_detect=false,
        columns={'batch_ts': 'VARCHAR', 'stream': 'VARCHAR', 'filename': 'VARCHAR', 'manifest_bytes': 'BIGINT',
                 'manifest_md5': 'VARCHAR', 'csv_rows': 'BIGINT', 'csv_bytes': 'BIGINT', 'status': 'VARCHAR',
                 'problem': 'VARCHAR'})
    """,
)

GDELT_CONFIGURED_PAIR = LoadSpec(
    kind=KIND_PAIRS,
    raw_table=KIND_PAIRS,
    columns={"record_no": "INTEGER", "pair": "VARCHAR", "country_a": "VARCHAR", "country_b": "VARCHAR",
             "configured_on": "VARCHAR"},
    parse_sql="""
    select filename as _file, row_number() over (partition by filename) as record_no, pair as _raw,
           * exclude (filename)
    from read_csv({files}, filename=true, delim='\\t', header=true, quote='', escape='', auto_detect=false,
        columns={'pair': 'VARCHAR', 'country_a': 'VARCHAR', 'country_b': 'VARCHAR', 'configured_on': 'VARCHAR'})
    """,
)

LOAD_SPECS = (GDELT_EVENT, GDELT_EXPORT_FILE, GDELT_CONFIGURED_PAIR)
