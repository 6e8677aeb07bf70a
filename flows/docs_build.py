"""Build the two documentation sites ``bilateral docs`` serves, both usable with no network.

- **dbt docs** (models, columns, tests, lineage): ``dbt docs generate --static`` (dbt-core 1.11)
  writes one self-contained ``static_index.html`` (manifest and catalog inlined). dbt needs a
  database connection for the catalog (column types, row counts): it gets the **published file**,
  opened read-only with external access off (the locked settings of :mod:`flows.readonly`), never the
  working file. The published file is the one file every reader may open at any time: the nightly
  never writes it in place (a night publishes a new release and switches a link), so a docs build
  can neither block a run nor be blocked by one; the working file is DuckDB's single-writer file a
  run holds, and a copy of it taken mid-step may be torn. The catalog therefore covers what people
  query (schema ``marts``); staging and intermediate models are documented from their YAML, without
  catalog column types. dbt's own files (target, partial-parse state, logs) go to
  ``<warehouse>/docs/dbt-work/``, never to the nightly's ``<warehouse>/dbt/``.
- **Data Docs** (Great Expectations' validation results): GX writes them under
  ``<warehouse>/gx/gx/uncommitted/data_docs/local_site`` at every validation. They are copied (only
  read, never changed) and made offline by :mod:`flows.docs_offline`.

The sites land in ``<warehouse>/docs/site/{dbt,data-docs}``; each is built beside the old one and
swapped in when complete, so a server running meanwhile always serves a whole site.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from flows.config import Config
from flows.docs_offline import localize_site
from flows.errors import BilateralError
from flows.readonly import LOCKED


class DocsError(BilateralError):
    """A site could not be built (nothing published yet, dbt failed, a page needs the network)."""


@dataclass
class DocsSites:
    root: Path                     # what the server serves
    dbt_index: Path
    data_docs_index: Path
    validations: int = 0           # validation results the Data Docs index lists
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def docs_dir(config: Config) -> Path:
    return config.warehouse_dir / "docs"


def site_dir(config: Config) -> Path:
    return docs_dir(config) / "site"


def data_docs_source(config: Config) -> Path:
    """The folder GX writes Data Docs to (the one holding index.html)."""
    return config.gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site"


def _swap_in(built: Path, final: Path) -> None:
    """Replace ``final`` by the complete folder ``built`` (old one renamed away, then deleted)."""
    old = final.with_name(f".{final.name}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(built, final)
    shutil.rmtree(old, ignore_errors=True)


# --- dbt docs ------------------------------------------------------------------------------------
def _profile(path: Path, published_file: Path) -> Path:
    """A dbt profile (profile ``bilateral``, target ``published``) on the published file, read-only
    with the reader's locked settings (JSON is valid YAML)."""
    settings = {"access_mode": "READ_ONLY", **LOCKED}  # lock_configuration stays last
    profile = {"bilateral": {"target": "published", "outputs": {"published": {
        "type": "duckdb", "path": str(published_file), "schema": "marts", "threads": 1, "keep_open": False,
        "config_options": settings}}}}
    path.mkdir(parents=True, exist_ok=True)
    (path / "profiles.yml").write_text(json.dumps(profile, indent=1) + "\n")
    return path


#: dbt-docs bundle defects that make an offline page request bogus URLs (console errors, and the
#: same requests on any network): an un-rendered favicon template, and SVG icons whose href is an
#: Angular expression the browser fetches before Angular fills it in
DBT_PAGE_FIXES = [
    ("<link rel=\"shortcut icon\" href=\"${require('./assets/favicons/favicon.ico')}\"/>",
     '<link rel="shortcut icon" href="data:,"/>'),
    ('<use xlink:href="{{ getIcon(', '<use ng-attr-href="{{ getIcon('),
]


def offline_dbt_page(html: str) -> str:
    for bad, good in DBT_PAGE_FIXES:
        html = html.replace(bad, good)
    return html


def _dbt_error(output: str) -> str:
    """The first error dbt reported (its JSON log lines on stdout), on one line."""
    for line in output.splitlines():
        try:
            info = json.loads(line).get("info", {})
        except (ValueError, AttributeError):
            continue
        if info.get("level") == "error" and info.get("msg", "").strip():
            text = re.sub(r"-{4,}", " ", re.sub(r"\x1b\[[0-9;]*m", "", info["msg"]))
            return " ".join(text.split())[:600]
    tail = [ln for ln in output.splitlines() if ln.strip()][-1:] or ["no output"]
    return " ".join(tail[0].split())[:600]


def require_publication(config: Config) -> Path:
    published = config.published_dir / "bilateral.duckdb"
    if not published.exists():
        raise DocsError(f"nothing published yet: {published} does not exist; run `bilateral run` first "
                        "(dbt docs read the published marts, Data Docs come from its validation)")
    return published


