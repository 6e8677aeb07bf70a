"""The report site in headless Chromium with the network off: every page draws its charts, loads
nothing but its own files and logs no error (tests/browser.py drives the browser)."""
from __future__ import annotations

import pytest

from tests.browser import INSTALL_HINT, Browser, chromium_path
from flows.config import load_config

pytestmark = pytest.mark.skipif(chromium_path() is None, reason=INSTALL_HINT)


@pytest.fixture(scope="module")
def browser():
    with Browser() as b:
        yield b


def test_harness_sees_network_use_and_errors(browser, tmp_path):
    """The checks below can fail: a page that asks for a remote script is seen asking, and is refused."""
    page = tmp_path / "remote.html"
    page.write_text('<!doctype html><html><body><div class="chart" id="c"></div>'
                    '<script src="https://cdn.example.org/vega.js"></script>'
                    '<script>console.error("no vega here: " + typeof vegaEmbed)</script></body></html>')
    visit = browser.visit(page.as_uri())
    assert "https://cdn.example.org/vega.js" in visit.requests
    assert any("no vega here: undefined" in e for e in visit.errors)
    assert visit.charts == {"c": {"svg": 0, "marks": 0, "canvas": 0}}


def test_every_page_draws_its_charts_offline_without_errors(sample_run, browser, tmp_path):
    site = sample_run.warehouse_dir / "published" / "site"
    config = load_config(str(sample_run.config_path))
    pages = ["index.html", *(f"pair-{a}-{b}.html" for a, b in config.pairs)]
    for name in pages:
        visit = browser.visit((site / name).as_uri(), screenshot=tmp_path / f"{name}.png")
        assert visit.errors == [], (name, visit.errors)
        assert visit.requests and all(u.startswith("file://") for u in visit.requests), (name, visit.requests)
        shot = visit.screenshot.read_bytes()
        assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000, name
        if name == "index.html":
            assert visit.charts == {} and "Steps and timings" in visit.dom
            continue
        assert visit.charts_ready == "6", (name, visit.charts_ready)
        assert set(visit.charts) == {"chart-trade", "chart-products", "chart-product", "chart-tariffs",
                                     "chart-relations", "chart-daily"}
        for chart, found in visit.charts.items():
            assert found["svg"] == 1 and found["marks"] > 0, (name, chart, found)


def test_the_filters_redraw_the_charts(sample_run, browser):
    """Moving the period's start to the last year leaves fewer marks in the daily chart and no chart
    without data (no warnings); choosing another product redraws the product chart; the period's
    end moved before its start takes the start along."""
    page = (sample_run.warehouse_dir / "published" / "site" / "pair-CAN-CHN.html").as_uri()
    # each action in its own function: the page's scripts hold top-level names of their own
    last_year = ("(function () { var input = document.getElementById('year-from'); input.value = input.max; "
                 "input.dispatchEvent(new Event('change')); return input.value; })()")
    other_product = ("(function () { var select = document.getElementById('product'); "
                     "select.selectedIndex = select.options.length - 1; select.dispatchEvent(new Event('change')); "
                     "return select.value; })()")
    before = browser.visit(page)
    year_only = browser.visit(page, actions=[last_year])
    after = browser.visit(page, actions=[last_year, other_product])
    assert year_only.errors == after.errors == [], after.errors
    assert 0 < after.charts["chart-daily"]["marks"] < before.charts["chart-daily"]["marks"]
    assert after.charts["chart-product"]["marks"] > 0
    assert after.results[0] == year_only.results[0] and after.results[1]  # the actions ran
    assert after.texts["chart-product"] != year_only.texts["chart-product"]
    backwards = browser.visit(page, actions=[
        "(function () { var end = document.getElementById('year-to'); end.value = end.min; "
        "end.dispatchEvent(new Event('change')); "
        "return [document.getElementById('year-from').value, end.value, end.min]; })()"])
    year_from, year_to, first = backwards.results[0]
    assert year_from == year_to == first  # (charts with no data in that period are left empty)
