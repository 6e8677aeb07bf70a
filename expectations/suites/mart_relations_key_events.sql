-- Published relations_key_events (top stories per pair and week): the columns dbt does not test and
-- the row count against the last successful validation.
with mart as (
    select copies, goldstein_scale, event_description
    from marts.relations_key_events
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
