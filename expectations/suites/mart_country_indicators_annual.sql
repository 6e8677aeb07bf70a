-- Published World Bank country-level indicators, with the value split by unit so each unit gets
-- its own bounds.
select
    *,
    case when unit = 'percent' then value end as percent_value,
    case when unit = 'current US$' then value end as usd_value
from marts.country_indicators_annual
