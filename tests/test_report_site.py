"""The report site: written into each publication, from the site's query set on the published file.

The shared sample night (``sample_run``) published one site; these tests read it, build one more from
the same files into tmp_path, and publish a cloned warehouse to check the site is atomic with the
publication.
"""
from __future__ import annotations

import csv
import json
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from flows.config import load_config
from flows.errors import PublishError
from flows.publish import current_release, publish
from flows.report.build import build_site, site_writer
from flows.report.locate import NoSite, site_index
from flows.report.queries import pair_parameters, parameters, query_names, query_text, run_query


def _config(run):
    return load_config(str(run.config_path))


def _csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _months(rows: list[dict], field: str) -> list[date]:
    return sorted({date.fromisoformat(r[field][:10]) for r in rows})


def _contiguous(months: list[date]) -> list[date]:
    """The months missing between the first and the last of ``months``."""
    if not months:
        return []
    missing, y, m = [], months[0].year, months[0].month
    present = set(months)
    while (y, m) <= (months[-1].year, months[-1].month):
        if date(y, m, 1) not in present:
            missing.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return missing


class _Refs(HTMLParser):
    """What a page loads: script src, stylesheet links, images, iframes."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href"):
            self.loads.append(a["href"])
        if tag in ("img", "iframe") and a.get("src"):
            self.loads.append(a["src"])


# --- the query set ---------------------------------------------------------------------------------
def test_query_set_is_plain_sql_on_marts_with_pair_parameters():
    names = query_names()
    assert {"trade_balance", "top_products", "tariff_exposure", "tariff_measures", "relations_monthly",
            "relations_daily", "key_events"} <= set(names)
    for name in names:
        sql = query_text(name)
        tables = set(re.findall(r"\b(?:from|join)\s+([a-z_]+\.[a-z_]+)", sql, flags=re.I))
        assert tables and all(t.startswith("marts.") for t in tables), (name, tables)
        assert parameters(sql) <= {"a", "b"} and parameters(sql), name
        assert "'CAN'" not in sql and "'CHN'" not in sql, f"{name}: countries are parameters, not literals"


def test_a_query_refuses_missing_parameters_and_unknown_names():
    con = duckdb.connect()
    with pytest.raises(KeyError, match="needs parameter"):
        run_query(con, "trade_balance", {"a": "CAN"})
    with pytest.raises(KeyError, match="no query 'nope'"):
        run_query(con, "nope", {"a": "CAN", "b": "CHN"})


def test_a_pair_value_is_passed_as_a_parameter_not_spliced(sample_run):
    con = duckdb.connect(str(sample_run.published_path), read_only=True)
    try:
        hostile = run_query(con, "trade_balance", {"a": "CAN' or '1'='1", "b": "CHN"})
        assert hostile.rows == []
        real = run_query(con, "trade_balance", pair_parameters(("CAN", "CHN")))
        assert real.rows
    finally:
        con.close()


# --- the site in the publication --------------------------------------------------------------------
def test_the_publication_holds_the_site_behind_a_stable_link(sample_run):
    published = sample_run.warehouse_dir / "published"
    release = current_release(published)
    assert (published / "site").is_symlink() and (published / "site").resolve() == (release / "site").resolve()
    assert (release / "COMPLETE").exists()
    config = _config(sample_run)
    manifest = json.loads((release / "site" / "site.json").read_text())
    assert manifest["run_id"] == release.name
    expected = ["index.html", *(f"pair-{a}-{b}.html" for a, b in config.pairs)]
    assert manifest["pages"] == expected
    for page in expected:
        assert (published / "site" / page).stat().st_size > 1000
    assert site_index(published) == published / "site" / "index.html"


def test_pages_load_nothing_from_the_network(sample_run):
    site = sample_run.warehouse_dir / "published" / "site"
    pages = sorted(site.glob("*.html"))
    assert len(pages) >= 2
    for page in pages:
        refs = _Refs()
        refs.feed(page.read_text())
        assert not [r for r in refs.loads if re.match(r"(?i)(https?:)?//", r)], (page.name, refs.loads)
        if page.name != "index.html":
            assert refs.loads == ["assets/vega.js"], page.name
    bundle = (site / "assets" / "vega.js").read_text()
    assert "vegaEmbed" in bundle and len(bundle) > 100_000


def test_every_csv_is_the_query_result_on_the_published_file(sample_run):
    site = sample_run.warehouse_dir / "published" / "site"
    manifest = json.loads((site / "site.json").read_text())
    con = duckdb.connect(str(sample_run.published_path), read_only=True)
    try:
        for a, b in _config(sample_run).pairs:
            for name in query_names():
                rel = f"data/{a}-{b}/{name}.csv"
                rows = _csv(site / rel)
                expected = run_query(con, name, {"a": a, "b": b})
                assert manifest["datasets"][rel] == len(rows) == len(expected.rows), rel
                assert list(rows[0]) == expected.columns if rows else True
                if rows:
                    first = ["" if v is None else str(v) for v in expected.rows[0]]
                    assert list(rows[0].values()) == first, rel
                html = (site / f"pair-{a}-{b}.html").read_text()
                assert f'href="{rel}" download' in html
                assert f"{name}: table ({len(expected.rows)} rows)" in html, (rel, "table view")
    finally:
        con.close()


def test_the_seed_story_shows_whole_without_holes(sample_run):
    """Canada-China 2018-2026: every series the pages draw runs month after month without a gap, and
    the story's moments are on the page."""
    data = sample_run.warehouse_dir / "published" / "site" / "data" / "CAN-CHN"
    trade = _csv(data / "trade_balance.csv")
    for key in {(r["measure"], r["declaration"]) for r in trade}:
        months = _months([r for r in trade if (r["measure"], r["declaration"]) == key], "month")
        assert months[0] <= date(2018, 1, 1) and months[-1] >= date(2026, 1, 1), key
        assert not _contiguous(months), (key, _contiguous(months)[:5])
        assert all(r["value_usd"] != "" for r in trade if (r["measure"], r["declaration"]) == key)
    assert len({r["declaration"] for r in trade}) == 3  # reporter, mirror, reconciled
    relations = _csv(data / "relations_monthly.csv")
    months = _months(relations, "month")
    assert months[0] <= date(2018, 1, 1) and months[-1] >= date(2026, 1, 1)
    assert not _contiguous(months) and all(r["relations_index"] != "" for r in relations)
    tariffs = _csv(data / "tariff_exposure.csv")
    for key in {(r["direction"], r["estimate"]) for r in tariffs}:
        assert not _contiguous(_months([r for r in tariffs if (r["direction"], r["estimate"]) == key], "month")), key
    measures = {r["measure_id"]: r for r in _csv(data / "tariff_measures.csv")}
    assert measures["CAN-CHN-EV-SURTAX"]["effective_date"].startswith("2024-")
    assert any(m.startswith("CHN-CAN-CANOLA") and r["effective_date"].startswith("2025-") for m, r in measures.items())
    events = _csv(data / "key_events.csv")
    assert "2018-12-01" in {r["month"] for r in events}, "the Huawei arrest month is a key event"
    assert any(r["month"] >= "2026-01-01" for r in events), "2026 (the Carney visit) is a key event"
    assert all(r["source_url"].startswith("http") for r in events)
    us_on_canada = _csv(sample_run.warehouse_dir / "published" / "site" / "data" / "CAN-USA" / "tariff_measures.csv")
    assert any(r["imposing_iso3"] == "USA" and r["target_iso3"] == "CAN" and r["effective_date"] >= "2025"
               for r in us_on_canada)
    html = (data.parent.parent / "pair-CAN-CHN.html").read_text()
    for r in events:
        assert r["source_url"] in html  # each key event links its source article


