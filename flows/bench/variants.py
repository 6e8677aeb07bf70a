"""The measured things, each run in a child process of its own (so its peak RSS is its own):

    python -m flows.bench.variants NAME WORK_DIR FILESET_JSON

prints one JSON line: ``seconds`` (the timed part only), ``rows_out`` (rows in the output table),
``digest`` (an order-independent hash of the output rows' record columns, to check that two variants
produced the same rows) and ``peak_rss_mb``. The dlt variants live in :mod:`flows.bench.dlt_load`
(they may run under another interpreter).
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import date
from pathlib import Path

from flows.bench.generate import GDELT_PAIRS, FileSet

RUN_DATE = date(2026, 11, 30)


def peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def digest(con, table: str, columns: list[str]) -> tuple[int, str]:
    """(rows, hash of the rows' values as text, independent of row order)."""
    cols = ", ".join(f'coalesce("{c}"::varchar, \'<null>\')' for c in columns)
    n, h = con.execute(f"select count(*), coalesce(bit_xor(hash({cols})), 0) from {table}").fetchone()
    return int(n), f"{int(h):016x}"


def _gdelt_columns() -> list[str]:
    from flows.sources.gdelt_events.load import EXPORT_COLUMNS

    return ["source_stream", *EXPORT_COLUMNS]


def _comtrade_columns() -> list[str]:
    from flows.sources.comtrade.load import FIELDS

    return list(FIELDS)


def _landed(fs: FileSet, kind: str, params: dict) -> list:
    from flows.landing import LandedFile

    return [LandedFile(run_id="bench", source=fs.source, kind=kind, path=p, request_url="bench", http_status=200,
                       bytes=Path(p).stat().st_size, sha256=sha, fetched_at="2026-11-30T00:00:00+00:00",
                       origin="replay", synthetic=True, load_params=params)
            for p, sha in zip(fs.files, fs.sha256)]


def _bilateral_load(work: Path, results: list, table: str, columns: list[str]) -> dict:
    """flows.loading.load_results timed on ``results`` in a fresh warehouse; the rows ``table`` got."""
    from flows.loading import load_results
    from flows.warehouse import connect, ensure_schemas

    db = work / "bilateral.duckdb"
    ensure_schemas(db)
    t0 = time.perf_counter()
    report = load_results(db, "bench", results, run_date=RUN_DATE)
    seconds = time.perf_counter() - t0
    if report.failures:
        raise RuntimeError(f"bilateral's load refused files: {report.failures[0].message}")
    with connect(db) as con:
        rows, h = digest(con, table, columns)
    return {"seconds": seconds, "rows_out": rows, "digest": h, "quarantined": report.rows_quarantined}


def bilateral_gdelt(work: Path, fs: FileSet) -> dict:
    """flows.loading.load_results on the landed export files: one partition (the events stream), as
    the connector lands them; quarantine, audit and run ids included."""
    from flows.sources.base import ExtractResult

    files = _landed(fs, "gdelt_event", {"stream": "events", "countries": ["CAN", "CHN", "USA"], "pairs": GDELT_PAIRS})
    return _bilateral_load(work, [ExtractResult("gdelt_events", "events", "events", files=files, records=fs.rows)],
                           "raw.gdelt_event", _gdelt_columns())


def bare_gdelt(work: Path, fs: FileSet) -> dict:
    """One DuckDB statement: read_csv over every file + the same pair filter, INSERT into a table."""
    import duckdb

    from flows.sources.gdelt_events.load import read_export_sql

    cols = _gdelt_columns()
    con = duckdb.connect(str(work / "bare.duckdb"))
    con.execute("create table gdelt_event (" + ", ".join(f'"{c}" varchar' for c in cols) + ")")
    t0 = time.perf_counter()
    con.execute(f"""insert into gdelt_event select 'events', * exclude (filename) from {read_export_sql('?')}
        where "Actor1CountryCode" <> "Actor2CountryCode" and list_contains(?, least("Actor1CountryCode", "Actor2CountryCode")
              || '-' || greatest("Actor1CountryCode", "Actor2CountryCode"))""", [fs.files, GDELT_PAIRS])
    seconds = time.perf_counter() - t0
    rows, h = digest(con, "gdelt_event", cols)
    return {"seconds": seconds, "rows_out": rows, "digest": h}


def bilateral_comtrade(work: Path, fs: FileSet) -> dict:
    """flows.loading.load_results on the answer files: one partition per file, as the connector lands them."""
    from flows.sources.base import ExtractResult

    results = [ExtractResult("comtrade", Path(f.path).stem, Path(f.path).stem, files=[f])
               for f in _landed(fs, "comtrade_record", {})]
    return _bilateral_load(work, results, "raw.comtrade_record", _comtrade_columns())


def bare_comtrade(work: Path, fs: FileSet) -> dict:
    """One DuckDB statement: every answer read whole (read_text), its data array typed by one
    from_json, unnested, INSERT into a table. (read_json(format='unstructured') of the same files is
    about 20x slower: DuckDB's reader is built for many small objects, an answer is one large one.)"""
    import duckdb

    from flows.sources.comtrade.load import FIELDS

    struct = "{" + ", ".join(f'"{k}": "{v}"' for k, v in FIELDS.items()) + "}"
    con = duckdb.connect(str(work / "bare.duckdb"))
    con.execute("create table comtrade_record (" + ", ".join(f'"{k}" {v}' for k, v in FIELDS.items()) + ")")
    t0 = time.perf_counter()
    con.execute(f"""insert into comtrade_record select unnest(r)
        from (select unnest(from_json(content, '{{"data": [{struct}]}}').data) as r from read_text(?))""", [fs.files])
    seconds = time.perf_counter() - t0
    rows, h = digest(con, "comtrade_record", _comtrade_columns())
    return {"seconds": seconds, "rows_out": rows, "digest": h}


def sample_night(work: Path, fs: FileSet | None) -> dict:
    """The nightly flow on the bundled sample in a scratch warehouse: wall, Prefect start-up and wrap-up."""
    from flows.config import load_config
    from flows.nightly import RunFailed, nightly

    config = load_config(environ={})
    called = time.time()
    try:
        summary = nightly(mode="sample", config_path=str(config.path), overrides=[f"warehouse.dir={work / 'wh'}"],
                          run_date=RUN_DATE)
    except RunFailed as exc:
        summary = exc.summary
    returned = time.time()
    windows = summary.step_windows
    data = sum(end - start for _, start, end in windows)
    return {"seconds": returned - called, "baseline_seconds": data, "status": summary.status,
            "startup_s": windows[0][1] - called, "wrapup_s": returned - windows[-1][2],
            "steps": {name: round(end - start, 2) for name, start, end in windows},
            "rows_out": sum(summary.rows_loaded.values()), "digest": ""}


def _cli_night(wh: Path, env: dict[str, str] | None = None) -> dict:
    """``bilateral run --sample`` once into the warehouse folder ``wh`` (``env``: added to its environment):
    wall, the steps' windows from its audit.run_steps, and the time before the first step and after the
    last (Prefect start-up, wrap-up)."""
    import subprocess

    import duckdb

    called = time.time()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--sample", "--date", RUN_DATE.isoformat(),
                           "--set", f"warehouse.dir={wh}", "--progress", "off"], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    returned = time.time()
    con = duckdb.connect(str(wh / "bilateral.duckdb"), read_only=True)
    try:
        steps = con.execute("""select step, epoch(started_at), seconds from audit.run_steps
            where run_id = (select max(run_id) from audit.run_steps) and source is null and step <> 'flow_total'
            order by started_at""").fetchall()
        rows = con.execute("""select coalesce(sum(rows), 0) from audit.run_steps where step = 'load' and source is null
            and run_id = (select max(run_id) from audit.run_steps)""").fetchone()[0]
    finally:
        con.close()
    if not steps:
        raise RuntimeError(f"the sample night recorded no steps (exit {done.returncode}): {done.stderr.strip()[-1000:]}")
    data = sum(seconds for _, _, seconds in steps)
    return {"seconds": returned - called, "baseline_seconds": data,
            "status": "success" if done.returncode == 0 else f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}",
            "startup_s": steps[0][1] - called, "wrapup_s": returned - (steps[-1][1] + steps[-1][2]),
            "steps": {name: round(seconds, 2) for name, _, seconds in steps}, "rows_out": int(rows), "digest": ""}


