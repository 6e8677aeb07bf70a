"""The run page and the pair pages: HTML text plus the datasets each page offers as CSV."""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from flows.report import charts, html
from flows.report.queries import Dataset
from flows.report.run_page_data import RunPageData

PAIR_DATASETS = ("trade_balance", "top_products", "tariff_exposure", "tariff_measures", "relations_monthly",
                 "relations_daily", "key_events")


@dataclass
class Page:
    filename: str
    html: str
    csv: dict[str, Dataset] = field(default_factory=dict)  # site-relative path -> dataset
    charts: int = 0


def pair_slug(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-{pair[1]}"


def nav(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("Run", "index.html"), *((pair_slug(p), f"pair-{pair_slug(p)}.html") for p in pairs)]


def _years(data: dict[str, Dataset]) -> tuple[int, int]:
    years = []
    for name, field_name in (("trade_balance", "month"), ("tariff_exposure", "month"), ("relations_monthly", "month")):
        ds = data[name]
        i = ds.columns.index(field_name)
        years += [r[i].year for r in ds.rows if r[i] is not None]
    return (min(years), max(years)) if years else (2015, 2015)


def _is_sample(data: dict[str, Dataset]) -> bool:
    for ds in data.values():
        if "is_sample" in ds.columns:
            i = ds.columns.index("is_sample")
            if any(r[i] for r in ds.rows):
                return True
    return False


def pair_page(pair: tuple[str, str], data: dict[str, Dataset], pairs: list[tuple[str, str]]) -> Page:
    a, b = pair
    slug = pair_slug(pair)
    years = _years(data)
    csv = {f"data/{slug}/{name}.csv": data[name] for name in PAIR_DATASETS}

    def tables(*names: str) -> list:
        return [(name, f"data/{slug}/{name}.csv", data[name].columns, data[name].rows) for name in names]

    products = data["top_products"]
    p_i = products.columns.index("product")
    product_names = list(dict.fromkeys(r[p_i] for r in products.rows))
    latest_product_year = max((r[0] for r in products.rows), default=years[1])
    records = {name: data[name].records() for name in PAIR_DATASETS}
    specs = {
        "chart-trade": charts.trade_balance(records["trade_balance"], years, a, b),
        "chart-products": charts.top_products(records["top_products"], years, latest_product_year),
        "chart-product": charts.product_over_time(records["top_products"], years,
                                                  product_names[0] if product_names else "", latest_product_year),
        "chart-tariffs": charts.tariff_exposure(records["tariff_exposure"], records["tariff_measures"], years),
        "chart-relations": charts.relations(records["relations_monthly"], records["key_events"], years),
        "chart-daily": charts.relations_daily(records["relations_daily"], years),
    }
    sections = [
        html.chart_section("chart-trade", "Trade balance",
                           f"Monthly, UN Comtrade: {a}'s declarations, {b}'s mirror declarations of the same flows, "
                           "and the reconciled value (marts.trade_balance, reconciled values from marts.trade_reconciled).",
                           tables("trade_balance")),
        html.chart_section("chart-products", "Top products",
                           f"The 12 products {a} trades most with {b} (HS chapters and tracked HS6 lines) in the year "
                           f"the 'to' filter selects (at most {latest_product_year}, the latest year with product "
                           "data), and their change on the year before (marts.trade_by_product).",
                           tables("top_products")),
        html.chart_section("chart-product", "One product over time",
                           "The product the product filter selects, exports and imports by year (the data of "
                           "the top products chart).", tables("top_products")),
        html.chart_section("chart-tariffs", "Tariff exposure",
                           "Trade-weighted additional tariff each side puts on the other's goods, central estimate "
                           "and upper bound (marts.tariff_exposure, all products); each dated line is a measure "
                           "(marts.tariff_measures). Months whose base-year trade is unknown are not drawn.",
                           tables("tariff_exposure", "tariff_measures")),
        html.chart_section("chart-relations", "Relations index",
                           "GDELT relations index by month (marts.relations_monthly); each red point is one of the "
                           "12 months the index moved most, with its most-mentioned story "
                           "(marts.relations_key_events): click a point to open the source article.",
                           tables("relations_monthly", "key_events")),
        html.chart_section("chart-daily", "Events by day",
                           "GDELT events between the two by day, coloured by net cooperation share "
                           "(marts.relations_daily).", tables("relations_daily")),
    ]
    events = data["key_events"]
    story = html.table(["month", "event", "actors", "index change", "source article"], [
        (r[0].isoformat()[:7], r[4], f"{r[5]} → {r[6]}", r[2], r[8]) for r in events.rows])
    intro = (f"<p>Trade, tariffs and relations between {escape(a)} and {escape(b)}, {years[0]}–{years[1]}. "
             "The filters set the period of every chart and the product of the product chart.</p>")
    if _is_sample(data):
        intro += ('<p class="sample">Sample data: rows marked is_sample come from the bundled sample\'s generators, '
                  "not from the real sources.</p>")
    body = "\n".join([intro, html.filters(years[0], years[1], product_names), *sections,
                      "<h2>Key events</h2>", story])
    return Page(f"pair-{slug}.html", html.page(f"{a} – {b}", nav(pairs), body, specs), csv, len(specs))


def _short(text: str, limit: int = 240) -> str:
    """A step's message and notes, cut for the table (the whole text is in audit.run_steps)."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + " ... (the rest: audit.run_steps)"


def _seconds(value) -> str:
    return "" if value is None else f"{value:,.1f} s"


def run_page(data: RunPageData, pairs: list[tuple[str, str]], docs: dict[str, Path | None], publication: dict) -> Page:
    run = data.run
    steps = [{"step": s["step"], "source": s["source"], "status": s["status"], "started_at": s["started_at"],
              "duration": _seconds(s["seconds"]), "files": s["files"], "rows": s["rows"],
              "message": _short((s["message"] or "") + ((" " + s["notes"]) if s.get("notes") else ""))}
             for s in data.steps]
    run_rows = [("run id", run.get("run_id")), ("mode", run.get("mode")), ("run date", run.get("run_date")),
                ("sources", run.get("sources")), ("started", run.get("started_at")),
                ("status when this page was written", run.get("status")),
                ("published at", publication.get("published_at")),
                ("content checksum", publication.get("checksum")), ("page written", data.generated_at)]
    doc_links = []
    for label, path in docs.items():
        if path is not None and Path(path).exists():
            doc_links.append(f'<li>{escape(label)}: <a href="{escape(Path(path).resolve().as_uri())}">'
                             f"{escape(str(Path(path).resolve()))}</a></li>")
        else:
            doc_links.append(f"<li>{escape(label)}: not generated yet"
                             f"{' (expected at ' + escape(str(path)) + ')' if path else ''}</li>")
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in data.notes)
    pair_links = "".join(f'<li><a href="pair-{pair_slug(p)}.html">{escape(pair_slug(p))}</a></li>' for p in pairs)
    failed = [v for v in data.validations if v["outcome"] != "passed"]
    body = "\n".join([
        notes,
        f"<p>The publication of run {escape(str(run.get('run_id')))}: what the run fetched, landed, loaded, "
        "quarantined, built and validated. Pair pages:</p>", f"<ul>{pair_links}</ul>",
        "<h2>Run</h2>", html.table(["", ""], run_rows),
        "<h2>Steps and timings</h2>", html.dict_table(steps),
        "<h2>Freshness per source</h2>", html.dict_table(data.freshness, [
            "source", "state", "last_success_at", "last_attempt_outcome", "consecutive_failures", "watermark",
            "hours_since_success", "stale_after_hours", "quarantined_open", "last_error"]),
        "<h2>Landed files</h2>", html.dict_table(data.landed),
        "<h2>Loaded files</h2>", html.dict_table(data.loaded),
        "<h2>Quarantined records</h2>", html.dict_table(data.quarantined),
        "<h2>Validation</h2>",
        f'<p class="{"bad" if failed else "ok"}">{len(data.validations) - len(failed)} of {len(data.validations)} '
        "suites passed</p>",
        html.dict_table(data.validations, ["suite", "outcome", "evaluated", "failed", "warnings", "rows_checked",
                                           "validated_at"]),
        "<h2>Documentation of the models and checks</h2>",
        "<p><code>bilateral docs</code> serves the dbt docs and the Great Expectations Data Docs on 127.0.0.1 "
        "(README, \"The report site\"). Generated files:</p>", f"<ul>{''.join(doc_links)}</ul>",
    ])
    return Page("index.html", html.page(f"bilateral run {run.get('run_id')}", nav(pairs), body))
