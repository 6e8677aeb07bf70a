-- The table a dashboard reads first: one row per undirected pair x month with the relations
-- index and its inputs, DOC API news volume and tone, and (when their marts exist) bilateral
-- trade and tariff exposure. Trade and tariff columns are null until marts.trade_balance
-- (issue 3) and marts.tariff_exposure (issue 4) are built.
with relations as (
    select * from {{ ref('relations_monthly') }}
    where direction = 'both'
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
        cast(null as double) as trade_total_usd,
        cast(null as double) as trade_balance_a_usd,
        cast(null as double) as trade_total_yoy_pct,
        cast(null as double) as tariff_exposure_a_on_b_pct,
        cast(null as double) as tariff_exposure_b_on_a_pct,
        r.is_sample
    from relations as r
)

select
    cast(pair as varchar) as pair,
    cast(country_a as varchar) as country_a,
    cast(country_b as varchar) as country_b,
    cast(month as date) as month,
    cast(events as bigint) as events,
    cast(cooperation_events as bigint) as cooperation_events,
    cast(conflict_events as bigint) as conflict_events,
    cast(cooperation_share as double) as cooperation_share,
    cast(net_cooperation_share as double) as net_cooperation_share,
    cast(goldstein_mention_weighted as double) as goldstein_mention_weighted,
    cast(tone_mention_weighted as double) as tone_mention_weighted,
    cast(events_per_100k_gdelt_events as double) as events_per_100k_gdelt_events,
    cast(relations_index as double) as relations_index,
    cast(relations_index_change as double) as relations_index_change,
    cast(news_articles as double) as news_articles,
    cast(news_avg_tone as double) as news_avg_tone,
    cast(news_is_stale as boolean) as news_is_stale,
    cast(trade_total_usd as double) as trade_total_usd,
    cast(trade_balance_a_usd as double) as trade_balance_a_usd,
    cast(trade_total_yoy_pct as double) as trade_total_yoy_pct,
    cast(tariff_exposure_a_on_b_pct as double) as tariff_exposure_a_on_b_pct,
    cast(tariff_exposure_b_on_a_pct as double) as tariff_exposure_b_on_a_pct,
    cast(is_sample as boolean) as is_sample
from joined