def test_the_run_page_shows_what_the_run_did(sample_run):
    published = sample_run.warehouse_dir / "published"
    run_id = current_release(published).name
    page = (published / "site" / "index.html").read_text()
    assert run_id in page
    steps = sample_run.query("select distinct step from audit.run_steps where run_id = ? and step != 'publish'",
                             [run_id], published=False)  # the page is written while the run publishes
    assert {"extract", "load", "dbt", "validate"} <= {s for (s,) in steps}
    for (step,) in steps:
        assert f"<td>{step}</td>" in page, step
    suites = sample_run.query("select count(distinct suite) from audit.validations where run_id = ?", [run_id],
                              published=False)[0][0]
    assert f"{suites} of {suites} suites passed" in page
    for source in _config(sample_run).enabled_sources:
        assert f"<td>{source}</td>" in page
    for heading in ("Steps and timings", "Freshness per source", "Landed files", "Loaded files",
                    "Quarantined records", "Validation", "bilateral docs"):
        assert heading in page
    assert "publish step and final outcome are not recorded here" in page


# --- building and publishing ------------------------------------------------------------------------
def test_build_site_into_a_folder_and_reuse_the_script(sample_run, tmp_path):
    config = _config(sample_run)
    run_id = current_release(sample_run.warehouse_dir / "published").name
    con = duckdb.connect()
    con.execute(f"attach '{sample_run.db_path}' as wh (read_only)")
    con.execute("use wh")
    try:
        first = build_site(tmp_path / "one", sample_run.published_path, con, config, run_id)
        again = build_site(tmp_path / "two", sample_run.published_path, con, config, run_id,
                           previous_site=tmp_path / "one")
    finally:
        con.close()
    assert first.pages == again.pages and first.charts == again.charts == 6 * len(config.pairs)
    assert (tmp_path / "one" / "assets" / "vega.js").read_bytes() == (tmp_path / "two" / "assets" / "vega.js").read_bytes()
    assert first.datasets == again.datasets
    with pytest.raises(FileExistsError):
        build_site(tmp_path / "one", sample_run.published_path, duckdb.connect(), config, run_id)


