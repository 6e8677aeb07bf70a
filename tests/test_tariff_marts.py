"""Tariff marts on the shared sample run: published, measures in force on given dates, date boundaries
of the schedule, and tariff_exposure recomputed by an independent query from the registry, WITS MFN
rates and the trade marts. Expected values come from the registry seed, never typed in here."""
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
                                        ("230649", "CHN-CAN-2026-DEAL-2")])
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
      and m.hs_level <> 'unlisted'
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
    select d.d, c.* from days as d join covering as c on d.d between c.effective_date and c.end_date
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
        "where importer_iso3 = ? and exporter_iso3 = ? and hs_code = ? order by month", [importer, exporter, code])
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
    assert seed[date(2026, 3, 1)][1] < seed[date(2026, 2, 1)][1] and seed[date(2026, 3, 1)][4] is True
    assert seed[date(2026, 2, 1)][4] is False
    oil = series("CHN", "CAN", "1514")
    assert oil[date(2025, 2, 1)][1] == 0 < oil[date(2025, 3, 1)][1] < oil[date(2025, 4, 1)][1]
