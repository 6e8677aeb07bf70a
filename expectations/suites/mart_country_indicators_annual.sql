-- Published World Bank country-level indicators: topic, US$ values (dbt bounds the percent values
-- and owns the keys), and the row count as a percentage of the rows this suite checked at its last
-- successful validation (pct_of_previous_rows; null on a first run).
with mart as (
    select
        topic,
        case when unit = 'current US$' then value end as usd_value
    from marts.country_indicators_annual
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
