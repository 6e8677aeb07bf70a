-- The table a dashboard reads first: one row per undirected pair x month with the relations
-- index and its inputs, DOC API news volume and tone, monthly bilateral trade (trade_balance:
-- country_a's own report, else country_b's mirrored) and tariff exposure both ways (tariff_exposure,
-- pair level). Months: the relations calendar.
with relations as (
    select * from {{ ref('relations_monthly') }}
    where direction = 'both'
),

trade as (
    -- reconciled two-way trade and balance (trade_balance.reconciled_*: both declarations, the method
    -- of var trade_reconciliation_method), and the method of each direction
    select reporter_iso3, partner_iso3, period_start as month, reconciled_total_trade_usd as total_trade_usd,
           reconciled_balance_usd as balance_usd, reconciled_total_trade_yoy_pct as total_trade_yoy_pct,
           reconciled_exports_method, reconciled_imports_method, is_sample
    from {{ ref('trade_balance') }}
    where period_type = 'monthly'
),

tariffs as (
    select importer_iso3, exporter_iso3, month, avg_additional_tariff_pct, covered_share_pct,
           avg_additional_tariff_upper_bound_pct, avg_additional_tariff_prev_year_pct, expected_measure_count, is_sample
    from {{ ref('tariff_exposure') }}
    where hs_level = 'all'
),

trade_annual as (
    select reporter_iso3, partner_iso3, year, reconciled_total_trade_usd as total_trade_usd,
           reconciled_balance_usd as balance_usd, is_sample
    from {{ ref('trade_balance') }}
    where period_type = 'annual'
),

joined as (
    select
        r.pair,
        r.country_a,
        r.country_b,
        r.month,
        r.events,
        r.verbal_cooperation_events + r.material_cooperation_events as cooperation_events,
        r.verbal_conflict_events + r.material_conflict_events as conflict_events,
        r.cooperation_share,
        r.net_cooperation_share,
        r.goldstein_mention_weighted,
        r.tone_mention_weighted,
        r.events_per_100k_gdelt_events,
        r.relations_index,
        r.relations_index_change,
        r.news_articles,
        r.news_avg_tone,
        r.news_is_stale,
        coalesce(ta.total_trade_usd, tb.total_trade_usd) as trade_total_usd,
        coalesce(ta.balance_usd, -tb.balance_usd) as trade_balance_a_usd,
        coalesce(ta.total_trade_yoy_pct, tb.total_trade_yoy_pct) as trade_total_yoy_pct,
        case when ta.total_trade_usd is not null then r.country_a
             when tb.total_trade_usd is not null then r.country_b end as trade_reported_by,
        case when ta.total_trade_usd is not null then ta.reconciled_exports_method
             when tb.total_trade_usd is not null then tb.reconciled_imports_method end as trade_a_to_b_method,
        case when ta.total_trade_usd is not null then ta.reconciled_imports_method
             when tb.total_trade_usd is not null then tb.reconciled_exports_method end as trade_b_to_a_method,
        coalesce(ya.total_trade_usd, yb.total_trade_usd) as trade_year_total_usd,
        coalesce(ya.balance_usd, -yb.balance_usd) as trade_year_balance_a_usd,
        xa.avg_additional_tariff_pct as tariff_exposure_a_on_b_pct,
        xb.avg_additional_tariff_pct as tariff_exposure_b_on_a_pct,
        xa.covered_share_pct as tariff_covered_share_a_on_b_pct,
        xb.covered_share_pct as tariff_covered_share_b_on_a_pct,
        xa.avg_additional_tariff_upper_bound_pct as tariff_exposure_upper_bound_a_on_b_pct,
        xb.avg_additional_tariff_upper_bound_pct as tariff_exposure_upper_bound_b_on_a_pct,
        xa.avg_additional_tariff_prev_year_pct as tariff_exposure_prev_year_a_on_b_pct,
        xb.avg_additional_tariff_prev_year_pct as tariff_exposure_prev_year_b_on_a_pct,
        xa.expected_measure_count as tariff_expected_measures_a_on_b,
        xb.expected_measure_count as tariff_expected_measures_b_on_a,
        coalesce(xa.expected_measure_count, 0) + coalesce(xb.expected_measure_count, 0) > 0 as tariff_has_expected_measure,
        r.is_sample or coalesce(ta.is_sample, false) or coalesce(tb.is_sample, false)
            or coalesce(ya.is_sample, false) or coalesce(yb.is_sample, false)
            or coalesce(xa.is_sample, false) or coalesce(xb.is_sample, false) as is_sample
    from relations as r
    left join trade as ta on ta.reporter_iso3 = r.country_a and ta.partner_iso3 = r.country_b and ta.month = r.month
    left join trade as tb on tb.reporter_iso3 = r.country_b and tb.partner_iso3 = r.country_a and tb.month = r.month
    left join trade_annual as ya on ya.reporter_iso3 = r.country_a and ya.partner_iso3 = r.country_b and ya.year = year(r.month)
    left join tariffs as xa on xa.importer_iso3 = r.country_a and xa.exporter_iso3 = r.country_b and xa.month = r.month
    left join tariffs as xb on xb.importer_iso3 = r.country_b and xb.exporter_iso3 = r.country_a and xb.month = r.month
    left join trade_annual as yb on yb.reporter_iso3 = r.country_b and yb.partner_iso3 = r.country_a and yb.year = year(r.month)
)

