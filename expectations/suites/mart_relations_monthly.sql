-- Published relations_monthly: the columns dbt does not test (dbt owns keys, zero-filling, counts,
-- shares and the index range) and the row count against the last successful validation.
with mart as (
    select mentions, index_stories, events_per_100k_gdelt_events, news_articles
    from marts.relations_monthly
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
