-- Published country_pair_monthly: every configured pair (the latest run's countries.pairs) present
-- (mart_pairs = configured_pairs) for every month of the range (pair_periods = all_periods), the
-- pairs whose DOC API news series is stale (the best-effort fetch of the last night failed), the
-- columns dbt does not test, and the row count against the last successful validation.
with mart as (
    select pair, month, relations_index, news_articles, news_is_stale
    from marts.country_pair_monthly
),

mart_totals as (
    select
        count(distinct month) as all_periods,
        count(distinct pair) as mart_pairs
    from mart
),

configured as (
    -- no configured pairs recorded (e.g. gdelt_events never ran): compare with the mart itself
    select coalesce(
        nullif((select count(*) from staging.stg_gdelt_events__configured_pairs), 0),
        (select mart_pairs from mart_totals)
    ) as configured_pairs
),

previous as (
    -- rows this suite checked at its last successful validation in an earlier run (none on a first run)
    select rows_checked
    from audit.validations
    where suite = '{suite}' and success and run_id <> '{run_id}'
    order by validated_at desc
    limit 1
)

select
    mart.pair,
    mart.relations_index,
    mart.news_articles,
    mart.news_is_stale,
    case when mart.news_is_stale then mart.pair end as pair_with_stale_news,
    count(distinct mart.month) over (partition by mart.pair) as pair_periods,
    mart_totals.all_periods,
    mart_totals.mart_pairs,
    configured.configured_pairs,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
cross join mart_totals
cross join configured
