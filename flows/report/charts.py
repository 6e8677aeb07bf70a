"""The pair pages' charts as Vega-Lite specifications, written with Altair.

Every chart carries its data inline (the page needs nothing else) and the page-level filter params
``year_from`` / ``year_to`` (period) and, on the product chart, ``product``: the page's inputs set them
(see :mod:`flows.report.html`).
"""
from __future__ import annotations

import altair as alt

WIDTH = 760
YEAR_FILTER = "year(datum.{field}) >= year_from && year(datum.{field}) <= year_to"


def _period_params(first_year: int, last_year: int) -> list:
    return [alt.param(name="year_from", value=first_year), alt.param(name="year_to", value=last_year)]


def _data(name: str) -> alt.NamedData:
    """A dataset by name; its rows go in the spec's top-level ``datasets`` (:func:`_spec`), which keeps
    Altair's schema validation off the (large) rows."""
    return alt.NamedData(name=name)


def _spec(chart, **datasets: list[dict]) -> dict:
    spec = chart.to_dict()
    spec["datasets"] = datasets
    return spec


def trade_balance(records: list[dict], years: tuple[int, int], a: str, b: str) -> dict:
    base = alt.Chart(_data("records")).mark_line(strokeWidth=1.5).encode(
        x=alt.X("month:T", title="month"),
        y=alt.Y("value_usd:Q", title="US$", axis=alt.Axis(format="~s")),
        color=alt.Color("declaration:N", title="declared by"),
        strokeDash=alt.StrokeDash("declaration:N", title="declared by"),
        tooltip=[alt.Tooltip("month:T", format="%Y-%m"), "measure:N", "declaration:N",
                 alt.Tooltip("value_usd:Q", format=",.0f")],
    ).transform_filter(YEAR_FILTER.format(field="month")).properties(width=WIDTH, height=150)
    charts = [base.transform_filter(alt.datum.measure == m).properties(title=title)
              for m, title in (("balance", f"balance: {a}'s exports to {b} minus its imports from {b}"),
                               ("exports", f"{a} → {b}"), ("imports", f"{b} → {a}"))]
    return _spec(alt.vconcat(*charts).add_params(*_period_params(*years)).resolve_scale(color="shared"), records=records)


