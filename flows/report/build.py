"""Write the report site of one publication into a folder.

``site/index.html`` (the run page), ``site/pair-<A>-<B>.html`` (one page per configured pair),
``site/data/<A>-<B>/<dataset>.csv`` (every chart's data), ``site/assets/vega.js`` (the one script)
and ``site/site.json`` (what was written). The pairs' data comes from the site's query set
(:mod:`flows.report.queries`) run on the published file; the run page's from the working warehouse's
audit schema.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from flows.config import Config
from flows.publish import current_release
from flows.report import assets, pages, run_page_data
from flows.report.queries import Dataset, pair_parameters, run_query

SITE_DIR = "site"
INDEX = "index.html"
SITE_MANIFEST = "site.json"


@dataclass
class SiteReport:
    site_dir: str
    pages: list[str] = field(default_factory=list)
    charts: int = 0
    bundle: dict[str, str] = field(default_factory=assets.bundle_versions)  # what made assets/vega.js
    datasets: dict[str, int] = field(default_factory=dict)  # csv path -> rows


def docs_paths(config: Config) -> dict[str, Path | None]:
    """Where the generated dbt docs and Great Expectations Data Docs are (or would be)."""
    data_docs = sorted(config.gx_dir.glob("**/data_docs/**/index.html")) if config.gx_dir.exists() else []
    return {"dbt docs": config.warehouse_dir / "dbt" / "target" / "index.html",
            "Great Expectations Data Docs": data_docs[0] if data_docs else None}


def _write_csv(path: Path, dataset: Dataset) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(dataset.columns)
        writer.writerows(["" if v is None else v for v in r] for r in dataset.rows)


def pair_data(published: duckdb.DuckDBPyConnection, pair: tuple[str, str]) -> dict[str, Dataset]:
    return {name: run_query(published, name, pair_parameters(pair)) for name in pages.PAIR_DATASETS}


def build_site(site_dir: Path, published_db: Path, working: duckdb.DuckDBPyConnection, config: Config,
               run_id: str, previous_site: Path | None = None) -> SiteReport:
    """Write the site into ``site_dir`` (created; must not exist). ``working``: a connection whose
    current database is the working warehouse (for the run page); ``previous_site``: the current
    publication's site, whose script is reused when the same versions made it."""
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True)
    pairs = list(config.pairs)
    report = SiteReport(str(site_dir))
    assets.write_assets(site_dir, previous_site, cache_dir=config.project.root / ".cache" / "report")
    written = []
    with duckdb.connect(str(published_db), read_only=True) as published:
        publication = dict(zip(["run_id", "published_at", "checksum"], published.execute(
            "select run_id, published_at, checksum from meta.publication").fetchone() or ()))
        for pair in pairs:
            written.append(pages.pair_page(pair, pair_data(published, pair), pairs))
    written.insert(0, pages.run_page(run_page_data.collect(working, config, run_id), pairs, docs_paths(config),
                                     publication))
    for page in written:
        (site_dir / page.filename).write_text(page.html)
        for rel, dataset in page.csv.items():
            _write_csv(site_dir / rel, dataset)
            report.datasets[rel] = len(dataset.rows)
        report.pages.append(page.filename)
        report.charts += page.charts
    (site_dir / SITE_MANIFEST).write_text(json.dumps({"run_id": run_id, **asdict(report)}, indent=1, default=str))
    return report


def site_writer(config: Config):
    """What :func:`flows.publish.publish` calls to write the site into the release it is writing:
    ``write(release_dir, working_con, run_id)``; ``working_con`` has the working warehouse attached
    as ``wh``."""
    def write(release_dir: Path, working_con: duckdb.DuckDBPyConnection, run_id: str) -> SiteReport:
        cursor = working_con.cursor()
        try:
            cursor.execute("use wh")
            current = current_release(Path(release_dir).parent.parent)  # published/releases/<release>
            return build_site(Path(release_dir) / SITE_DIR, Path(release_dir) / "bilateral.duckdb", cursor, config,
                              run_id, previous_site=current / SITE_DIR if current else None)
        finally:
            cursor.close()
    return write
