"""The pages' HTML: layout, tables, CSV links, the filter inputs and the chart embedding.

Nothing is fetched at view time: the one script is ``assets/vega.js`` in the site (Vega, Vega-Lite
and vega-embed), the style is inline, each chart's data is inline in its spec.
"""
from __future__ import annotations

import json
from html import escape

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; }
header { background: #1f3b57; color: #fff; padding: 10px 24px; }
header a { color: #cfe3ff; margin-right: 14px; }
main { padding: 8px 24px 40px; max-width: 1100px; }
h1 { font-size: 22px; margin: 10px 0; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 6px 0; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #17803d; } .bad { color: #b42318; font-weight: bold; } .warn { color: #a15c00; }
.note { background: #fff8e5; border-left: 4px solid #e0a800; padding: 6px 10px; }
.sample { background: #fdecec; border-left: 4px solid #d33; padding: 6px 10px; }
.filters { position: sticky; top: 0; background: #f7f9fb; border: 1px solid #dde3ea; padding: 6px 10px; z-index: 2; }
.filters label { margin-right: 16px; }
details { margin: 4px 0 0; } summary { cursor: pointer; color: #1f5fa8; }
.chart { min-height: 40px; }
"""

EMBED_JS = """
(function () {
  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var views = [];
  var ready = Object.keys(specs).map(function (id) {
    return vegaEmbed('#' + id, specs[id], {renderer: 'svg', actions: false, mode: 'vega-lite'})
      .then(function (result) { views.push(result.view); })
      .catch(function (err) { console.error('chart ' + id + ': ' + err); });
  });
  function setSignal(name, value) {
    views.forEach(function (view) {
      try { view.signal(name, value); view.runAsync(); } catch (e) { /* this chart has no such filter */ }
    });
  }
  function apply(input) {
    var value = input.dataset.type === 'number' ? Number(input.value) : input.value;
    var out = document.getElementById(input.id + '-value');
    if (out) { out.textContent = input.value; }
    setSignal(input.dataset.signal, value);
  }
  // the period never runs backwards: moving one end past the other moves the other along
  var yearFrom = document.getElementById('year-from'), yearTo = document.getElementById('year-to');
  function keepOrder(moved) {
    if (!yearFrom || !yearTo || Number(yearFrom.value) <= Number(yearTo.value)) { return; }
    var other = moved === yearFrom ? yearTo : yearFrom;
    other.value = moved.value;
    apply(other);
  }
  document.querySelectorAll('[data-signal]').forEach(function (input) {
    input.addEventListener('change', function () { keepOrder(input); apply(input); });
  });
  Promise.all(ready).then(function () { document.body.setAttribute('data-charts-ready', String(views.length)); });
})();
"""


def _cell(value) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:,.2f}</td>'
    text = str(value)
    if text.startswith(("http://", "https://")):
        return f'<td><a href="{escape(text)}" rel="noopener">{escape(text)}</a></td>'
    return f"<td>{escape(text)}</td>"


def table(columns: list[str], rows: list[tuple] | list[list]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def dict_table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p>(none)</p>"
    columns = columns or list(rows[0])
    return table(columns, [[r.get(c) for c in columns] for r in rows])


def chart_section(chart_id: str, title: str, description: str, tables: list[tuple[str, str, list[str], list]]) -> str:
    """A chart's container, then for each dataset behind it a table view and a CSV download.
    ``tables``: (label, csv href, columns, rows)."""
    views = "\n".join(
        f'<details><summary>{escape(label)}: table ({len(rows)} rows)</summary>\n{table(columns, rows)}\n</details>\n'
        f'<p><a href="{escape(href)}" download>Download {escape(label)} as CSV</a></p>'
        for label, href, columns, rows in tables)
    return (f'<section id="{chart_id}-section">\n<h2>{escape(title)}</h2>\n<p>{escape(description)}</p>\n'
            f'<div class="chart" id="{chart_id}"></div>\n{views}\n</section>')


def filters(first_year: int, last_year: int, products: list[str]) -> str:
    options = "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in products)
    return (
        '<form class="filters" onsubmit="return false">'
        f'<label>from <input type="range" id="year-from" data-signal="year_from" data-type="number" min="{first_year}" '
        f'max="{last_year}" value="{first_year}"> <output id="year-from-value">{first_year}</output></label>'
        f'<label>to <input type="range" id="year-to" data-signal="year_to" data-type="number" min="{first_year}" '
        f'max="{last_year}" value="{last_year}"> <output id="year-to-value">{last_year}</output></label>'
        f'<label>product <select id="product" data-signal="product" data-type="text">{options}</select></label>'
        "</form>")


def page(title: str, nav: list[tuple[str, str]], body: str, specs: dict[str, dict] | None = None) -> str:
    links = "".join(f'<a href="{escape(href)}">{escape(label)}</a>' for label, href in nav)
    scripts = ""
    if specs:
        data = json.dumps(specs, separators=(",", ":"), default=str).replace("</", "<\\/")
        scripts = (f'<script src="assets/vega.js"></script>\n'
                   f'<script type="application/json" id="chart-specs">{data}</script>\n<script>{EMBED_JS}</script>')
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n<header>{links}</header>\n<main>\n<h1>{escape(title)}</h1>\n"
            f"{body}\n</main>\n{scripts}\n</body>\n</html>\n")
