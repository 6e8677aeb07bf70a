-- One typed, renamed row per Comtrade record; cmdCode stays a string; annual rows (refMonth 52)
-- are told apart from monthly ones; re-fetches of the same record resolve to the latest load.
-- Incremental (docs/architecture.md#incremental-nights): a night rebuilds only the reporter x
-- period partitions whose records changed since the last build, and the revision window
-- (macro comtrade__rebuilt_partitions), from all their records.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['freq_code', 'period', 'reporter_code', 'partner_code', 'partner2_code', 'flow_code', 'cmd_code',
                'customs_code', 'mot_code'],
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt_keys(['freq_code', 'period', 'reporter_code'], comtrade__rebuilt_partitions()) }}"
) }}
-- depends_on: {{ source('audit', 'runs') }}, {{ source('audit', 'run_steps') }}

with source as (
    {%- if is_incremental() %}
    {{ accepted_records('comtrade', 'comtrade_record',
                        only='exists (select 1 from (' ~ comtrade__rebuilt_partitions() ~ ') as rebuilt '
                             ~ 'where rebuilt.freq_code = raw."freqCode" and rebuilt.period = raw."period" '
                             ~ 'and rebuilt.reporter_code = cast(raw."reporterCode" as integer))') }}
    {%- else %}
    {{ accepted_records('comtrade', 'comtrade_record') }}
    {%- endif %}
),

partners as (
    select cast(id as integer) as code, trim(iso_3) as iso3, trim(country) as name
    from {{ ref('comtrade_partners') }}
),

renamed as (
    select
        freqCode as freq_code,
        case when freqCode = 'A' then 'annual' else 'monthly' end as period_type,
        period,
        cast(refYear as integer) as ref_year,
        cast(refMonth as integer) as ref_month,
        case when refMonth = 52 then null else cast(refMonth as integer) end as ref_month_of_year,
        make_date(refYear, case when refMonth = 52 then 1 else refMonth end, 1) as period_start,
        cast(reporterCode as integer) as reporter_code,
        reporterISO as reporter_iso_api,
        reporterDesc as reporter_desc,
        flowCode as flow_code,
        flowDesc as flow_desc,
        cast(partnerCode as integer) as partner_code,
        partnerISO as partner_iso_api,
        partnerDesc as partner_desc,
        cast(partner2Code as integer) as partner2_code,
        classificationCode as classification_code,
        cast(cmdCode as varchar) as cmd_code,
        cmdDesc as cmd_desc,
        cast(aggrLevel as integer) as aggr_level,
        isLeaf as is_leaf,
        customsCode as customs_code,
        cast(motCode as integer) as mot_code,
        cast(primaryValue as double) as primary_value_usd,
        cast(cifvalue as double) as cif_value_usd,
        cast(fobvalue as double) as fob_value_usd,
        nullif(cast(netWgt as double), 0) as net_weight_kg,  -- 0 means "not reported", not a real zero
        qtyUnitAbbr as qty_unit,
        nullif(cast(qty as double), 0) as qty,
        isReported as is_reported,
        isAggregate as is_aggregate,
        _synthetic as is_sample,
        _run_id as loaded_run_id,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file,
        record_no
    from source
),

with_iso as (
    select
        r.*,
        case when r.reporter_code = 0 then 'W00' else coalesce(rp.iso3, r.reporter_iso_api) end as reporter_iso3,
        case when r.partner_code = 0 then 'W00' else coalesce(pp.iso3, r.partner_iso_api) end as partner_iso3,
        case
            when r.cmd_code = 'TOTAL' then 'total'
            when length(r.cmd_code) = 2 then 'chapter'
            when length(r.cmd_code) = 4 then 'heading'
            else 'subheading'
        end as hs_level
    from renamed as r
    left join partners as rp on rp.code = r.reporter_code
    left join partners as pp on pp.code = r.partner_code
),

latest as (
    select *
    from with_iso
    qualify row_number() over (
        partition by freq_code, period, reporter_code, partner_code, partner2_code, flow_code, cmd_code,
                     customs_code, mot_code
        order by observed_at desc, loaded_at desc, landed_file desc, record_no
    ) = 1
)

select
    freq_code, period_type, period, ref_year, ref_month, ref_month_of_year, period_start,
    reporter_code, reporter_iso3, reporter_desc, partner_code, partner_iso3, partner_desc, partner2_code,
    flow_code, flow_desc, classification_code, cmd_code, cmd_desc, hs_level, aggr_level, is_leaf,
    customs_code, mot_code, primary_value_usd, cif_value_usd, fob_value_usd, net_weight_kg, qty_unit, qty,
    is_reported, is_aggregate, is_sample, loaded_run_id, loaded_at, landed_file
from latest
