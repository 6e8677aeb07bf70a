-- Published tariff_schedule rates: upper bounds, the residual of the stacking formula
-- effective = coalesce(total, MFN) + additional, is_sample (dbt owns keys, intervals, the additional
-- rate and effective >= 0), and the row count against the last successful validation.
with mart as (
    select
        effective_rate_pct,
        effective_rate_usmca_qualifying_pct,
        in_quota_rate_pct,
        effective_rate_pct - coalesce(total_rate_pct, mfn_rate_pct) - additional_rate_pct as stacking_residual,
        is_sample
    from marts.tariff_schedule
)

select
    mart.*,
    round(100.0 * count(*) over () / nullif({previous_rows}, 0), 1) as pct_of_previous_rows
from mart
