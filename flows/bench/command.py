"""``bilateral bench``: argument checks, the run, the table and the JSON file.

    bilateral bench [--size tiny|small|medium|large] [--repeat N] [--json PATH] [--cases load,dlt,night,serve,transform,validate]
                    [--work-dir DIR] [--keep-data] [--dlt-python PATH]

Exit codes: 0 the suite ran (missed targets are marked MISSED in the table, not failures), 1 a
variant failed or two variants did not produce the same rows, 2 bad usage (an unknown size or case,
--repeat below 1, a --json path whose folder does not exist, a --dlt-python that is not a file).
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from flows.bench.sizes import SIZES
from flows.bench.suite import CASE_GROUPS, BenchFailed, render, run_suite, to_json

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_arguments(parser) -> None:
    parser.add_argument("--size", default="small", metavar="SIZE",
                        help="data size: " + "; ".join(f"{s.name}: {s.about}" for s in SIZES.values())
                             + " (default small)")
    parser.add_argument("--repeat", default="3", metavar="N", help="runs of each variant; the table shows medians (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON (to compare commits)")
    parser.add_argument("--cases", default=",".join(CASE_GROUPS), metavar="LIST",
                        help=f"comma-separated case groups to run, of {', '.join(CASE_GROUPS)} (default all)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="where generated data and scratch warehouses go (default: a new temp folder, deleted after)")
    parser.add_argument("--keep-data", action="store_true", help="keep --work-dir's generated data for the next run")
    parser.add_argument("--dlt-python", metavar="PATH",
                        help="a Python interpreter that has dlt and pyarrow, when they are not in bilateral's own")


def _usage(message: str) -> int:
    print(f"bilateral bench: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args) -> int:
    if args.size not in SIZES:
        return _usage(f"--size {args.size!r} is not a known size; choose one of {', '.join(SIZES)}")
    try:
        repeat = int(args.repeat)
    except ValueError:
        repeat = 0
    if repeat < 1:
        return _usage(f"--repeat {args.repeat!r}: give a whole number of runs, 1 or more")
    groups = [g.strip() for g in args.cases.split(",") if g.strip()]
    unknown = [g for g in groups if g not in CASE_GROUPS]
    if unknown or not groups:
        return _usage(f"--cases {args.cases!r}: unknown case group {', '.join(unknown) or '(none given)'}; "
                      f"choose from {', '.join(CASE_GROUPS)}")
    if args.json and not Path(args.json).resolve().parent.is_dir():
        return _usage(f"--json {args.json}: folder {Path(args.json).resolve().parent} does not exist; create it first")
    if args.dlt_python and not Path(args.dlt_python).is_file():
        return _usage(f"--dlt-python {args.dlt_python}: no such file; give the path of a python with dlt installed")
    size = SIZES[args.size]
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bilateral-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows, notes = run_suite(size, work, repeat, groups, args.dlt_python,
                                log=lambda m: print(m, file=sys.stderr, flush=True))
    except BenchFailed as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    finally:
        if not args.keep_data:
            shutil.rmtree(work / "data" if args.work_dir else work, ignore_errors=True)
        shutil.rmtree(work / "runs", ignore_errors=True)
    print(render(rows, size, repeat))
    for note in notes:
        print(f"note: {note}")
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(rows, notes, size, repeat), indent=1) + "\n")
        print(f"results written to {args.json}")
    return EXIT_OK
