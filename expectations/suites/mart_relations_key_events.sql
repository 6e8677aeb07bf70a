-- Published relations_key_events (top stories per pair and week): the columns dbt does not test and
-- the row count against the last successful validation.
with mart as (
    select copies, goldstein_scale, event_description
    from marts.relations_key_events
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