def build_dbt_docs(config: Config) -> Path:
    """``dbt docs generate --static`` on the published file; returns the site's index.html."""
    published = require_publication(config)
    release_file = published.resolve()  # this publication, even if the next night switches meanwhile
    work = docs_dir(config) / "dbt-work"
    profiles = _profile(work / "profile", release_file)
    dbt_dir = config.project.dbt_project_dir
    argv = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "--log-format", "json", "--log-level", "warn",
            "--no-send-anonymous-usage-stats", "docs", "generate", "--static",
            "--project-dir", str(dbt_dir), "--profiles-dir", str(profiles),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    env.pop("DBT_PROFILES_DIR", None)
    env.pop("DBT_PROJECT_DIR", None)
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=str(dbt_dir))
    page = work / "target" / "static_index.html"
    if done.returncode != 0 or not page.exists():
        raise DocsError(f"dbt docs generate failed on {dbt_dir} (exit {done.returncode}): {_dbt_error(done.stdout + done.stderr)} "
                        f"(dbt's log: {work / 'logs' / 'dbt.log'})")
    building = site_dir(config) / f".dbt.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    (building / "index.html").write_text(offline_dbt_page(page.read_text(encoding="utf-8")), encoding="utf-8")
    final = site_dir(config) / "dbt"
    _swap_in(building, final)
    return final / "index.html"


# --- Data Docs -----------------------------------------------------------------------------------
def build_data_docs(config: Config) -> tuple[Path, int]:
    """Copy GX's Data Docs with every asset local; returns the index and how many validation
    results it lists."""
    source = data_docs_source(config)
    if not (source / "index.html").exists():
        raise DocsError(f"no Great Expectations Data Docs yet: {source / 'index.html'} does not exist; "
                        "run `bilateral run` first (each night's validation writes them)")
    building = site_dir(config) / f".data-docs.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    report = localize_site(source, building)
    if report.unresolved:
        page, urls = next(iter(report.unresolved.items()))
        shutil.rmtree(building, ignore_errors=True)
        raise DocsError(f"Data Docs page {page} loads {urls[0]} from the network and bilateral ships no local "
                        f"copy of it ({sum(map(len, report.unresolved.values()))} such references in "
                        f"{len(report.unresolved)} pages); add it to flows/docs_assets (see its README)")
    final = site_dir(config) / "data-docs"
    _swap_in(building, final)
    return final / "index.html", validations_listed(final / "index.html")


def validations_listed(index: Path) -> int:
    """How many validation results a Data Docs index lists (the rows of its table's data)."""
    html = index.read_text(encoding="utf-8")
    return len(re.findall(r"'_table_row_link_path': 'validations/", html))


# --- both ----------------------------------------------------------------------------------------
def _run_holder(config: Config) -> str | None:
    from flows.status_source import run_lock_holder

    return run_lock_holder(config.warehouse_dir)


def build(config: Config) -> DocsSites:
    """Both sites, Data Docs first (seconds) then dbt docs (tens of seconds)."""
    require_publication(config)
    notes = []
    holder = _run_holder(config)
    if holder:
        notes.append(f"a run ({holder}) holds the warehouse: the docs show the current publication and the "
                     "Data Docs as GX last wrote them; build again after the run for its results")
    seconds = {}
    started = time.perf_counter()
    data_docs, validations = build_data_docs(config)
    seconds["data_docs"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    dbt_index = build_dbt_docs(config)
    seconds["dbt_docs"] = round(time.perf_counter() - started, 2)
    write_landing_page(site_dir(config))
    return DocsSites(site_dir(config), dbt_index, data_docs, validations, seconds, notes)


LANDING = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>bilateral docs</title><link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:3em;max-width:40em}li{margin:.5em 0}</style></head>
<body><h1>bilateral docs</h1><ul>
<li><a href="dbt/">dbt docs</a>: models, columns, tests and lineage of the warehouse</li>
<li><a href="data-docs/index.html">Data Docs</a>: Great Expectations' validation results, night by night</li>
</ul></body></html>
"""


def write_landing_page(root: Path) -> Path:
    page = root / "index.html"
    page.write_text(LANDING, encoding="utf-8")
    return page


def built_sites(config: Config) -> DocsSites | None:
    """The sites an earlier build left (None unless both are there)."""
    root = site_dir(config)
    dbt_index, data_docs = root / "dbt" / "index.html", root / "data-docs" / "index.html"
    if not (dbt_index.exists() and data_docs.exists()):
        return None
    return DocsSites(root, dbt_index, data_docs, validations_listed(data_docs))
