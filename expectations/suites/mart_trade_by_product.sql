-- Published trade by product: product codes and levels, shares, every year-on-year change above 75%
-- flagged (unflagged_yoy_change names the row; dbt owns keys, the identity and reported flows), and
-- the row count against the last successful validation.
with mart as (
    select * from marts.trade_by_product
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
    mart.product_code,
    mart.hs_level,
    mart.exports_share_pct,
    mart.imports_share_pct,
    case
        when not coalesce(
            mart.is_yoy_outlier
            or greatest(abs(coalesce(mart.exports_yoy_pct, 0)), abs(coalesce(mart.imports_yoy_pct, 0))) <= 75,
            true
        )
        then mart.reporter_iso3 || '-' || mart.partner_iso3 || ' ' || mart.product_code || ' '
            || mart.period_type || ' ' || mart.period_start
    end as unflagged_yoy_change,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
