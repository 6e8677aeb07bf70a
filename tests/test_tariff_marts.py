"""Tariff marts on the shared sample run: published, measures in force on given dates, date boundaries
of the schedule, tariff_exposure recomputed by independent queries (from the registry, WITS MFN rates
and the trade marts; and from raw Comtrade rows and the seeds), the product universe, the stacking
rules, USMCA bounds, expected measures and the PIIE story. Expected values come from the seeds, the
issue's thresholds and PIIE's published figures, never from the implementation."""
from __future__ import annotations

import csv
from datetime import date

import pytest

from tests.conftest import PROJECT_ROOT
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def registry() -> list[dict]:
    with (DBT_PROJECT_DIR / "seeds" / "tariff_measures_registry.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def in_force(importer: str, exporter: str, day: date) -> dict[str, float]:
    """Registry rows in force (independent Python reading of the seed): row_id -> rate."""
    out = {}
    for r in registry():
        if r["imposing_iso3"] != importer or r["target_iso3"] not in (exporter, "ALL") or not r["effective_date"]:
            continue
        if date.fromisoformat(r["effective_date"]) <= day and (not r["end_date"] or day <= date.fromisoformat(r["end_date"])):
            out[r["row_id"]] = float(r["rate_pct"])
    return out


def test_sample_run_publishes_the_tariff_marts(sample_run):
    assert sample_run.summary.status == "success"
    counts = dict(sample_run.query(
        "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts' and table_name like 'tariff_%'"))
    assert set(counts) >= {"tariff_measures", "tariff_schedule", "tariff_exposure"}
    for table in ("tariff_measures", "tariff_schedule", "tariff_exposure"):
        assert sample_run.query(f"select count(*) from marts.{table}")[0][0] > 0
    # the real US 2017 MFN rates are not sample data; generated WITS lines are
    flags = dict(sample_run.query("select mfn_year = 2017 and importer_iso3 = 'USA', bool_and(is_sample) from marts.tariff_schedule "
                                  "where mfn_year is not null and preferential_year is null group by 1"))
    assert flags == {True: False, False: True}


@pytest.mark.parametrize("day", [date(2025, 1, 1), date(2026, 3, 15)])
def test_measures_in_force_on_canadian_imports_from_china(sample_run, day):
    rows = sample_run.query(
        "select distinct row_id, rate_pct from marts.tariff_measures where imposing_iso3 = 'CAN' and target_iso3 in ('CHN', 'ALL') "
        "and effective_date <= ? and (end_date is null or end_date >= ?) order by row_id", [day, day])
    expected = in_force("CAN", "CHN", day)
    assert dict(rows) == expected
    assert expected["CAN-CHN-EV-SURTAX-1"] == 100.0 and "CAN-CHN-STEEL-ALU-SURTAX-1" in expected
    assert "CAN-CHN-EV-TRQ-1" not in expected  # expected [E], date open: in force on no date
    # the schedule applies them on the covered products that day
    for hs6, row_id in (("870380", "CAN-CHN-EV-SURTAX-1"), ("720851", "CAN-CHN-STEEL-ALU-SURTAX-1")):
        sched = sample_run.query(
            "select measure_row_ids, additional_rate_pct, effective_rate_pct - mfn_rate_pct from marts.tariff_schedule "
            "where importer_iso3 = 'CAN' and exporter_iso3 = 'CHN' and hs6 = ? and ? between valid_from and valid_to", [hs6, day])
        assert len(sched) == 1
        ids, additional, over_mfn = sched[0]
        assert ids == row_id and additional == expected[row_id] and over_mfn == pytest.approx(expected[row_id])


@pytest.mark.parametrize("hs6,row_id", [("151411", "CHN-CAN-RETAL-100-1"), ("120510", "CHN-CAN-CANOLA-AD-1"),
                                        ("030612", "CHN-CAN-RETAL-25-1")])
def test_schedule_date_boundaries_day_before_on_and_after(sample_run, hs6, row_id):
    row = next(r for r in registry() if r["row_id"] == row_id)
    effective = date.fromisoformat(row["effective_date"])

    def at(day):
        return sample_run.query(
            "select effective_rate_pct, mfn_rate_pct, total_rate_pct, additional_rate_pct, measure_row_ids from marts.tariff_schedule "
            "where importer_iso3 = 'CHN' and exporter_iso3 = 'CAN' and hs6 = ? and ? between valid_from and valid_to", [hs6, day])

    before, on, after = (at(date.fromordinal(effective.toordinal() + k)) for k in (-1, 0, 1))
    assert len(before) == len(on) == len(after) == 1
    assert row_id not in (before[0][4] or "")
    assert on == after
    eff_before, mfn, *_ = before[0]
    eff_on, _, total, additional, _ = on[0]
    if row["rate_type"] == "total":
        assert eff_on == pytest.approx(float(row["rate_pct"]) + additional)
    elif float(row["rate_pct"]) == 0 and row["replaces_measures"]:  # a suspension: back to the MFN rate
        assert eff_before > mfn and eff_on == pytest.approx(mfn)
    else:
        assert eff_on - eff_before == pytest.approx(float(row["rate_pct"]))


INDEPENDENT = """
with params as (select ?::varchar as imp, ?::varchar as exp, ?::varchar as code),
rows_ as (
    -- registry rows with a product list that apply to the pair and cover the code
    select m.row_id, m.measure_id, m.rate_pct, m.rate_type, m.effective_date, coalesce(m.end_date, date '9999-12-31') as end_date,
           coalesce(m.replaces_measures, '') as replaces, m.hs_code, m.hs_level, m.hs_excluded
    from marts.tariff_measures as m, params as p
    where m.imposing_iso3 = p.imp and m.target_iso3 in (p.exp, 'ALL') and m.effective_date is not null
      and m.hs_level not in ('unlisted', 'list')
),
covering as (
    select r.* from rows_ as r, params as p
    where (r.hs_level in ('chapter', 'heading', 'subheading') and starts_with(p.code, r.hs_code))
       or (r.hs_level = 'range' and left(p.code, length(split_part(r.hs_code, '-', 1))) between split_part(r.hs_code, '-', 1) and split_part(r.hs_code, '-', 2))
       or (r.hs_level = 'all' and not exists (select 1 from unnest(string_split(coalesce(r.hs_excluded, ''), ';')) as x(e) where e <> '' and starts_with(p.code, e)))
),
base_year as (select year(min(effective_date)) - 1 as y from rows_),
days as (
    select unnest(generate_series(make_date((select y from base_year), 1, 1), (select max(valid_to) from marts.tariff_schedule), interval 1 day))::date as d
),
mfn as (
    select d.d, (select w.rate_pct from staging.stg_wits__tariff_lines as w, params as p
                 where w.reporter_iso3 = p.imp and w.partner_iso3 = 'WLD' and w.hs6 = p.code and w.year <= year(d.d)
                 order by w.year desc limit 1) as mfn
    from days as d
),
active as (
    -- expected (E) measures stay out of the in-force rates (default of tariff_include_expected_measures)
    select d.d, c.* from days as d join covering as c on d.d between c.effective_date and c.end_date
    where c.row_id not in (select row_id from marts.tariff_measures where is_expected)
),
replaced as (
    select d, unnest(string_split(replaces, ';')) as measure_id from active where rate_type <> 'in_quota' and replaces <> ''
),
daily as (
    select m.d,
           coalesce(sum(a.rate_pct) filter (where a.rate_type = 'ad_valorem_additional'), 0)
             + coalesce(max(a.rate_pct) filter (where a.rate_type = 'total') - max(m.mfn), 0) as extra
    from mfn as m
    left join active as a on a.d = m.d and a.rate_type <> 'in_quota'
        and a.measure_id not in (select measure_id from replaced as r where r.d = m.d)
    group by m.d
),
monthly as (
    select date_trunc('month', d)::date as month, avg(extra) as rate, avg(case when extra > 0 then 1.0 else 0 end) as share
    from daily group by 1
),
trade as (
    select t.* from marts.trade_by_product as t, params as p
    where t.reporter_iso3 = p.imp and t.partner_iso3 = p.exp and t.product_code = p.code
),
base as (select imports_usd / 12.0 as base from trade where period_type = 'annual' and year = (select y from base_year))
select m.month, b.base, b.base * m.share as covered, b.base * m.rate / 100 as duty,
       coalesce((select imports_usd from trade where period_type = 'monthly' and period_start = m.month),
                (select imports_usd / 12.0 from trade where period_type = 'annual' and year = year(m.month))) as actual
from monthly as m, base as b
order by m.month
"""


@pytest.mark.parametrize("importer,exporter,code", [("CAN", "CHN", "870380"), ("CHN", "CAN", "120510"), ("CHN", "CAN", "230649")])
def test_exposure_recomputed_by_an_independent_query(sample_run, importer, exporter, code):
    expected = sample_run.query(INDEPENDENT, [importer, exporter, code], published=False)
    got = sample_run.query(
        "select month, base_trade_usd, covered_base_trade_usd, estimated_duty_usd, actual_trade_usd from marts.tariff_exposure "
        "where importer_iso3 = ? and exporter_iso3 = ? and hs_code = ? and base_year is not null order by month",
        [importer, exporter, code])
    assert len(got) == len(expected) > 12
    for g, e in zip(got, expected):
        assert g[0] == e[0]
        assert g[1:4] == pytest.approx(e[1:4], rel=1e-9, abs=1e-3), g[0]  # the mart rounds money to 1/100 cent
        assert (g[4] is None and e[4] is None) or g[4] == pytest.approx(e[4], rel=1e-9, abs=1e-3), g[0]
    assert any(e[3] > 0 for e in expected)  # the measures do bite in the sample


def test_seed_story_ev_and_canola(sample_run):
    def series(importer, exporter, code):
        return {m: (share, rate, actual, base, exp) for m, share, rate, actual, base, exp in sample_run.query(
            "select month, covered_share_pct, avg_additional_tariff_pct, actual_trade_usd, base_trade_usd, has_expected_measure "
            "from marts.tariff_exposure where importer_iso3 = ? and exporter_iso3 = ? and hs_code = ?", [importer, exporter, code])}

    surtax = float(next(r for r in registry() if r["row_id"] == "CAN-CHN-EV-SURTAX-1")["rate_pct"])
    ev = series("CAN", "CHN", "870380")
    assert ev[date(2024, 9, 1)][0] == 0 and ev[date(2024, 10, 1)][0] == 100 and ev[date(2024, 10, 1)][1] == surtax
    after = [v[2] for m, v in ev.items() if date(2025, 1, 1) <= m <= date(2025, 12, 1) and v[2] is not None]
    assert after and max(after) < 0.5 * ev[date(2024, 10, 1)][3]  # EV imports collapse against the base year

    ad = float(next(r for r in registry() if r["row_id"] == "CHN-CAN-CANOLA-AD-1")["rate_pct"])
    seed = series("CHN", "CAN", "120510")
    assert seed[date(2025, 7, 1)][1] == 0 < seed[date(2025, 8, 1)][1] < ad == pytest.approx(seed[date(2025, 9, 1)][1])
    # the 2026-03-01 deal is expected [E]: left out of the rates by default, but the month is marked
    assert seed[date(2026, 3, 1)][1] == seed[date(2026, 2, 1)][1] and seed[date(2026, 3, 1)][4] is True
    assert seed[date(2026, 2, 1)][4] is False
    oil = series("CHN", "CAN", "1514")
    assert oil[date(2025, 2, 1)][1] == 0 < oil[date(2025, 3, 1)][1] < oil[date(2025, 4, 1)][1]


# --- the product universe, list shares, history, USMCA, expected measures (issue 11) ---------------------

def seed(name: str) -> list[dict]:
    with (DBT_PROJECT_DIR / "seeds" / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def exposure(run, importer: str, exporter: str) -> dict:
    cols = ("avg_additional_tariff_pct", "avg_additional_tariff_upper_bound_pct", "avg_additional_tariff_prev_year_pct",
            "covered_share_pct", "prev_year_covered_share_pct", "expected_measure_count", "avg_total_tariff_prev_year_pct")
    rows = run.query(f"select month, {', '.join(cols)} from marts.tariff_exposure "
                     "where importer_iso3 = ? and exporter_iso3 = ? and hs_level = 'all' order by month", [importer, exporter])
    return {r[0]: dict(zip(cols, r[1:])) for r in rows}


def test_all_goods_measures_reach_every_line_of_the_nomenclature(sample_run):
    universe = {v: {r["hs6"] for r in seed("tariff_hs6_universe") if r["hs_vintage"] == v} for v in ("H5", "H6")}
    wits_china = {r[0] for r in sample_run.query(
        "select distinct hs6 from staging.stg_wits__tariff_lines where reporter_iso3 = 'CHN'", published=False)}
    assert len(wits_china) < 0.5 * len(universe["H6"])  # the sample's China WITS file: 14 chapters
    for day, row_id in ((date(2025, 4, 20), "CHN-USA-RECIPROCAL-1"), (date(2025, 9, 15), "CHN-USA-RECIPROCAL-2")):
        lines = {r[0] for r in sample_run.query(
            "select hs6 from marts.tariff_schedule where importer_iso3 = 'CHN' and exporter_iso3 = 'USA' "
            "and ? between valid_from and valid_to and list_contains(string_split(measure_row_ids, ';'), ?)", [day, row_id])}
        assert lines == universe["H6"], day
    # a line without a WITS rate has an unknown base rate, never 0, and says so; its duty still counts:
    # +10% on all goods plus the 2018-2019 lists spread over chapter 84 (rate x share, from the seeds)
    day = date(2025, 9, 15)
    lists = {(r["list_id"], r["hs_code"]): float(r["share_of_parent"]) for r in seed("tariff_product_lists") if r["hs_vintage"] == "H6"}
    expected = 0.0
    for r in registry():
        if r["imposing_iso3"] == "CHN" and r["target_iso3"] == "USA" and r["effective_date"] and \
                date.fromisoformat(r["effective_date"]) <= day and (not r["end_date"] or day <= date.fromisoformat(r["end_date"])):
            for token in r["hs_codes"].split(";"):
                if token == "ALL":
                    expected += float(r["rate_pct"])
                elif token.startswith("LIST:"):
                    expected += float(r["rate_pct"]) * lists.get((token[5:], "84"), 0.0)
    row = sample_run.query("select mfn_rate_pct, additional_rate_pct from marts.tariff_schedule where importer_iso3 = 'CHN' "
                           "and exporter_iso3 = 'USA' and hs6 = '847130' and ? between valid_from and valid_to", [day])
    assert "847130" not in wits_china and len(row) == 1 and row[0][0] is None
    assert expected > 10 and row[0][1] == pytest.approx(expected)
    known = sample_run.query("select base_rate_known_share_pct from marts.tariff_exposure where importer_iso3 = 'CHN' "
                             "and exporter_iso3 = 'USA' and hs_level = 'all' and month = date '2025-09-01'")[0][0]
    assert 0 < known < 100
    # whenever an all-goods measure is in force for the whole month, it covers >= 99% of the pair's trade
    series = exposure(sample_run, "CHN", "USA")
    full_months = [m for m in series if date(2025, 5, 1) <= m <= date(2026, 9, 1)]
    assert full_months and all(series[m]["prev_year_covered_share_pct"] >= 99 for m in full_months)
    assert all(series[m]["covered_share_pct"] >= 99 for m in full_months)


def test_coverage_check_fails_on_a_schedule_built_from_wits_lines_only(sample_run, clone_warehouse):
    """The singular test tariff_all_goods_measures_cover_the_trade passes on the run and catches the old
    schedule (products = the importer's WITS lines): run its compiled SQL on a copy with that schedule."""
    import duckdb

    compiled = next((sample_run.warehouse_dir / "dbt" / "target" / "compiled").rglob("tariff_all_goods_measures_cover_the_trade.sql"))
    sql = compiled.read_text()
    run = clone_warehouse(sample_run)
    con = duckdb.connect(str(run.db_path))
    try:
        assert con.execute(f"select count(*) from ({sql})").fetchone() == (0,)
        con.execute("delete from marts.tariff_schedule as s where importer_iso3 = 'CHN' and hs6 not in "
                    "(select hs6 from staging.stg_wits__tariff_lines where reporter_iso3 = 'CHN')")
        failures = con.execute(f"select importer_iso3, exporter_iso3, row_id, min(reached_pct) from ({sql}) group by all").fetchall()
    finally:
        con.close()
    assert {(i, e) for i, e, *_ in failures} == {("CHN", "USA")}
    assert {r for _, _, r, _ in failures} >= {"CHN-USA-RECIPROCAL-1", "CHN-USA-RECIPROCAL-2"}
    assert all(pct < 70 for *_, pct in failures)


def test_the_issue_figures_hold_on_the_sample(sample_run):
    chn_usa = exposure(sample_run, "CHN", "USA")
    # CHN-on-USA: +125% in force 19 of 30 days in 2025-04 (and 84% two days): >= 79%; +10% on all goods in 2025-09: >= 10%
    for key in ("avg_additional_tariff_pct", "avg_additional_tariff_prev_year_pct"):
        assert chn_usa[date(2025, 4, 1)][key] >= 79
        assert chn_usa[date(2025, 9, 1)][key] >= 10
    # US-on-China: exposure from 2018-01 on, above 10% from 2019 (Section 301 lists 1-3)
    usa_chn = exposure(sample_run, "USA", "CHN")
    months = [m for m in usa_chn if date(2018, 1, 1) <= m <= date(2026, 12, 1)]
    assert len(months) == 108
    for key in ("avg_additional_tariff_pct", "avg_additional_tariff_prev_year_pct"):
        assert all(usa_chn[m][key] is not None for m in months)
        assert all(usa_chn[m][key] > 10 for m in months if m >= date(2019, 1, 1)), key
    assert usa_chn[date(2018, 1, 1)]["avg_additional_tariff_pct"] == 0 < usa_chn[date(2018, 7, 1)]["avg_additional_tariff_pct"]
    # US-on-Canada: the central estimate (USMCA-qualifying goods exempt from 2025-03-07) well below the upper bound
    usa_can = exposure(sample_run, "USA", "CAN")
    after = [m for m in usa_can if date(2025, 4, 1) <= m <= date(2026, 9, 1)]
    assert after and all(usa_can[m]["avg_additional_tariff_pct"] < 0.7 * usa_can[m]["avg_additional_tariff_upper_bound_pct"]
                         for m in after)
    assert usa_can[date(2025, 2, 1)]["avg_additional_tariff_pct"] == usa_can[date(2025, 2, 1)]["avg_additional_tariff_upper_bound_pct"]
    # the 2018-2019 trade war shows on every pair of the registry
    for imp, exp in (("USA", "CAN"), ("CAN", "USA"), ("CHN", "USA")):
        assert exposure(sample_run, imp, exp)[date(2018, 10, 1)]["avg_additional_tariff_pct"] > 0, (imp, exp)
    assert exposure(sample_run, "USA", "CAN")[date(2019, 6, 1)]["avg_additional_tariff_pct"] == 0  # removed 2019-05-20
    # a month relying on an expected measure is marked (the 2026-03-01 canola deal, left out of the rates)
    marked = dict(sample_run.query("select month, tariff_has_expected_measure from marts.country_pair_monthly where pair = 'CAN-CHN' "
                                   "and month in (date '2026-02-01', date '2026-03-01')"))
    if date(2026, 3, 1) in marked:  # the relations calendar of the sample reaches the run month
        assert marked == {date(2026, 2, 1): False, date(2026, 3, 1): True}
    chn_can = exposure(sample_run, "CHN", "CAN")
    assert chn_can[date(2026, 3, 1)]["expected_measure_count"] == 1 and chn_can[date(2026, 2, 1)]["expected_measure_count"] == 0


# PIIE, "US-China Trade War Tariffs: An Up-to-Date Chart" (Chad P. Bown): average US tariff on Chinese
# goods, trade-weighted with previous-year imports. Tolerances and the reasons for the gaps:
# docs/sources/tariffs.md ("Comparison with PIIE").
PIIE_US_ON_CHINA = [  # (month, PIIE level %, tolerance pp)
    (date(2018, 1, 1), 3.8, 2.5),
    (date(2018, 12, 1), 12.0, 4.0),
    (date(2019, 10, 1), 19.0, 5.0),
    (date(2025, 1, 1), 21.0, 5.0),
    (date(2025, 6, 1), 50.0, 8.0),
]


def test_story_us_average_tariff_on_chinese_goods_against_piie(sample_run):
    series = exposure(sample_run, "USA", "CHN")
    total = {m: v["avg_total_tariff_prev_year_pct"] for m, v in series.items()}
    for month, level, tolerance in PIIE_US_ON_CHINA:
        assert abs(total[month] - level) <= tolerance, (month, total[month], level)
    assert max(total[date(2025, 4, 1)], total[date(2025, 5, 1)]) > 120  # the April-May 2025 peak
    # the shape: escalation in 2018-2019, the Phase One cut, the 2025 escalation and the Geneva truce
    assert total[date(2018, 1, 1)] < total[date(2018, 12, 1)] < total[date(2019, 10, 1)]
    assert total[date(2020, 3, 1)] < total[date(2019, 10, 1)]
    assert total[date(2025, 6, 1)] < total[date(2025, 5, 1)] < total[date(2025, 4, 1)]


def _list_share(list_id: str, vintage: str, hs6: str) -> float:
    for r in seed("tariff_product_lists"):
        if r["list_id"] == list_id and r["hs_vintage"] == vintage and r["hs_code"] == hs6:
            return float(r["share_of_parent"])
    return 0.0


def _schedule_at(run, importer, exporter, hs6, day):
    rows = run.query("select additional_rate_pct, additional_rate_usmca_qualifying_pct, measure_row_ids, replaced_row_ids "
                     "from marts.tariff_schedule where importer_iso3 = ? and exporter_iso3 = ? and hs6 = ? "
                     "and ? between valid_from and valid_to", [importer, exporter, hs6, day])
    assert len(rows) == 1
    add, add_q, ids, replaced = rows[0]
    return add, add_q, set((ids or "").split(";")) - {""}, set((replaced or "").split(";")) - {""}


def _around(day: date):
    return [date.fromordinal(day.toordinal() + k) for k in (-1, 0, 1)]


def test_stacking_rules_day_before_on_and_after(sample_run):
    """Each rule of the tracker-style stacking (docs/sources/tariffs.md, "Stacking rules") on the day before,
    on and after its effective date; expected values from the registry and list seeds."""
    reg = {r["row_id"]: float(r["rate_pct"]) for r in registry()}
    # Section 232 and the IEEPA Canada tariff are mutually exclusive on the metal (232 replaces it from 2025-03-12)
    before, on, after = (_schedule_at(sample_run, "USA", "CAN", "720851", d) for d in _around(date(2025, 3, 12)))
    assert before[0] == reg["USA-CAN-IEEPA-3"] and before[2] == {"USA-CAN-IEEPA-3"}
    assert on == after and on[0] == reg["USA-ALL-S232-STEEL-ALU-1"] and on[3] == {"USA-CAN-IEEPA-3"}
    # ... while the fentanyl tariff stacks in full on China's metal (232 replaces only the reciprocal tariff)
    before, on, after = (_schedule_at(sample_run, "USA", "CHN", "720851", d) for d in _around(date(2025, 3, 12)))
    assert "USA-CHN-IEEPA-2" in before[2] and "USA-CHN-IEEPA-2" in on[2] and on == after
    assert before[2] & {"USA-CHN-S232-2018-STEEL-1"} and on[2] & {"USA-ALL-S232-STEEL-ALU-1"}
    # USMCA-qualifying goods exempt from the IEEPA tariff from 2025-03-07
    before, on, after = (_schedule_at(sample_run, "USA", "CAN", "847130", d) for d in _around(date(2025, 3, 7)))
    assert before[1] == reg["USA-CAN-IEEPA-1"] and on[1] == after[1] == 0 and on[0] == reg["USA-CAN-IEEPA-3"]
    # Section 301 only on China; lists add rate x the share of the HS6's national lines they cover
    l3 = _list_share("USTR-301-L3", "H5", "940360")
    assert 0 < l3 <= 1
    before, on, after = (_schedule_at(sample_run, "USA", "CHN", "940360", d) for d in _around(date(2018, 9, 24)))
    assert before[0] == 0 and on[0] == pytest.approx(reg["USA-CHN-S301-L3-1"] * l3) == after[0]
    before, on, after = (_schedule_at(sample_run, "USA", "CHN", "940360", d) for d in _around(date(2019, 5, 10)))
    assert before[0] == pytest.approx(10 * l3) and on[0] == pytest.approx(reg["USA-CHN-S301-L3-2"] * l3) == after[0]
    assert not any("S301" in i for i in _schedule_at(sample_run, "USA", "CAN", "940360", date(2019, 6, 1))[2])
    # the Phase One cut of list 4A (15% -> 7.5% on 2020-02-14)
    l4 = next(r["hs_code"] for r in seed("tariff_product_lists") if r["list_id"] == "USTR-301-L4A" and r["hs_vintage"] == "H5"
              and r["share_of_parent"] == "1.0" and not any(x["hs_code"] == r["hs_code"] and x["list_id"] != "USTR-301-L4A"
                                                            and x["list_id"].startswith("USTR") and x["hs_vintage"] == "H5"
                                                            for x in seed("tariff_product_lists")))
    before, on, after = (_schedule_at(sample_run, "USA", "CHN", l4, d) for d in _around(date(2020, 2, 14)))
    assert before[0] == reg["USA-CHN-S301-L4A-1"] and on[0] == after[0] == reg["USA-CHN-S301-L4A-2"]
    # the 2024 increases replace the lists' rate (the highest 301 rate, not the sum): solar cells 854142
    share_50 = _list_share("USTR-301-2024-50", "H6", "854142")
    before, on, after = (_schedule_at(sample_run, "USA", "CHN", "854142", d) for d in _around(date(2024, 9, 27)))
    assert share_50 == 1 and on == after and on[0] == reg["USA-CHN-S301-2024-50-1"] and before[0] < on[0]
    assert on[3] == before[2] & {r for r in reg if r.startswith("USA-CHN-S301-L")}


INDEPENDENT_PAIR = """
-- tariff exposure of a pair-month from raw rows and seeds only (no staging, intermediate or mart model):
-- registry, product lists, HS universe and USMCA shares as seeded (reference.*), imports from raw.comtrade_record
with params as (select ?::varchar as imp, ?::varchar as exp, ?::date as month_start, ?::integer as base_year),
days as (
    select unnest(generate_series((select month_start from params), (select month_start from params) + interval 1 month - interval 1 day, interval 1 day))::date as d
),
vintage as (select case when (select month_start from params) < date '2022-01-01' then 'H5' else 'H6' end as v),
lines as (select hs6 from reference.tariff_hs6_universe where hs_vintage = (select v from vintage)),
reg as (
    select r.*, try_cast(r.rate_pct as double) as rate, r.effective_date::date as eff, coalesce(nullif(r.end_date, ''), '9999-12-31')::date as fin
    from reference.tariff_measures_registry as r, params as p
    where r.imposing_iso3 = p.imp and r.target_iso3 in (p.exp, 'ALL') and nullif(r.effective_date, '') is not null
      and r.confidence <> 'E' and r.rate_type = 'ad_valorem_additional'
),
tokens as (
    select row_id, unnest(string_split(hs_codes, ';')) as tok from reg
),
excluded as (
    select row_id, unnest(string_split(hs_excluded, ';')) as tok from reg where coalesce(hs_excluded, '') <> ''
),
covered as (
    select t.row_id, l.hs6, 1.0 as share from tokens as t join lines as l
        on t.tok = 'ALL' or (t.tok not like 'LIST:%' and (starts_with(l.hs6, t.tok)
           or (t.tok like '%-%' and left(l.hs6, length(split_part(t.tok, '-', 1))) between split_part(t.tok, '-', 1) and split_part(t.tok, '-', 2))))
    union all
    select t.row_id, l.hs6, pl.share_of_parent::double
    from tokens as t
    join reference.tariff_product_lists as pl on 'LIST:' || pl.list_id = t.tok and pl.hs_vintage = (select v from vintage)
    join lines as l on pl.hs_code = 'ALL' or starts_with(l.hs6, pl.hs_code)
        or (pl.hs_code like '%-%' and left(l.hs6, length(split_part(pl.hs_code, '-', 1))) between split_part(pl.hs_code, '-', 1) and split_part(pl.hs_code, '-', 2))
),
products as (
    select c.row_id, c.hs6, max(c.share) as share from covered as c
    where not exists (select 1 from excluded as e where e.row_id = c.row_id and starts_with(c.hs6, e.tok))
    group by all
),
line_days as (
    select d.d, p.hs6, r.row_id, r.measure_id, r.rate, p.share, coalesce(r.replaces_measures, '') as replaces,
           coalesce(r.exemption, '') = 'usmca_qualifying' as exempt
    from days as d join reg as r on d.d between r.eff and r.fin join products as p on p.row_id = r.row_id
),
stacked as (
    select a.*, greatest(a.share - coalesce((select max(b.share) from line_days as b where b.d = a.d and b.hs6 = a.hs6
                 and list_contains(string_split(b.replaces, ';'), a.measure_id)), 0), 0) as eff_share
    from line_days as a
),
line_month as (
    select hs6, sum(rate * eff_share) / (select count(*) from days) as extra,
           sum(rate * eff_share) filter (where not exempt) / (select count(*) from days) as extra_q
    from stacked group by all
),
trade as (
    select cmdCode as code, freqCode, refYear, sum(primaryValue) as v
    from raw.comtrade_record, params as p
    where reporterISO = p.imp and partnerISO = p.exp and flowCode = 'M' and cmdCode <> 'TOTAL'
    group by all
),
codes as (select code from trade group by code having sum(v) > 0),
annual as (select t.code, t.v from trade as t join codes using (code) where freqCode = 'A' and refYear = (select base_year from params)),
parents as (
    select c.code, (select max_by(p.code, length(p.code)) from codes as p where length(p.code) < length(c.code) and starts_with(c.code, p.code)) as parent
    from codes as c
),
unit_value as (
    select a.code, greatest(a.v - coalesce((select sum(ch.v) from annual as ch join parents as pc on pc.code = ch.code where pc.parent = a.code), 0), 0) as w
    from annual as a
),
line_unit as (
    select l.hs6, (select max_by(c.code, length(c.code)) from codes as c where starts_with(l.hs6, c.code)) as code from lines as l
),
shares as (
    select hs_chapter, qualifying_share::double as s from reference.tariff_usmca_shares, params as p
    where importer_iso3 = p.imp and exporter_iso3 = p.exp
      and p.month_start between valid_from::date and coalesce(nullif(valid_to, ''), '9999-12-31')::date
),
unit_rate as (
    select lu.code, avg(coalesce((1 - coalesce(s.s, 0)) * lm.extra + coalesce(s.s, 0) * coalesce(lm.extra_q, 0), 0)) as extra
    from line_unit as lu
    left join line_month as lm using (hs6)
    left join shares as s on s.hs_chapter = left(lu.hs6, 2)
    where lu.code is not null
    group by all
)
-- units without an HS6 line (chapter 99, goods not specified by kind) weigh with no duty
select 100.0 * sum(u.w * coalesce(r.extra, 0) / 100.0) / sum(u.w) as avg_pct, sum(u.w) / 12 as base_usd
from unit_value as u left join unit_rate as r using (code)
"""


@pytest.mark.parametrize("importer,exporter,month", [("USA", "CHN", date(2019, 6, 1)), ("CHN", "USA", date(2025, 9, 1)),
                                                     ("USA", "CAN", date(2025, 9, 1))])
def test_pair_exposure_reproduced_from_raw_rows_and_seeds(sample_run, importer, exporter, month):
    first = min(date.fromisoformat(r["effective_date"]) for r in registry() if r["imposing_iso3"] == importer
                and r["target_iso3"] in (exporter, "ALL") and r["effective_date"] and r["hs_codes"] != "UNLISTED")
    base_year = first.year - 1
    avg_pct, base_usd = sample_run.query(INDEPENDENT_PAIR, [importer, exporter, month, base_year], published=False)[0]
    got = sample_run.query("select base_year, base_trade_usd, avg_additional_tariff_pct from marts.tariff_exposure "
                           "where importer_iso3 = ? and exporter_iso3 = ? and month = ? and hs_level = 'all'",
                           [importer, exporter, month])
    assert got[0][0] == base_year == 2017
    assert got[0][1] == pytest.approx(base_usd, rel=1e-9)
    assert got[0][2] == pytest.approx(avg_pct, rel=1e-6, abs=1e-6)
    assert avg_pct > 5  # the measures bite


def test_config_switches_include_expected_measures_and_override_usmca_shares(sample_run, clone_warehouse, tmp_path):
    """dbt vars tariff_include_expected_measures and tariff_usmca_qualifying_share, on a copy of the run."""
    import contextlib
    import io
    import os

    from flows.transform import release_duckdb
    from dbt.cli.main import dbtRunner

    run = clone_warehouse(sample_run)
    saved = os.environ.get("BILATERAL_DUCKDB")
    os.environ["BILATERAL_DUCKDB"] = str(run.db_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            result = dbtRunner().invoke([
                "run", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
                "--select", "int_tariffs__pair_measure_products", "int_tariffs__pair_expected_products", "tariff_schedule",
                "tariff_exposure", "--vars", "{tariff_include_expected_measures: true, tariff_usmca_qualifying_share: 0}"])
    finally:
        release_duckdb()
        if saved is None:
            os.environ.pop("BILATERAL_DUCKDB", None)
        else:
            os.environ["BILATERAL_DUCKDB"] = saved
    assert result.success
    deal = next(r for r in registry() if r["row_id"] == "CHN-CAN-2026-DEAL-1")
    sched = run.query("select effective_rate_pct, has_expected_measure from marts.tariff_schedule where importer_iso3 = 'CHN' "
                      "and exporter_iso3 = 'CAN' and hs6 = '120510' and date '2026-03-15' between valid_from and valid_to",
                      published=False)
    assert sched == [(pytest.approx(float(deal["rate_pct"])), True)]  # the expected total rate now applies
    canola = dict(run.query("select month, avg_additional_tariff_pct from marts.tariff_exposure where importer_iso3 = 'CHN' "
                            "and exporter_iso3 = 'CAN' and hs_code = '120510'", published=False))
    assert canola[date(2026, 3, 1)] < canola[date(2026, 2, 1)]
    usa_can = run.query("select count(*), count(*) filter (where avg_additional_tariff_pct = avg_additional_tariff_upper_bound_pct) "
                        "from marts.tariff_exposure where importer_iso3 = 'USA' and exporter_iso3 = 'CAN' and base_year is not null",
                        published=False)[0]
    assert usa_can[0] > 0 and usa_can[0] == usa_can[1]  # share 0: the central estimate is the upper bound


def test_every_registry_row_takes_effect_on_its_date_and_not_the_day_before(sample_run):
    """For every dated registry row: on one product it covers, the schedule carries it (applied or replaced;
    expected rows: listed as expected) on its effective date and the day after (while in force), never the day before."""
    import duckdb

    rows = [r for r in registry() if r["effective_date"]]
    con = duckdb.connect(str(sample_run.db_path), read_only=True)
    probes = con.execute("""
        select m.row_id, any_value(m.importer_iso3), any_value(m.exporter_iso3), min(m.hs6)
        from intermediate.int_tariffs__pair_measure_products as m
        group by m.row_id
        union all
        select m.row_id, any_value(m.importer_iso3), any_value(m.exporter_iso3), min(m.hs6)
        from intermediate.int_tariffs__pair_expected_products as m
        group by m.row_id""").fetchall()
    probe = {r[0]: r[1:] for r in probes}
    assert set(probe) == {r["row_id"] for r in rows}  # every dated row reaches products of a pair
    start = date(2015, 1, 1)
    for r in rows:
        importer, exporter, hs6 = probe[r["row_id"]]
        eff = date.fromisoformat(r["effective_date"])
        end = date.fromisoformat(r["end_date"]) if r["end_date"] else date(9999, 12, 31)
        for day, present in ((date.fromordinal(eff.toordinal() - 1), False), (eff, True),
                             (date.fromordinal(eff.toordinal() + 1), eff < end)):
            if day < start:
                continue
            got = con.execute(
                "select coalesce(measure_row_ids, '') || ';' || coalesce(replaced_row_ids, ''), coalesce(expected_measure_ids, '') "
                "from marts.tariff_schedule where importer_iso3 = ? and exporter_iso3 = ? and hs6 = ? and ? between valid_from and valid_to",
                [importer, exporter, hs6, day]).fetchall()
            if not got:  # the probe line is not in the vintage of that day
                continue
            ids, expected = got[0]
            carried = r["row_id"] in ids.split(";") if r["confidence"] != "E" else r["measure_id"] in expected.split(";")
            assert carried is present, (r["row_id"], day)
    con.close()
