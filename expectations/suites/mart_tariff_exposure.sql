-- Published tariff_exposure: trade values and rates within bounds, months never before the base
-- year (dbt owns keys and covered <= total), and the row count against the last successful validation.
with mart as (
    select
        base_trade_usd,
        covered_base_trade_usd,
        actual_trade_usd,
        avg_additional_tariff_pct,
        avg_additional_tariff_covered_pct,
        year(month) - base_year as years_after_base
    from marts.tariff_exposure
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