def test_site_is_atomic_with_the_publication(sample_run, clone_warehouse, tmp_path):
    """A publication without a site gets one at the next publish even with unchanged content; then
    unchanged content rewrites nothing; a site that fails to build fails the publish and readers keep
    the current publication and its site."""
    clone = clone_warehouse(sample_run)
    config = _config(clone)
    con = duckdb.connect(str(clone.db_path))
    # less to copy at each publish: only the marts (and rows) the site reads
    used = {m for name in query_names()
            for m in re.findall(r"\bmarts\.([a-z_]+)", re.sub(r"--[^\n]*", "", query_text(name)))}
    for (table,) in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall():
        if table not in used:
            con.execute(f'drop table marts."{table}"')
    con.execute("delete from marts.tariff_exposure where hs_level <> 'all'")
    con.execute("delete from marts.trade_by_product where period_type <> 'annual'")
    con.close()
    published = tmp_path / "pub"
    plain = publish(clone.db_path, published, "20990101T000000Z-000001")
    assert plain.published and not (published / "releases" / plain.release / "site").exists()
    with pytest.raises(NoSite, match="has no report site"):
        site_index(published)
    with_site = publish(clone.db_path, published, "20990101T000000Z-000002", site=site_writer(config))
    assert with_site.published and with_site.checksum == plain.checksum
    index = site_index(published)
    assert with_site.site_path == str(index) and "20990101T000000Z-000002" in index.read_text()
    unchanged = publish(clone.db_path, published, "20990101T000000Z-000003", site=site_writer(config))
    assert unchanged.unchanged and current_release(published).name == "20990101T000000Z-000002"

    con = duckdb.connect(str(clone.db_path))
    con.execute("drop table marts.relations_key_events")  # the key_events query can no longer run
    con.close()
    before = index.read_bytes()
    with pytest.raises(PublishError, match="readers still see 20990101T000000Z-000002"):
        publish(clone.db_path, published, "20990101T000000Z-000004", site=site_writer(config))
    assert current_release(published).name == "20990101T000000Z-000002"
    assert site_index(published).read_bytes() == before
    assert not [p.name for p in (published / "releases").iterdir() if p.name.endswith("000004") or p.name.startswith(".")]
