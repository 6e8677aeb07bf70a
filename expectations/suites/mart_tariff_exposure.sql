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
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
