"""``bilateral`` command line: run, backfill, record, status, sql, benchmark, serve, schedule, quarantine,
alerts, docs, new-source.

The project folder is found first (``--project-dir``, ``BILATERAL_PROJECT_DIR``, or the nearest
folder upward holding ``bilateral.toml``), then the configuration is loaded and validated before
anything else is imported or started, so a bad config exits at once (exit code 2) naming the key,
the value and what is allowed.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

from flows import progress

_T_START = time.perf_counter()

#: 0 success; 1 the run failed (its summary or message says why); 2 bad configuration or arguments;
#: 3 another run holds the warehouse (nothing was changed: try again later)
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY = 0, 1, 2, 3


def _add_project_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--project-dir", metavar="DIR",
                   help="the bilateral project (folder with bilateral.toml, dbt_project/, expectations/); default: "
                        "BILATERAL_PROJECT_DIR, else the nearest folder upward from here holding bilateral.toml")


def _add_config_args(p: argparse.ArgumentParser) -> None:
    _add_project_arg(p)
    p.add_argument("--config", metavar="PATH",
                   help="config file (default: the project's bilateral.toml; env BILATERAL_CONFIG)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set countries.focus=CAN,CHN,USA,MEX (repeatable)")


def _add_run_args(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sample", action="store_true",
                      help="replay the bundled sample (generated data is marked is_sample in every mart)")
    mode.add_argument("--replay", metavar="DIR", help="replay a directory of recorded responses (see README)")
    p.add_argument("--sources", help="comma-separated subset of the enabled sources")
    p.add_argument("--date", type=date.fromisoformat, help="logical run date YYYY-MM-DD (default: today in schedule.timezone; "
                   "not in the future, not before years.start)")
    p.add_argument("--full-refresh", action="store_true", help="re-fetch everything in the configured years and rebuild every dbt model from all "
                        "records (dbt --full-refresh; a normal night rebuilds only what changed)")
    p.add_argument("--verbose", action="store_true",
                   help="also print Prefect's own log lines (task and flow states, tracebacks) to the console")
    p.add_argument("--progress", choices=["auto", "live", "lines", "off"], default="auto",
                   help="progress on stderr: a live view on a terminal, one line per event otherwise (auto)")
    _add_config_args(p)


SERVE_HELP = """\
Serve the `nightly` deployment (nightly/bilateral-nightly) on schedule.cron in schedule.timezone.
Prefect schedules only with a server:
  - PREFECT_API_URL set: that server is used (it must answer, else exit 1);
  - otherwise a local `prefect server start` is started on 127.0.0.1 (a free port, PREFECT_HOME
    <warehouse>/.prefect-server, log there), with its UI ("Prefect UI at http://127.0.0.1:PORT"),
    and stopped when serving ends (Ctrl-C or SIGTERM).
