"""GDELT 2.0 events export files -> raw tables.

- ``gdelt_event``: the CSV stream-unzipped from a 15-minute export zip (61 tab-separated fields, no
  header, no quoting) -> raw.gdelt_event, all 61 fields as VARCHAR exactly as sent (typed in
  staging), only events whose Actor1CountryCode and Actor2CountryCode form a configured pair
  (``{pairs}``, e.g. ``['CAN-CHN', ...]``, from the landed file's load_params). DuckDB parses the
  whole file; nothing is read row by row in Python.
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


def read_export_sql(file_expr: str = "{file}") -> str:
    """DuckDB's reader for export CSVs: 61 VARCHAR columns, tab, no header, no quote or escape."""
    return (f"read_csv({file_expr}, delim='\\t', header=false, quote='', escape='', auto_detect=false, "
            f"columns={_COLS_STRUCT})")


GDELT_EVENT = LoadSpec(
    kind=KIND_EVENT,
    raw_table=KIND_EVENT,
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
    # (expectations/suites/raw_gdelt_events) rejects non-numeric ids and malformed DATEADDED.
)

GDELT_EXPORT_FILE = LoadSpec(
    kind=KIND_FILE,
    raw_table=KIND_FILE,
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
    kind=KIND_PAIRS,
    raw_table=KIND_PAIRS,
    columns={"pair": "VARCHAR", "country_a": "VARCHAR", "country_b": "VARCHAR", "configured_on": "VARCHAR"},
    select_sql="""
    select * from read_csv({file}, delim='\\t', header=true, quote='', escape='', auto_detect=false,
        columns={'pair': 'VARCHAR', 'country_a': 'VARCHAR', 'country_b': 'VARCHAR', 'configured_on': 'VARCHAR'})
    """,
)

LOAD_SPECS = (GDELT_EVENT, GDELT_EXPORT_FILE, GDELT_CONFIGURED_PAIR)