select
    cast(pair as varchar) as pair,
    cast(country_a as varchar) as country_a,
    cast(country_b as varchar) as country_b,
    cast(month as date) as month,
    cast(events as bigint) as events,
    cast(cooperation_events as bigint) as cooperation_events,
    cast(conflict_events as bigint) as conflict_events,
    cast(round(cooperation_share, 6) as double) as cooperation_share,
    cast(round(net_cooperation_share, 6) as double) as net_cooperation_share,
    cast(round(goldstein_mention_weighted, 6) as double) as goldstein_mention_weighted,
    cast(round(tone_mention_weighted, 6) as double) as tone_mention_weighted,
    cast(round(events_per_100k_gdelt_events, 6) as double) as events_per_100k_gdelt_events,
    cast(round(relations_index, 6) as double) as relations_index,
    cast(round(relations_index_change, 6) as double) as relations_index_change,
    cast(round(news_articles, 6) as double) as news_articles,
    cast(round(news_avg_tone, 6) as double) as news_avg_tone,
    cast(news_is_stale as boolean) as news_is_stale,
    cast(round(trade_total_usd, 6) as double) as trade_total_usd,
    cast(round(trade_balance_a_usd, 6) as double) as trade_balance_a_usd,
    cast(round(trade_total_yoy_pct, 6) as double) as trade_total_yoy_pct,
    cast(trade_reported_by as varchar) as trade_reported_by,
    cast(trade_a_to_b_method as varchar) as trade_a_to_b_method,
    cast(trade_b_to_a_method as varchar) as trade_b_to_a_method,
    cast(round(trade_year_total_usd, 6) as double) as trade_year_total_usd,
    cast(round(trade_year_balance_a_usd, 6) as double) as trade_year_balance_a_usd,
    cast(round(tariff_exposure_a_on_b_pct, 6) as double) as tariff_exposure_a_on_b_pct,
    cast(round(tariff_exposure_b_on_a_pct, 6) as double) as tariff_exposure_b_on_a_pct,
    cast(round(tariff_covered_share_a_on_b_pct, 6) as double) as tariff_covered_share_a_on_b_pct,
    cast(round(tariff_covered_share_b_on_a_pct, 6) as double) as tariff_covered_share_b_on_a_pct,
    cast(round(tariff_exposure_upper_bound_a_on_b_pct, 6) as double) as tariff_exposure_upper_bound_a_on_b_pct,
    cast(round(tariff_exposure_upper_bound_b_on_a_pct, 6) as double) as tariff_exposure_upper_bound_b_on_a_pct,
    cast(round(tariff_exposure_prev_year_a_on_b_pct, 6) as double) as tariff_exposure_prev_year_a_on_b_pct,
    cast(round(tariff_exposure_prev_year_b_on_a_pct, 6) as double) as tariff_exposure_prev_year_b_on_a_pct,
    cast(tariff_expected_measures_a_on_b as integer) as tariff_expected_measures_a_on_b,
    cast(tariff_expected_measures_b_on_a as integer) as tariff_expected_measures_b_on_a,
    cast(tariff_has_expected_measure as boolean) as tariff_has_expected_measure,
    cast(is_sample as boolean) as is_sample
from joined
