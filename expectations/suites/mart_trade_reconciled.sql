-- Published reconciled trade flows: what this run's estimate says about its own data (dbt owns the
-- invariants: keys, margins within their caps, weights summing to 1, the reconciled value between
-- the two declarations, annual = sum of months). margin_not_estimated names a flow whose margin fell
-- back to the fixed ratio because the run had no mirror observations to estimate from;
-- run_mean_chapter_margin is the mean estimated margin over the run's chapter flows (the
-- references find 3-5%, BACI 3.3%; a jump outside 1-12% means a reporter changed how it values
-- imports, or the mirror data broke). Both warn: the fixed ratio is still a published method. And
-- the row count against the last successful validation.
with mart as (
    select * from marts.trade_reconciled
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
    case
        when mart.cif_margin_source = 'fixed_ratio_fallback'
        then mart.exporter_iso3 || '-' || mart.importer_iso3 || ' ' || mart.product_code || ' '
            || mart.period_type || ' ' || mart.period_start
    end as margin_not_estimated,
    avg(mart.cif_margin) filter (where mart.hs_level = 'chapter') over () as run_mean_chapter_margin,
    round(100.0 * count(*) over () / nullif((select rows_checked from previous), 0), 1) as pct_of_previous_rows
from mart
