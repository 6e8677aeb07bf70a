-- Comtrade totals rows (partner2 = World, customs C00, transport 0: breakdown rows would double
-- count) by reporter x partner x period x flow x commodity, keyed by ISO3.
with records as (
    select * from {{ ref('stg_comtrade__records') }}
),

totals_filter as (
    select *
    from records
    where partner2_code = 0 and customs_code = 'C00' and mot_code = 0
),

by_iso as (
    -- several Comtrade codes can share an ISO3 (e.g. 841/842 USA); they never overlap in time
    select
        reporter_iso3,
        partner_iso3,
        period_type,
        period_start,
        ref_year as year,
        ref_month_of_year as month,
        flow_code,
        cmd_code,
        hs_level,
        sum(primary_value_usd) as value_usd,
        bool_or(is_sample) as is_sample
    from totals_filter
    group by all
)

select * from by_iso
