"""dlt loading the same landed files into DuckDB, the two ways dlt pipelines are written:

- ``dict``: the resource yields one dict per record (csv / json from the standard library);
- ``arrow``: the resource yields pyarrow tables (pyarrow's CSV reader and compute filter for GDELT,
  the answer's records as one table per file for Comtrade).

    python -m flows.bench.dlt_load {dlt_dict,dlt_arrow}_{gdelt,comtrade} WORK_DIR FILESET_JSON

Imports only dlt, pyarrow, duckdb and the standard library, plus the column lists below, so that it
can run under a separate interpreter (``bilateral bench --dlt-python``) when dlt conflicts with the
pinned stack. Prints one JSON line like flows.bench.variants. dlt drops columns that are null in
every row and renames columns to snake_case, so only its row count is compared with bilateral's.
"""
from __future__ import annotations

import csv
import json
import os
import resource
import sys
import time
from pathlib import Path

PAIRS = {"CAN-CHN", "CAN-USA", "CHN-USA"}
A1, A2 = 7, 17  # Actor1CountryCode, Actor2CountryCode in the 61 export fields


def _columns() -> list[str]:
    try:
        from flows.sources.gdelt_events.load import EXPORT_COLUMNS
    except ImportError:  # a separate interpreter without bilateral: the list is passed in the environment
        return json.loads(os.environ["BILATERAL_BENCH_GDELT_COLUMNS"])
    return EXPORT_COLUMNS


def _kept(a1: str, a2: str) -> bool:
    return a1 != a2 and (min(a1, a2) + "-" + max(a1, a2)) in PAIRS


def gdelt_dicts(files: list[str]):
    cols = _columns()
    for path in files:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if _kept(row[A1], row[A2]):
                    yield {"source_stream": "events", **dict(zip(cols, row))}


def gdelt_tables(files: list[str]):
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pcsv

    cols = _columns()
    pairs = pa.array(sorted(PAIRS))
    for path in files:
        t = pcsv.read_csv(path, read_options=pcsv.ReadOptions(column_names=cols),
                          parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False),
                          convert_options=pcsv.ConvertOptions(column_types={c: pa.string() for c in cols},
                                                              strings_can_be_null=False))
        a1, a2 = t["Actor1CountryCode"], t["Actor2CountryCode"]
        key = pc.binary_join_element_wise(pc.min_element_wise(a1, a2), pc.max_element_wise(a1, a2), "-")
        t = t.filter(pc.and_(pc.not_equal(a1, a2), pc.is_in(key, value_set=pairs)))
        yield t.add_column(0, "source_stream", pa.array(["events"] * t.num_rows, pa.string()))


def comtrade_dicts(files: list[str]):
    for path in files:
        with open(path, encoding="utf-8") as fh:
            yield from json.load(fh)["data"]


def comtrade_tables(files: list[str]):
    import pyarrow as pa

    for path in files:
        with open(path, encoding="utf-8") as fh:
            yield pa.Table.from_pylist(json.load(fh)["data"])


READERS = {"dlt_dict_gdelt": (gdelt_dicts, "gdelt_event"), "dlt_arrow_gdelt": (gdelt_tables, "gdelt_event"),
           "dlt_dict_comtrade": (comtrade_dicts, "comtrade_record"),
           "dlt_arrow_comtrade": (comtrade_tables, "comtrade_record")}


def run(name: str, work: Path, files: list[str]) -> dict:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    import duckdb

    reader, table = READERS[name]
    db = work / "dlt.duckdb"
    pipeline = dlt.pipeline(pipeline_name=f"bench_{name}", pipelines_dir=str(work / "dlt_pipelines"),
                            destination=dlt.destinations.duckdb(str(db)), dataset_name="raw")
    resource_ = dlt.resource(reader(files), name=table, write_disposition="append")
    t0 = time.perf_counter()
    pipeline.run(resource_)
    seconds = time.perf_counter() - t0
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(f"select count(*) from raw.{table}").fetchone()[0]
    con.close()
    return {"seconds": seconds, "rows_out": int(rows), "digest": ""}


def main(argv: list[str]) -> int:
    name, work, fileset = argv[0], Path(argv[1]), argv[2]
    work.mkdir(parents=True, exist_ok=True)
    files = json.loads(Path(fileset).read_text())["files"]
    out = run(name, work, files)
    out["peak_rss_mb"] = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                             resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