def sample_night_cli(work: Path, fs: FileSet | None) -> dict:
    """``bilateral run --sample`` as a scheduled night runs it (its own process: the local API server
    started before Prefect is imported, the exit right after the last line), in a new scratch warehouse:
    the first night, which also creates Prefect's database (its migrations) beside the warehouse."""
    return _cli_night(work / "wh")


def sample_night_cli_later(work: Path, fs: FileSet | None) -> dict:
    """The same night run again in the same scratch warehouse, as every scheduled night after the first:
    Prefect's database exists, the landed files and the marts are there (nothing new upstream: the
    incremental path). The first night runs untimed."""
    first = _cli_night(work / "wh")
    if not first["status"].startswith("success"):
        return first
    return _cli_night(work / "wh")


def sample_night_cli_on_server(work: Path, fs: FileSet | None) -> dict:
    """The first night again, with ``PREFECT_API_URL`` naming a Prefect server that runs already (a data
    team's, or the one ``bilateral serve`` starts for its schedules): no local API server to boot. The
    server is started untimed, on loopback, with its own Prefect home under ``work``."""
    from flows.prefect_server import LocalPrefectServer

    with LocalPrefectServer(work / "prefect-server") as server:
        return _cli_night(work / "wh", {"PREFECT_API_URL": server.api_url})


def sample_night_cli_on_server_later(work: Path, fs: FileSet | None) -> dict:
    """A later night on a running Prefect server, the way a scheduled deployment runs every night after
    the first: the first night runs untimed on the same server and in the same warehouse."""
    from flows.prefect_server import LocalPrefectServer

    with LocalPrefectServer(work / "prefect-server") as server:
        env = {"PREFECT_API_URL": server.api_url}
        first = _cli_night(work / "wh", env)
        if not first["status"].startswith("success"):
            return first
        return _cli_night(work / "wh", env)


VARIANTS = {f.__name__: f for f in (bilateral_gdelt, bare_gdelt, bilateral_comtrade, bare_comtrade, sample_night,
                                    sample_night_cli, sample_night_cli_later,
                                    sample_night_cli_on_server, sample_night_cli_on_server_later)}


def main(argv: list[str]) -> int:
    import flows  # noqa: F401 - runtime defaults (telemetry off, Prefect home)

    name, work, fileset = argv[0], Path(argv[1]), argv[2]
    work.mkdir(parents=True, exist_ok=True)
    fs = FileSet(**json.loads(Path(fileset).read_text())) if fileset != "-" else None
    out = VARIANTS[name](work, fs)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
