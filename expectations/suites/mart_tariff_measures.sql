-- Published tariff_measures (the curated registry, conformed). dbt owns every registry rule
-- (int_tariffs__registry refuses to build on a broken row); this suite checks that the published
-- registry is not empty and its row count against the last successful validation.
with mart as (
    select row_id, hs_code, status_as_of
    from marts.tariff_measures
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
