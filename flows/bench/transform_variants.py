"""The ``transform`` case's measured things, each run in a child process of its own:

    python -m flows.bench.transform_variants NAME SCRATCH PREPARED_DIR

prints one JSON line like :mod:`flows.bench.variants` (``seconds``, ``rows_out``, ``peak_rss_mb``)
plus ``marts`` ({mart: [rows, hash]}) and the dbt timings (``dbt_elapsed_s``: run_results.json's
elapsed time, ``nodes``: seconds per model, ``partial_parse``: what dbt's log says about parsing).

Every variant first restores a prepared warehouse (:mod:`flows.bench.transform_data`) to the same
path, ``PREPARED_DIR/wh`` (so dbt's partial-parse state, which remembers the warehouse path, is
reusable as on a night), untimed; then times one thing:

- ``dbt_run``: ``dbt run`` of every model (flows/transform.py's invocation with ``run``);
- ``direct_sql``: the same models' compiled SQL (from ``dbt compile``'s manifest), each statement
  in DAG order on one plain DuckDB connection, creating the same views and tables;
- ``dbt_build``: ``dbt build`` as the nightly runs it (seeds, snapshot, models, tests, unit tests);
- ``dbt_night`` / ``dbt_full_refresh``: after a full build and one new night of data, the nightly's
  ``dbt build``, and the same with ``--full-refresh``.

``BILATERAL_BENCH_CORRUPT_MART=<mart>`` makes ``direct_sql`` drop one row of that mart after its
run (the tests' way to check that different outputs fail the case).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from flows.bench.variants import peak_rss_mb
from flows.transform import NIGHTLY_BUILD

CORRUPT_ENV = "BILATERAL_BENCH_CORRUPT_MART"
RUN_ID = "bench-transform"
NIGHT_RUN_ID = "bench-night2"


def live_db(prepared: Path) -> Path:
    return prepared / "wh" / "bilateral.duckdb"


def restore(prepared: Path, state: str) -> Path:
    """Copy the prepared state ``state`` (a folder of ``prepared``) to ``prepared/wh``; its DuckDB path."""
    live = prepared / "wh"
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(prepared / state, live)
    return live_db(prepared)


def mart_digests(db: Path) -> dict[str, list]:
    """{mart: [rows, hash]} of every table of schema marts: an order-independent hash of every column
    as text (floating point to 9 significant digits, so that a different summation order of the same
    numbers does not count as a difference)."""
    import duckdb

    out: dict[str, list] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        cols: dict[str, list[tuple[str, str]]] = {}
        for table, column, dtype in con.execute(
                "select table_name, column_name, data_type from duckdb_columns() where schema_name = 'marts' "
                "and table_name in (select table_name from duckdb_tables() where schema_name = 'marts') "
                "order by table_name, column_index").fetchall():
            cols.setdefault(table, []).append((column, dtype))
        for table, columns in cols.items():
            exprs = ", ".join(
                f"coalesce(printf('%.9g', \"{c}\"), '<null>')" if t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("DECIMAL")
                else f"coalesce(\"{c}\"::varchar, '<null>')" for c, t in columns)
            n, h = con.execute(f'select count(*), coalesce(bit_xor(hash({exprs})), 0) from marts."{table}"').fetchone()
            out[table] = [int(n), f"{int(h):016x}"]
    return out


def _dbt_log_parsing(log: Path, offset: int) -> str:
    """What dbt's file log says about tonight's parse: 'partial', 'full (<why>)' or 'unknown'."""
    if not log.exists():
        return "unknown"
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    for line in text.splitlines():
        if "Unable to do partial parsing" in line:
            return "full (" + line.split("Unable to do partial parsing", 1)[1].strip(" .:") + ")"
    if "Found " in text:  # dbt's info line of node counts: it parsed, and did not say it could not partially
        return "partial"
    return "unknown"


def _dbt(prepared: Path, db: Path, args: list[str], run_id: str = RUN_ID, full_refresh: bool = False) -> dict:
    """One flows.transform.build invocation (restricted to inputs.json's selection, if any), timed;
    dbt's own timings from run_results.json. dbt's file log is on at level info (the nightly has it
    off): it says whether dbt could parse partially."""
    from flows import transform
    from flows.paths import find_project

    select = json.loads((prepared / "inputs.json").read_text())["select"]
    log = db.parent / "dbt" / "logs" / "dbt.log"
    offset = log.stat().st_size if log.exists() else 0
    t0 = time.perf_counter()
    report = transform.build(find_project(), db, run_id, args=[*args, *select, "--log-level-file", "info"],
                             full_refresh=full_refresh)
    seconds = time.perf_counter() - t0
    if not report.success:
        raise RuntimeError(f"dbt {' '.join(args)}{' --full-refresh' if full_refresh else ''} failed on {db}: "
                           f"{report.message}")
    results = json.loads((db.parent / "dbt" / "target" / "run_results.json").read_text())
    nodes = {r["unique_id"].split(".")[-1]: round(float(r.get("execution_time") or 0), 3)
             for r in results.get("results", []) if r["unique_id"].startswith("model.")}
    kinds: dict[str, float] = {}  # thread seconds per kind of node (model, test, seed, snapshot)
    for r in results.get("results", []):
        kind = r["unique_id"].split(".")[0]
        kinds[kind] = round(kinds.get(kind, 0.0) + float(r.get("execution_time") or 0), 3)
    marts = mart_digests(db)
    return {"seconds": seconds, "dbt_elapsed_s": float(results.get("elapsed_time") or 0), "nodes": nodes,
            "node_kinds": kinds, "node_count": len(results.get("results", [])),
            "partial_parse": _dbt_log_parsing(log, offset),
            "marts": marts, "rows_out": sum(n for n, _ in marts.values()), "digest": ""}


def dbt_run(prepared: Path) -> dict:
    return _dbt(prepared, restore(prepared, "raw"), ["run"])


def dbt_build(prepared: Path) -> dict:
    return _dbt(prepared, restore(prepared, "raw"), NIGHTLY_BUILD)


def dbt_night(prepared: Path) -> dict:
    return _dbt(prepared, restore(prepared, "night"), NIGHTLY_BUILD, run_id=NIGHT_RUN_ID)


def dbt_full_refresh(prepared: Path) -> dict:
    return _dbt(prepared, restore(prepared, "night"), NIGHTLY_BUILD, run_id=NIGHT_RUN_ID, full_refresh=True)


def direct_sql(prepared: Path) -> dict:
    """The compiled plan (flows.bench.transform_data.write_plan), statement by statement."""
    import duckdb

    from flows.config import DEFAULT_DUCKDB_MEMORY_LIMIT

    db = restore(prepared, "raw")
    plan = json.loads((prepared / "plan.json").read_text())  # the models the selection has
    nodes: dict[str, float] = {}
    # the memory limit dbt's connection has (dbt_project/profiles.yml), so that both spill alike
    con = duckdb.connect(str(db), config={"memory_limit": os.environ.get("BILATERAL_DUCKDB_MEMORY_LIMIT",
                                                                    DEFAULT_DUCKDB_MEMORY_LIMIT)})
    t0 = time.perf_counter()
    for step in plan:
        started = time.perf_counter()
        con.execute(f"create schema if not exists {step['schema']}")
        kind = "view" if step["materialized"] == "view" else "table"
        try:
            con.execute(f"create or replace {kind} {step['relation']} as (\n{step['sql']}\n)")
        except duckdb.Error as exc:
            raise RuntimeError(f"direct SQL of model {step['name']} failed on {db}: {exc}") from None
        nodes[step["name"]] = round(time.perf_counter() - started, 3)
    seconds = time.perf_counter() - t0
    corrupt = os.environ.get(CORRUPT_ENV)
    if corrupt:
        deleted = con.execute(f"delete from marts.{corrupt} where rowid = (select min(rowid) from marts.{corrupt})").fetchone()[0]
        if not deleted:
            raise RuntimeError(f"{CORRUPT_ENV}={corrupt}: marts.{corrupt} is empty, nothing to corrupt; name a mart with rows")
    con.close()
    marts = mart_digests(db)
    return {"seconds": seconds, "dbt_elapsed_s": seconds, "nodes": nodes, "node_count": len(plan),
            "partial_parse": "", "marts": marts, "rows_out": sum(n for n, _ in marts.values()), "digest": ""}


def transform_prepare(prepared: Path) -> dict:
    from flows.bench.transform_data import prepare

    t0 = time.perf_counter()
    about = prepare(prepared)
    return {"seconds": time.perf_counter() - t0, "rows_out": about["raw_rows"], "digest": "", **about}


VARIANTS = {f.__name__: f for f in (transform_prepare, dbt_run, direct_sql, dbt_build, dbt_night, dbt_full_refresh)}


def main(argv: list[str]) -> int:
    import flows  # noqa: F401 - runtime defaults (telemetry off, Prefect home)

    name, _scratch, prepared = argv[0], Path(argv[1]), Path(argv[2])
    out = VARIANTS[name](prepared)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
