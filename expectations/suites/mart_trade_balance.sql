-- Published trade balances: re-exports/re-imports and mirror flows never negative, every year-on-year
-- change above 50% flagged (unflagged_yoy_change names the row), both directions of every pair of
-- reporters present (missing_reverse names the row; dbt owns keys, identities and reported flows),
-- and the row count against the last successful validation.
with mart as (
    select * from marts.trade_balance
),

reporters as (
    select distinct reporter_iso3 as iso3 from mart
),

pairs as (
    select distinct reporter_iso3, partner_iso3 from mart
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
    mart.re_exports_usd,
    mart.re_imports_usd,
    mart.mirror_exports_usd,
    mart.mirror_imports_usd,
    case
        when not coalesce(
            mart.is_yoy_outlier
            or greatest(abs(coalesce(mart.exports_yoy_pct, 0)), abs(coalesce(mart.imports_yoy_pct, 0))) <= 50,
            true
        )
        then mart.reporter_iso3 || '-' || mart.partner_iso3 || ' ' || mart.period_type || ' ' || mart.period_start
    end as unflagged_yoy_change,
    case
        when mart.partner_iso3 in (select iso3 from reporters)
         and not exists (
            select 1 from pairs as p
            where p.reporter_iso3 = mart.partner_iso3 and p.partner_iso3 = mart.reporter_iso3
         )
        then mart.reporter_iso3 || '-' || mart.partner_iso3 || ' without ' || mart.partner_iso3 || '-' || mart.reporter_iso3
    end as missing_reverse,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
