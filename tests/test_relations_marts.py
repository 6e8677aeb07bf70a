"""The relations marts as the sample nightly run publishes them (tests/conftest.py ``sample_run``):
the CAN-CHN index tells the dated story (docs/sources/tariffs.md), every pair has every month and
day (zero-filled), syndicated copies count once, news columns and staleness, sample marking."""
from __future__ import annotations

from datetime import date

import pytest

pytestmark = pytest.mark.slow

PAIRS = {"CAN-CHN", "CAN-USA", "CHN-USA"}


def _index(sample_run, pair: str) -> dict[date, float]:
    return dict(sample_run.query(
        "select month, relations_index from marts.country_pair_monthly where pair = ? order by month", [pair]))


def test_can_chn_index_falls_at_2018_12_and_rises_at_2021_09_and_2026_01(sample_run):
    idx = _index(sample_run, "CAN-CHN")
    # Meng Wanzhou's arrest (2018-12-01) and the detention of the two Michaels
    assert idx[date(2018, 12, 1)] < idx[date(2018, 11, 1)] - 10
    # their release on 2021-09-24
    assert idx[date(2021, 9, 1)] > idx[date(2021, 8, 1)] + 10
    # Carney's visit to Beijing, 2026-01-14..17
    assert idx[date(2026, 1, 1)] > idx[date(2025, 12, 1)] + 10
    # and the index stays on its documented scale
    assert all(-100 <= v <= 100 for v in idx.values() if v is not None)


def test_every_pair_has_every_month_and_every_day(sample_run):
    months = sample_run.query("select pair, count(*), min(month), max(month) from marts.country_pair_monthly group by pair")
    assert {m[0] for m in months} == PAIRS
    assert {m[1:] for m in months} == {(97, date(2018, 1, 1), date(2026, 1, 1))}
    days = sample_run.query("select pair, direction, count(*), count(distinct day) from marts.relations_daily group by all")
    assert len(days) == 9
    assert {(d[2], d[3]) for d in days} == {(2953, 2953)}  # 2018-01-01 .. 2026-01-31, zero-filled
    zero_days = sample_run.query("select count(*) from marts.relations_daily where direction = 'a_to_b' and events = 0")[0][0]
    assert zero_days > 0


def test_directed_and_undirected_rows_add_up(sample_run):
    rows = sample_run.query("""
        select pair, month, sum(events) filter (where direction = 'both'), sum(events) filter (where direction <> 'both'),
               any_value(source_country) filter (where direction = 'a_to_b')
        from marts.relations_monthly group by pair, month""")
    assert all(r[2] == r[3] for r in rows)
    assert {r[0].split("-")[0] for r in rows} == {r[4] for r in rows}


def test_a_syndicated_story_counts_once_in_the_index(sample_run):
    # the sample repeats one CHN-USA story 150 times on 2022-06-15 (same URL, same CAMEO code)
    (top,) = sample_run.query("""
        select copies, event_code, source_url from marts.relations_key_events
        where pair = 'CHN-USA' and week_start = date '2022-06-13' and rank_in_week = 1""")
    assert top[0] == 150 and top[1] == "112"
    (month,) = sample_run.query("""
        select events, index_stories, relations_index_change from marts.relations_monthly
        where pair = 'CHN-USA' and direction = 'both' and month = date '2022-06-01'""")
    events, stories, change = month
    assert events > stories + 140  # 150 copies became one story
    assert abs(change) < 5  # and the index barely moved


def test_news_series_from_the_doc_api(sample_run):
    rows = dict(sample_run.query("""
        select month, news_articles from marts.country_pair_monthly where pair = 'CAN-CHN'
          and month in (date '2019-06-01', date '2026-01-01')"""))
    assert rows[date(2019, 6, 1)] is None  # outside the DOC API's ~3 month coverage: unknown, not zero
    assert rows[date(2026, 1, 1)] > 0
    assert sample_run.query("select bool_or(news_is_stale) from marts.country_pair_monthly") == [(False,)]


def test_relations_marts_are_marked_sample_and_published(sample_run):
    for table in ("relations_daily", "relations_monthly", "relations_key_events", "country_pair_monthly"):
        assert sample_run.query(f"select bool_and(is_sample), count(*) > 0 from marts.{table}") == [(True, True)]
    watermark = sample_run.query(
        "select value from audit.source_state where source = 'gdelt_events' and key = 'watermark:export'", published=False)
    assert watermark == [("20260131234500",)]


def test_country_pair_monthly_joins_trade_from_trade_balance(sample_run):
    """The trade columns are trade_balance's reconciled values (both declarations), each direction with its method."""
    (row,) = sample_run.query("""
        select c.trade_total_usd, c.trade_balance_a_usd, c.trade_reported_by, t.reconciled_total_trade_usd,
               t.reconciled_balance_usd, c.trade_a_to_b_method, c.trade_b_to_a_method, t.reconciled_exports_method,
               t.reconciled_imports_method
        from marts.country_pair_monthly as c
        join marts.trade_balance as t
          on t.reporter_iso3 = 'CAN' and t.partner_iso3 = 'CHN' and t.period_type = 'monthly' and t.period_start = c.month
        where c.pair = 'CAN-CHN' and c.month = date '2025-03-01'""")
    assert row[2] == "CAN" and row[0] == pytest.approx(row[3], abs=1e-6) and row[1] == pytest.approx(row[4], abs=1e-6)
    assert row[5:7] == row[7:9] and row[5] is not None
    (annual,) = sample_run.query("""
        select c.trade_year_total_usd, t.reconciled_total_trade_usd from marts.country_pair_monthly as c
        join marts.trade_balance as t on t.reporter_iso3 = 'CAN' and t.partner_iso3 = 'CHN' and t.period_type = 'annual'
         and t.year = 2018
        where c.pair = 'CAN-CHN' and c.month = date '2018-12-01'""")
    assert annual[0] == pytest.approx(annual[1], abs=1e-6) and annual[0] > 0


def test_country_pair_monthly_joins_tariff_exposure_both_ways(sample_run):
    rows = sample_run.query("""
        select c.month, c.tariff_exposure_a_on_b_pct, c.tariff_exposure_b_on_a_pct, ta.avg_additional_tariff_pct,
               tb.avg_additional_tariff_pct
        from marts.country_pair_monthly as c
        left join marts.tariff_exposure as ta on ta.importer_iso3 = 'CAN' and ta.exporter_iso3 = 'CHN'
             and ta.hs_level = 'all' and ta.month = c.month
        left join marts.tariff_exposure as tb on tb.importer_iso3 = 'CHN' and tb.exporter_iso3 = 'CAN'
             and tb.hs_level = 'all' and tb.month = c.month
        where c.pair = 'CAN-CHN' and c.month in (date '2024-09-01', date '2025-04-01')
        order by c.month""")
    for r in rows:  # the mart rounds to 6 decimals
        assert (r[1], r[2]) == (pytest.approx(r[3], abs=1e-6), pytest.approx(r[4], abs=1e-6))
    before, after = rows
    # China's 2025-03-20 retaliation on Canadian canola, peas, pork and seafood shows in 2025-04, not 2024-09
    assert (before[2] or 0) == 0 and after[2] > 0
