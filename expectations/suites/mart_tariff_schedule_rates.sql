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
