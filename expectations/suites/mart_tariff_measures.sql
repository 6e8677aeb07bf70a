-- Published tariff_measures (the curated registry, conformed). dbt owns every registry rule
-- (int_tariffs__registry refuses to build on a broken row); this suite checks that the published
-- registry is not empty and its row count against the last successful validation.
with mart as (
    select row_id, hs_code, status_as_of
    from marts.tariff_measures
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
