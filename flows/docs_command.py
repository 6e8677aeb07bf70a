"""``bilateral docs``: build dbt docs and Great Expectations' Data Docs for offline use, then serve
both on 127.0.0.1 (flows/docs_build.py, flows/docs_server.py)."""
from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DOCS_HELP = """\
Build the warehouse's documentation and serve it on this machine only (127.0.0.1):
  - dbt docs: models, columns, tests, lineage (`dbt docs generate --static`, on the published file
    opened read-only: never the working file, so it never gets in a nightly's way);
  - Data Docs: Great Expectations' validation results, with every script, style and font local.
Both work with no network. Prints the two URLs; Ctrl-C stops the server."""


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 picks a free port)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 picks a free port)")
    return port


def add_docs_parser(sub, add_config_args) -> None:
    from flows.docs_server import DEFAULT_PORT

    docs = sub.add_parser("docs", help="build dbt docs and Data Docs (offline) and serve them on 127.0.0.1",
                          formatter_class=argparse.RawDescriptionHelpFormatter, description=DOCS_HELP)
    docs.add_argument("--port", type=port_number, default=DEFAULT_PORT, metavar="N",
                      help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free one)")
    when = docs.add_mutually_exclusive_group()
    when.add_argument("--build-only", action="store_true", help="build the sites, print where they are, do not serve")
    when.add_argument("--no-build", action="store_true",
                      help="serve what the last build left, without building again (seconds instead of a minute)")
    add_config_args(docs)


def run_docs_command(config, args) -> int:
    from flows.docs_build import DocsError, build, built_sites, site_dir
    from flows.docs_server import PortUnavailable, bind, serve_until_stopped

    server = None
    if not args.build_only:  # the port first: a port in use is said at once, before a minute of building
        try:
            site_dir(config).mkdir(parents=True, exist_ok=True)
            server = bind(args.port, site_dir(config))
        except PortUnavailable as exc:
            print(f"bilateral: docs: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        if args.no_build:
            sites = built_sites(config)
            if sites is None:
                raise DocsError(f"nothing built yet in {site_dir(config)}; run `bilateral docs` "
                                "(or `bilateral docs --build-only`) first")
        else:
            print(f"building docs in {site_dir(config)} (dbt docs take 15 to 45 s)...", file=sys.stderr, flush=True)
            sites = build(config)
    except DocsError as exc:
        if server is not None:
            server.server_close()
        print(f"bilateral: docs: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for note in sites.notes:
        print(f"note: {note}", file=sys.stderr)
    if sites.seconds:
        print(f"built: Data Docs ({sites.validations} validation results) in {sites.seconds['data_docs']:.1f} s, "
              f"dbt docs in {sites.seconds['dbt_docs']:.1f} s", file=sys.stderr)
    if server is None:
        print(f"dbt docs:  {sites.dbt_index}")
        print(f"Data Docs: {sites.data_docs_index}")
        return EXIT_OK
    print(f"dbt docs:  {server.url('dbt/')}")
    print(f"Data Docs: {server.url('data-docs/index.html')}")
    print("serving on 127.0.0.1 only; Ctrl-C stops", file=sys.stderr, flush=True)
    sys.stdout.flush()
    serve_until_stopped(server)
    print("bilateral: docs: server stopped", file=sys.stderr)
    return EXIT_OK