def top_products(records: list[dict], years: tuple[int, int], latest_year: int) -> dict:
    """Bars for the year ``year_to`` selects (at most the latest year with product data): trade by
    product, and its change on the year before."""
    base = alt.Chart(_data("records")).transform_filter(f"datum.year == min(year_to, {int(latest_year)})").encode(
        y=alt.Y("product:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
        tooltip=["year:O", "product:N", alt.Tooltip("exports_usd:Q", format=",.0f"),
                 alt.Tooltip("imports_usd:Q", format=",.0f"), alt.Tooltip("trade_yoy_pct:Q", format=".1f")])
    value = base.mark_bar().encode(x=alt.X("trade_usd:Q", title="exports + imports, US$", axis=alt.Axis(format="~s"))
                                   ).properties(width=330, height=300, title="trade in the selected year")
    change = base.mark_bar().encode(
        x=alt.X("trade_yoy_pct:Q", title="change on the year before, %"),
        y=alt.Y("product:N", sort=alt.EncodingSortField("trade_usd", order="descending"), axis=None),
        color=alt.condition("datum.trade_yoy_pct >= 0", alt.value("#4c78a8"), alt.value("#e45756")),
    ).properties(width=220, height=300, title="year-on-year change")
    return _spec(alt.hconcat(value, change).add_params(*_period_params(*years)), records=records)


def product_over_time(records: list[dict], years: tuple[int, int], first_product: str, latest_year: int) -> dict:
    """The product the page's product filter selects, year by year (exports and imports); a period
    starting after the latest year with product data shows that year."""
    chart = alt.Chart(_data("records")).transform_filter("datum.product == product").transform_filter(
        f"datum.year >= min(year_from, {int(latest_year)}) && datum.year <= max(year_to, min(year_from, {int(latest_year)}))"
    ).transform_fold(
        ["exports_usd", "imports_usd"], as_=["flow", "value_usd"]).mark_line(point=True).encode(
        x=alt.X("year:O", title="year"),
        y=alt.Y("value_usd:Q", title="US$", axis=alt.Axis(format="~s")),
        color=alt.Color("flow:N", title=None),
        tooltip=["year:O", "product:N", "flow:N", alt.Tooltip("value_usd:Q", format=",.0f")],
    ).properties(width=WIDTH, height=200)
    return _spec(chart.add_params(*_period_params(*years), alt.param(name="product", value=first_product)), records=records)


def tariff_exposure(records: list[dict], measures: list[dict], years: tuple[int, int]) -> dict:
    """Central estimate and upper bound per direction, each measure a dated rule with its id."""
    lines = alt.Chart(_data("records")).transform_filter(YEAR_FILTER.format(field="month")).mark_line().encode(
        x=alt.X("month:T", title="month"),
        y=alt.Y("tariff_pct:Q", title="trade-weighted additional tariff, %"),
        color=alt.Color("direction:N", title=None),
        strokeDash=alt.StrokeDash("estimate:N", title="estimate"),
        tooltip=[alt.Tooltip("month:T", format="%Y-%m"), "direction:N", "estimate:N",
                 alt.Tooltip("tariff_pct:Q", format=".2f"), alt.Tooltip("covered_share_pct:Q", format=".1f"),
                 "measure_ids:N"])
    dated = alt.Chart(_data("measures")).transform_filter(YEAR_FILTER.format(field="effective_date"))
    rules = dated.mark_rule(color="#888", strokeDash=[2, 2]).encode(
        x="effective_date:T",
        tooltip=["measure_id:N", "imposing_iso3:N", "target_iso3:N", "instrument:N",
                 alt.Tooltip("effective_date:T", format="%Y-%m-%d"), "rate_pct:Q", "source_publisher:N"])
    labels = dated.mark_text(angle=270, align="left", baseline="bottom", dx=-4, fontSize=9, color="#555").encode(
        x="effective_date:T", y=alt.value(4), text="measure_id:N")
    return _spec(alt.layer(lines, rules, labels).add_params(*_period_params(*years)).properties(width=WIDTH, height=260),
                 records=records, measures=measures)


def relations(monthly: list[dict], events: list[dict], years: tuple[int, int]) -> dict:
    """The monthly relations index; each key event a point on its month (click: the source article)."""
    line = alt.Chart(_data("monthly")).transform_filter(YEAR_FILTER.format(field="month")).mark_line().encode(
        x=alt.X("month:T", title="month"), y=alt.Y("relations_index:Q", title="relations index"),
        tooltip=[alt.Tooltip("month:T", format="%Y-%m"), alt.Tooltip("relations_index:Q", format=".1f"),
                 alt.Tooltip("relations_index_change:Q", format=".1f"), "events:Q"])
    marked = alt.Chart(_data("events")).transform_filter(YEAR_FILTER.format(field="month"))
    rules = marked.mark_rule(color="#bbb").encode(x="month:T")
    points = marked.mark_point(filled=True, size=70, color="#e45756", cursor="pointer").encode(
        x="month:T", y="relations_index:Q", href="source_url:N",
        tooltip=[alt.Tooltip("event_date:T", format="%Y-%m-%d"), "event_description:N", "actor1_name:N",
                 "actor2_name:N", "mentions:Q", alt.Tooltip("relations_index_change:Q", format=".1f"),
                 "source_url:N"])
    return _spec(alt.layer(line, rules, points).add_params(*_period_params(*years)).properties(width=WIDTH, height=260),
                 monthly=monthly, events=events)


def relations_daily(records: list[dict], years: tuple[int, int]) -> dict:
    chart = alt.Chart(_data("records")).transform_filter(YEAR_FILTER.format(field="day")).mark_bar(width=1).encode(
        x=alt.X("day:T", title="day"), y=alt.Y("events:Q", title="events"),
        color=alt.Color("net_cooperation_share:Q", title="net cooperation", scale=alt.Scale(scheme="redblue", domain=[-1, 1])),
        tooltip=[alt.Tooltip("day:T", format="%Y-%m-%d"), "events:Q", "net_cooperation_share:Q"])
    return _spec(chart.add_params(*_period_params(*years)).properties(width=WIDTH, height=160), records=records)
