-- Published relations_monthly: the columns dbt does not test (dbt owns keys, zero-filling, counts,
-- shares and the index range) and the row count against the last successful validation.
with mart as (
    select mentions, index_stories, events_per_100k_gdelt_events, news_articles
    from marts.relations_monthly
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
    mart.*,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
