-- Mirror pairs: for each exporter -> importer flow (period, commodity), the exporter-reported value
-- (FOB, by consignment) beside the importer-reported value (CIF, by origin), the gap, and a
-- reconciled value. Method (docs/sources/comtrade.md, after BACI / Harvard Growth Lab and the
-- StatCan-MOFCOM and US-China reconciliation studies):
--   1. CIF -> FOB: importer value / var('trade_cif_fob_ratio') (1.08: Open Trade Statistics, after
--      Anderson & van Wincoop 2004, Hummels 2006, Gaulier & Zignago 2010; Growth Lab caps estimated
--      margins at 20%).
--   2. Which side: the importer's FOB-adjusted value when the importer reports the flow (importers
--      record the origin of goods shipped through Hong Kong or the US, exporters mostly do not know
--      the final destination: Fed IFDP 831); the exporter's FOB value when only the exporter reports.
-- Re-exports/re-imports (RX/RM) are not part of the pairs; they stay separate in trade_balance.
with flows as (
    select * from {{ ref('int_trade__flows') }}
    where flow_code in ('X', 'M') and partner_iso3 <> 'W00' and reporter_iso3 <> 'W00'
),

exporter_side as (
    select reporter_iso3 as exporter_iso3, partner_iso3 as importer_iso3, period_type, period_start, year, month,
           cmd_code, hs_level, value_usd as exporter_reported_fob_usd, is_sample
    from flows
    where flow_code = 'X'
),

importer_side as (
    select partner_iso3 as exporter_iso3, reporter_iso3 as importer_iso3, period_type, period_start, year, month,
           cmd_code, hs_level, value_usd as importer_reported_cif_usd, is_sample
    from flows
    where flow_code = 'M'
),

paired as (
    select
        coalesce(e.exporter_iso3, i.exporter_iso3) as exporter_iso3,
        coalesce(e.importer_iso3, i.importer_iso3) as importer_iso3,
        coalesce(e.period_type, i.period_type) as period_type,
        coalesce(e.period_start, i.period_start) as period_start,
        coalesce(e.year, i.year) as year,
        coalesce(e.month, i.month) as month,
        coalesce(e.cmd_code, i.cmd_code) as cmd_code,
        coalesce(e.hs_level, i.hs_level) as hs_level,
        e.exporter_reported_fob_usd,
        i.importer_reported_cif_usd,
        coalesce(e.is_sample, false) or coalesce(i.is_sample, false) as is_sample
    from exporter_side as e
    full outer join importer_side as i
        on e.exporter_iso3 = i.exporter_iso3 and e.importer_iso3 = i.importer_iso3
       and e.period_type = i.period_type and e.period_start = i.period_start and e.cmd_code = i.cmd_code
),

reconciled as (
    select
        *,
        round(importer_reported_cif_usd / {{ var('trade_cif_fob_ratio', 1.08) }}, 2) as importer_reported_fob_equivalent_usd,
        case
            when importer_reported_cif_usd is not null then round(importer_reported_cif_usd / {{ var('trade_cif_fob_ratio', 1.08) }}, 2)
            else exporter_reported_fob_usd
        end as reconciled_value_usd,
        case
            when importer_reported_cif_usd is not null then 'importer_cif_to_fob'
            else 'exporter_fob_only'
        end as reconciliation_method,
        importer_reported_cif_usd - exporter_reported_fob_usd as mirror_gap_usd,
        100.0 * (importer_reported_cif_usd - exporter_reported_fob_usd) / nullif(exporter_reported_fob_usd, 0) as mirror_gap_pct
    from paired
)

select * from reconciled
