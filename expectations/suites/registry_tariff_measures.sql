-- The tariff measures registry (seed) with every broken rule of int_tariffs__registry_problems
-- named per row and field, and the validity and notice periods in days.
with problems as (
    select
        row_id,
        string_agg('row ' || row_id || ', field ' || field || ': ' || problem, '; ') as violations
    from intermediate.int_tariffs__registry_problems
    group by row_id
)

select
    r.row_id,
    r.measure_id,
    r.imposing_iso3,
    r.target_iso3,
    r.rate_pct,
    r.rate_type,
    r.confidence,
    r.source_publisher,
    r.source_ref,
    r.effective_date,
    r.end_date,
    r.announced_date,
    case
        when r.end_date is null or r.effective_date is null then 0
        else date_diff('day', r.effective_date, r.end_date)
    end as validity_days,
    case
        when r.announced_date is null or r.effective_date is null then 0
        else date_diff('day', r.announced_date, r.effective_date)
    end as notice_days,
    p.violations
from staging.stg_tariffs__measures_registry as r
left join problems as p
    on p.row_id = coalesce(r.row_id, '(row without row_id, measure ' || coalesce(r.measure_id, '?') || ')')