Each scheduled run is `bilateral run` with the options given here (live unless --sample/--replay).
Without a resident process, `bilateral schedule install` puts the nightly in crontab or a systemd
user timer instead (README, "Scheduling")."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bilateral", description=(
        "Nightly ETL warehouse of bilateral trade, tariffs and relations: extract -> land -> load -> "
        "dbt -> Great Expectations -> publish."))
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the nightly job once (live APIs unless --sample/--replay)",
                         description="Run the nightly job: extract, land, load, dbt build, validate, publish. "
                                     "Live APIs by default (the mode for scheduled runs).")
    _add_run_args(run)

    backfill = sub.add_parser("backfill", help="fill history for a date range, in chunks, resumable",
                              description="Fetch and load the history of --source(s) between --from and --to in "
                                          "chunks (a GDELT month, a Comtrade reporter-year, a WITS year...), each "
                                          "recorded when loaded; then build, validate and publish as the nightly does. "
                                          "Killed or failed, the same command goes on where it stopped; run again, it "
                                          "fetches nothing new. Refused (exit 3) while a nightly holds the warehouse.")
    backfill.add_argument("--source", dest="sources", metavar="S[,S...]",
                          help="the source(s) to backfill (default: every enabled source)")
    backfill.add_argument("--restart", action="store_true",
                          help="fetch every chunk again, even those an earlier backfill of the range loaded")
    backfill.add_argument("--from", dest="date_from", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    backfill.add_argument("--to", dest="date_to", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD")
    _add_run_args(backfill)

    record = sub.add_parser("record", help="record live API responses into a replayable directory",
                            description="Fetch tonight's requests live and write them in the recording layout "
                                        "that `bilateral run --replay DIR` reads. Needs network.")
    record.add_argument("--out", required=True, metavar="DIR", help="recording directory to write")
    record.add_argument("--sources", help="comma-separated subset of the enabled sources")
    record.add_argument("--date", type=date.fromisoformat, help="logical run date (default: today, UTC)")
    _add_config_args(record)

    status = sub.add_parser("status", help="last runs, outcome and freshness per source",
                            description="Show the last runs, each source's last success, last attempt, freshness "
                                        "(fresh, stale, failed, never) and quarantined records, the last run's "
                                        "validation results and where the published files are. Works while a run "
                                        "writes the warehouse (it then reads the run's status snapshot).")
    status.add_argument("--runs", "--limit", dest="runs", type=int, default=10, metavar="N",
                        help="number of runs to show (default 10)")
    status.add_argument("--format", choices=["table", "csv", "json"], default="table",
                        help="table (default), json (one document) or csv (one table, see --table)")
    status.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")
    status.add_argument("--table", choices=["runs", "sources", "validations"], default=None,
                        help="the one table --format csv prints (default sources)")
    _add_config_args(status)

    sql = sub.add_parser("sql", help="read-only SQL on the published marts (a query, --list, or a shell)",
                         description="Run a read-only query on the published DuckDB file (schema marts, meta). "
                                     "Without a query: an interactive shell on a terminal (.tables, .schema TABLE, "
                                     ".quit; statements end with ';'), else the query is read from stdin.")
    sql.add_argument("query", nargs="?",
                     help='e.g. "select * from marts.country_indicators_annual limit 5" (default: shell or stdin)')
    sql.add_argument("--list", nargs="?", const="", metavar="TABLE",
                     help="list the marts (rows, columns, description), or with TABLE its columns, types and descriptions")
    sql.add_argument("-i", "--interactive", action="store_true",
                     help="the interactive shell even when stdin is not a terminal (it reads its lines from stdin)")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument("--working", action="store_true",
                     help="query the working warehouse (raw, audit, staging...) instead; fails while a run writes")
    _add_config_args(sql)

    bench = sub.add_parser("benchmark", help="time and measure a sample run, split by step",
                           description="Run the sample nightly in a scratch warehouse and print wall time and "
                                       "peak memory per step (Prefect start-up, extract, load, dbt, GX, publish).")
    bench.add_argument("--keep", action="store_true", help="keep the scratch warehouse")
    bench.add_argument("--nights", type=int, default=1, metavar="N",
                       help="run the sample night N times on the same date in one scratch warehouse (the later "
                            "nights find nothing new: the incremental path); one column per night")
    _add_config_args(bench)

    # the benchmark suite against bare DuckDB and dlt (flows/bench/); `benchmark` above stays: one sample night by step
    from flows.bench.command import add_arguments as add_bench_arguments

    add_bench_arguments(sub.add_parser(
        "bench", help="benchmark suite: bilateral vs bare DuckDB and dlt at a named data size, side by side",
        description="Generate data at a named size, run each case --repeat times and print wall time, rows/s, "
                    "MB/s, peak RSS and the ratio to a baseline measured in the same run (docs/benchmarks.md)."))

    serve = sub.add_parser("serve", help="serve the nightly deployment on schedule.cron (on a Prefect server)",
                           formatter_class=argparse.RawDescriptionHelpFormatter,
                           description=SERVE_HELP)
    serve_mode = serve.add_mutually_exclusive_group()
    serve_mode.add_argument("--sample", action="store_true", help="scheduled runs replay the bundled sample")
    serve_mode.add_argument("--replay", metavar="DIR", help="scheduled runs replay this directory of recorded responses")
    serve.add_argument("--sources", help="comma-separated subset of the enabled sources for the scheduled runs")
    _add_config_args(serve)

    from flows.scheduling import add_schedule_parser

    add_schedule_parser(sub, _add_config_args)

    from flows.docs_command import add_docs_parser

    add_docs_parser(sub, _add_config_args)

    quarantine = sub.add_parser("quarantine", help="list, release or drop records refused at load or by validation",
                                description="Records that broke their source's record contract (at load) or a raw-batch "
                                            "suite (at validation) are kept in quarantine.<raw_table> and never reach a "
                                            "mart. `list` shows them (default); `release ID...` re-admits them after a "
                                            "fix (a record refused at load is loaded from its landed file; effective at "
                                            "the next run); `drop ID...` discards them for good.")
    quarantine.add_argument("action", nargs="?", choices=["list", "release", "drop"], default="list")
    quarantine.add_argument("ids", nargs="*", metavar="ID", help="quarantine ids (release, drop)")
    quarantine.add_argument("--source", help="only this source")
    quarantine.add_argument("--rule", help="only this rule (e.g. wrong_type, out_of_domain, malformed_line, file_refused)")
    quarantine.add_argument("--run", help="only records quarantined by this run id")
    quarantine.add_argument("--status", default="quarantined", choices=["quarantined", "released", "dropped", "any"])
    quarantine.add_argument("--format", choices=["table", "csv", "json"], default="table")
    quarantine.add_argument("--limit", type=int, default=1000)
    _add_config_args(quarantine)

    alerts = sub.add_parser("alerts", help="check the alert channels: send a test notification through each",
                            description="Send a test notification through each configured alert channel (webhook, "
                                        "e-mail, log file; [alerts] in the config, docs/alerts.md) and report each "
                                        "one: exit 0 when all delivered, 1 when one failed, 2 when none is configured.")
    alerts.add_argument("action", choices=["test"])
    _add_config_args(alerts)

    report = sub.add_parser("report", help="the report site of the current publication: its path, or open it",
                            description="The report site (static HTML, no network needed) written with each "
                                        "publication: `path` prints its index.html (the run page), `open` opens it "
                                        "in a browser (without one, prints the path and how to view it). Exit 1 when "
                                        "nothing is published yet.")
    report.add_argument("action", choices=["path", "open"])
    _add_config_args(report)

    new_source = sub.add_parser("new-source", help="write the skeleton of a new source",
                                description="Write flows/sources/NAME/ (connector, load specs, sample generator, "
                                            "README), its dbt staging folder and an empty raw GX suite: a working "
                                            "skeleton to fill in (docs/CONTRIBUTING-SOURCES.md).")
    new_source.add_argument("name", help="source name: a lower-case identifier, e.g. imf_dots")
    _add_project_arg(new_source)
    return parser


def _project(args):
    from flows.paths import ProjectNotFound, find_project

    try:
        return find_project(getattr(args, "project_dir", None))
    except ProjectNotFound as exc:
        print(f"bilateral: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _load_config(args):
    from flows.config import ConfigError, load_config
    from flows.runtime_env import use_prefect_home

    project = _project(args)
    try:
        config = load_config(args.config, args.overrides, project=project)
    except ConfigError as exc:
        print(f"bilateral: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    use_prefect_home(config.warehouse_dir)
    return config


def _sources(args, config) -> list[str] | None:
    from flows.config import ConfigError
    from flows.run_inputs import check_sources

    if not getattr(args, "sources", None):
        return None
    try:
        return check_sources(config, [s.strip() for s in args.sources.split(",") if s.strip()])
    except ConfigError as exc:
        print(f"bilateral: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


def _print_summary(summary) -> None:
    from flows.run import render_summary

    print(render_summary(summary))


class _QuietRunFailure:
    """Logging filter: a failed run is reported once, by the CLI (its summary or its one message), not
    again by Prefect's "Encountered exception" record with the exception's repr and traceback (the
    flow run's state in Prefect still says why it failed)."""

    def filter(self, record) -> bool:
        from flows.errors import BilateralError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BilateralError):
            return False
        if isinstance(exc, asyncio.CancelledError) and record.name.startswith("prefect.server"):
            return False  # the local Prefect server cancelled while the process ends early (a failed run)
        failed = _FAILED_STATE.search(record.getMessage())  # "Finished in state Failed('... exception X: ...')"
        return not (failed and failed.group(1) in _error_names(BilateralError))


_FAILED_STATE = re.compile(r"Finished in state Failed\('(?:Task|Flow) run encountered an exception (\w+):")


def _progress_view(choice: str, verbose: bool):
    """The console view of the run's progress: live on a terminal (plain lines beside Prefect's own
    with --verbose), lines otherwise; none with ``--progress off``."""
    if choice == "off":
        return None
    live = choice == "live" or (choice == "auto" and sys.stderr.isatty() and not verbose)
    return progress.attach(progress.LiveView() if live else progress.LineView(sys.stderr))


def _quiet_prefect_console() -> None:
    """Prefect's console lines (flow and task states, its error lines) stay out of the console: the
    run's own progress lines and final block say what happened; Prefect's API, UI and logs keep them."""
    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL + 1)
    # the local API server's own bookkeeping (in this process, or in the child process it starts, which
    # reads the environment): stopping it while it flushes task-run events logs a cancelled flush with
    # its traceback, which is not the run's outcome (CI saw it after a run ended on a full disk)
    os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "CRITICAL"
    logging.getLogger("prefect.server").setLevel(logging.CRITICAL)


def _start_local_api(verbose: bool):
    """Prefect's local API server, started before Prefect is imported (flows/prefect_api.py); None when
    PREFECT_API_URL names a server (that one is used)."""
    from flows.prefect_api import start_early_api

    if not verbose:  # the server reads it from its environment (see _quiet_prefect_console)
        os.environ["PREFECT_SERVER_LOGGING_LEVEL"] = "CRITICAL"
    return start_early_api()


def _error_names(cls: type) -> set[str]:
    return {cls.__name__, *(name for sub in cls.__subclasses__() for name in _error_names(sub))}


def cmd_run(args, backfill=None) -> int:
    config = _load_config(args)
    sources = _sources(args, config)
    mode = "sample" if args.sample else "replay" if args.replay else "live"
    from flows.config import ConfigError
    from flows.run_inputs import check_run_inputs

    try:  # before any work: nothing locked, fetched or loaded when an input is refused
        check_run_inputs(config, mode, args.date, args.replay, sources, backfill)
    except ConfigError as exc:
        print(f"bilateral: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    api = _start_local_api(getattr(args, "verbose", False))  # boots while the flow modules import
    from flows.errors import BilateralError, RunLocked
    from flows.nightly import RunFailed, nightly

    if backfill:
        from flows.backfill import backfill as backfill_flow

        def start():
            return backfill_flow(date_from=backfill[0], date_to=backfill[1], mode=mode, replay_dir=args.replay,
                                 sources=sources, run_date=args.date, restart=args.restart, config_path=str(config.path),
                                 overrides=args.overrides, project_dir=str(config.project.root))
    else:
        def start():
            return nightly(mode=mode, replay_dir=args.replay, sources=sources, run_date=args.date,
                           full_refresh=args.full_refresh, config_path=str(config.path), overrides=args.overrides,
                           project_dir=str(config.project.root))

    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.flow_engine", "prefect.task_engine",
                 "prefect.server.services.task_run_recorder"):
        logging.getLogger(name).addFilter(_QuietRunFailure())
    if not getattr(args, "verbose", False):
        _quiet_prefect_console()
    view = _progress_view(getattr(args, "progress", "auto"), getattr(args, "verbose", False))
    progress.event("note", text=f"starting the {'backfill' if backfill else 'nightly'} run: mode {mode}, warehouse "
                                f"{config.warehouse_dir} (Prefect's local API starts first, a few seconds)")
    try:
        if api is not None:
            api.import_while_booting()
            api.require()
        summary = start()
    except RunFailed as exc:
        _print_summary(exc.summary)
        return EXIT_FAILED
    except RunLocked as exc:
        print(f"bilateral: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except BilateralError as exc:
        print(f"bilateral: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if view is not None:
            progress.detach(view)
    _print_summary(summary)
    return EXIT_OK if summary.status == "success" else EXIT_FAILED


def cmd_backfill(args) -> int:
    return cmd_run(args, backfill=(args.date_from, args.date_to))


def cmd_record(args) -> int:
    config = _load_config(args)
    from flows.errors import SourceError
    from flows.recorder import record

    try:
        counts = record(config, Path(args.out), _sources(args, config), args.date or datetime.now(timezone.utc).date())
    except SourceError as exc:
        print(f"bilateral: recording stopped: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for source, n in counts.items():
        print(f"recorded {n} responses for {source} into {Path(args.out) / source}")
    return EXIT_OK


def _emit(columns: list[str], rows: list[tuple], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps([dict(zip(columns, r)) for r in rows], default=str, indent=1))
    elif fmt == "csv":
        import csv

        w = csv.writer(sys.stdout)
        w.writerow(columns)
        w.writerows(rows)
    else:
        cells = [[("" if v is None else str(v)) for v in r] for r in rows]
        widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
        print("  ".join("-" * w for w in widths))
        for r in cells:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
        print(f"({len(rows)} rows)")


def _is_empty_sql(query: str) -> bool:
    from flows.sql_session import is_empty_sql

    return is_empty_sql(query)


def cmd_sql(args) -> int:
    config = _load_config(args)
    import duckdb

    from flows import sql_catalog
    from flows.readonly import connect_read_only
    from flows.sql_session import QueryError, run

    path = config.duckdb_path if args.working else config.published_dir / "bilateral.duckdb"
    query, shell = args.query, False
    if args.list is not None and query is not None:
        print("bilateral: sql: --list takes no query (give one or the other)", file=sys.stderr)
        return EXIT_CONFIG
    if args.list is None and query is None:
        shell = args.interactive or sys.stdin.isatty()
        query = None if shell else sys.stdin.read()
    if query is not None and _is_empty_sql(query):
        print("bilateral: sql: the query is empty (only blanks or comments); e.g. "
              "bilateral sql \"select * from meta.tables\"", file=sys.stderr)
        return EXIT_CONFIG
    if not path.exists():
        print(f"bilateral: {path} does not exist yet; run `bilateral run` first", file=sys.stderr)
        return EXIT_FAILED
    try:
        with connect_read_only(path) as con:
            if shell:
                from flows.sql_shell import run_shell

                return run_shell(con, path, lambda cols, rows: _emit(cols, rows, args.format))
            if args.list == "":
                columns, rows = sql_catalog.marts(con)
                rows = sql_catalog.shorten(rows, 3) if args.format == "table" else rows
            elif args.list is not None:
                columns, rows = sql_catalog.columns(con, args.list)
                rows = sql_catalog.shorten(rows, 2) if args.format == "table" else rows
            else:
                columns, rows = run(con, query)
    except QueryError as exc:
        print(f"bilateral: sql on {path}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except duckdb.Error as exc:  # the file itself could not be opened
        print(f"bilateral: sql: cannot open {path}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    _emit(columns, rows, args.format)
    return EXIT_OK


def cmd_status(args) -> int:
    config = _load_config(args)
    import duckdb

    from flows.errors import BilateralError
    from flows.status import status_document
    from flows.status_render import render_csv, render_table

    if args.runs < 1:
        print(f"bilateral: status --runs {args.runs}: expected a number of runs of at least 1, e.g. --runs 10",
              file=sys.stderr)
        return EXIT_CONFIG
    if args.table and args.format != "csv":
        print(f"bilateral: status --table {args.table} chooses the table of --format csv; "
              "add --format csv (json holds every table, the default view shows them all)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        doc = status_document(config, args.runs)
    except (BilateralError, duckdb.Error) as exc:
        print(f"bilateral: status: cannot read the audit tables of {config.warehouse_dir}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.format == "json":
        print(json.dumps(doc, indent=1, default=str))
    elif args.format == "csv":
        sys.stdout.write(render_csv(doc, args.table or "sources"))
    else:
        print(render_table(doc))
    return EXIT_OK


def cmd_benchmark(args) -> int:
    if args.nights < 1:
        print(f"bilateral: benchmark --nights {args.nights}: give 1 or more nights", file=sys.stderr)
        return EXIT_CONFIG
    config = _load_config(args)
    api = _start_local_api(verbose=True)  # as `bilateral run` does: booting while the flow modules import
    from flows.benchmark import run_benchmark

    return run_benchmark(config, args, _T_START, keep=args.keep, nights=args.nights, api=api)


def cmd_bench(args) -> int:
    from flows.bench.command import run as run_bench

    return run_bench(args)


def cmd_serve(args) -> int:
    config = _load_config(args)
    from flows.config import ConfigError
    from flows.run_inputs import check_run_inputs

    mode = "sample" if args.sample else "replay" if args.replay else "live"
    try:  # the scheduled runs' inputs, checked once before serving
        check_run_inputs(config, mode, None, args.replay, _sources(args, config))
    except ConfigError as exc:
        print(f"bilateral: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    from flows.serving import ServeOptions, ServeRefused, ServerUnavailable, serve

    options = ServeOptions(mode=mode, replay_dir=args.replay, sources=_sources(args, config), overrides=list(args.overrides))
    try:
        serve(config, options)
    except ServeRefused as exc:
        print(f"bilateral: serve: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ServerUnavailable as exc:
        print(f"bilateral: serve: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_schedule(args) -> int:
    config = _load_config(args)
    from flows.scheduling import run_schedule_command

    return run_schedule_command(config, args)


def cmd_docs(args) -> int:
    config = _load_config(args)
    from flows.docs_command import run_docs_command

    return run_docs_command(config, args)


def cmd_quarantine(args) -> int:
    config = _load_config(args)
    from flows import quarantine

    if not config.duckdb_path.exists():
        print(f"bilateral: {config.duckdb_path} does not exist yet; nothing is quarantined", file=sys.stderr)
        return EXIT_OK if args.action == "list" else EXIT_FAILED
    if args.action == "list":
        if args.ids:
            print("bilateral: quarantine list takes no ids (filter with --source, --rule, --run)", file=sys.stderr)
            return EXIT_CONFIG
        cols, rows = quarantine.rows(config.duckdb_path, args.source, args.rule, args.run,
                                     None if args.status == "any" else args.status, args.limit)
        if args.format == "table":
            cols = [c for c in cols if c != "raw_record"]
            rows = [tuple(v if not isinstance(v, str) else v[:100] for i, v in enumerate(r) if i != 10) for r in rows]
        _emit(cols, rows, args.format)
        return EXIT_OK
    if not args.ids:
        print(f"bilateral: quarantine {args.action} needs at least one ID (see `bilateral quarantine`)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        messages = (quarantine.release(config.duckdb_path, args.ids) if args.action == "release"
                    else quarantine.drop(config.duckdb_path, args.ids))
    except quarantine.QuarantineError as exc:
        print(f"bilateral: quarantine {args.action}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for line in messages:
        print(line)
    return EXIT_OK


def cmd_alerts(args) -> int:
    config = _load_config(args)
    from flows.alerts import send_test

    if not config.alerts.channels:
        print(f"bilateral: alerts test: no alert channel is configured in {config.path}; set "
              "alerts.webhook.url_env, alerts.email.host or alerts.log.path (docs/alerts.md)", file=sys.stderr)
        return EXIT_CONFIG
    deliveries = send_test(config)
    for d in deliveries:
        print(f"{d.channel} to {d.target}: " + ("ok" if d.ok else f"FAILED: {d.error}"))
    failed = [d for d in deliveries if not d.ok]
    print(f"{len(deliveries) - len(failed)} of {len(deliveries)} channel(s) delivered the test notification")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_report(args) -> int:
    config = _load_config(args)
    from flows.report.locate import NoSite, how_to_view, open_site, site_index

    try:
        index = site_index(config.published_dir)
    except NoSite as exc:
        print(f"bilateral: report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.action == "path":
        print(index)
        return EXIT_OK
    if open_site(index):
        print(f"opened {index}")
    else:
        print(index)
        print(f"bilateral: report open: {how_to_view(index)}", file=sys.stderr)
    return EXIT_OK


def cmd_new_source(args) -> int:
    from flows.scaffold import ScaffoldError, new_source

    project = _project(args)
    try:
        written = new_source(project, args.name)
    except ScaffoldError as exc:
        print(f"bilateral: new-source: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for path in written:
        print(f"wrote {path.relative_to(project.root)}")
    print(f"next: fill in the TODOs, then `bilateral run --sample --sources {args.name}` "
          "(docs/CONTRIBUTING-SOURCES.md)")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    import flows  # noqa: F401 - runtime defaults (telemetry off, Prefect home) before anything else

    args = build_parser().parse_args(argv)
    # a log handler that cannot write (e.g. dbt's log file on a full disk) must not print its own
    # traceback over the run's one message
    logging.raiseExceptions = False
    handler = {"run": cmd_run, "backfill": cmd_backfill, "record": cmd_record, "status": cmd_status,
               "sql": cmd_sql, "benchmark": cmd_benchmark, "serve": cmd_serve, "schedule": cmd_schedule,
               "new-source": cmd_new_source, "quarantine": cmd_quarantine, "alerts": cmd_alerts,
               "report": cmd_report, "docs": cmd_docs, "bench": cmd_bench}[args.command]
    code = handler(args)
    if argv is None and args.command in NIGHT_COMMANDS:
        _exit_now(code)
    return code


#: commands that run a night: their process ends right after its last line (see _exit_now)
NIGHT_COMMANDS = ("run", "backfill", "benchmark")


def _exit_now(code: int) -> None:
    """End the process once the run is over and said so: output flushed, exit handlers run (Prefect's
    log and event workers, the local API server stopped, logging shut down), then no interpreter
    teardown, which after a night (dbt, GX, pandas, DuckDB loaded) took seconds of tearing down modules
    and objects nobody reads again. Only as the command line (``main()`` without argv), never in-process."""
    import atexit

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
