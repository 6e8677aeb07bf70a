-- The estimation sample of the reconciliation: one observation per exporter -> importer x product x
-- year that both sides declared, below TOTAL (chapters, and headings/subheadings of the tracked
-- products). The year's annual declarations, or the sum of its 12 months when the annual declarations
-- are missing and both sides reported every month. Safeguards of the references
-- (docs/sources/comtrade.md#reconciliation-method-mirror-flows): both declarations at least
-- max(1st percentile, var trade_margin_min_flow_usd) (Growth Lab CIF_calculations.py); ln(CIF / FOB)
-- winsorized at var trade_margin_winsor per tail over the importers that value CIF (Growth Lab);
-- observation weight min / max of the two declarations (BACI's min(Q) / max(Q), on values: chapters
-- carry no quantities). Importers valuing FAS (var trade_fas_importers) stay in for the reliability
-- estimate, flagged, and out of the margin regression. Gravity variables from seed trade_gravity.
with pairs as (
    select * from {{ ref('int_trade__mirror_pairs') }}
    where cmd_code <> 'TOTAL'
),

gravity as (
    select * from {{ ref('trade_gravity') }}
),

annual as (
    select
        exporter_iso3, importer_iso3, year, cmd_code, hs_level,
        exporter_reported_fob_usd as value_exporter_fob,
        importer_reported_cif_usd as value_importer_cif,
        'annual' as basis
    from pairs
    where period_type = 'annual' and exporter_reported_fob_usd is not null and importer_reported_cif_usd is not null
),

month_years as (
    select
        exporter_iso3, importer_iso3, year, cmd_code, hs_level,
        {{ trade_exact_sum('exporter_reported_fob_usd', 4) }} as value_exporter_fob,
        {{ trade_exact_sum('importer_reported_cif_usd', 4) }} as value_importer_cif,
        'sum_of_months' as basis
    from pairs
    where period_type = 'monthly'
    group by exporter_iso3, importer_iso3, year, cmd_code, hs_level
    having count(exporter_reported_fob_usd) = 12 and count(importer_reported_cif_usd) = 12
),

combined as (
    select * from annual
    union all
    select m.* from month_years as m
    anti join annual as a using (exporter_iso3, importer_iso3, year, cmd_code)
),

floors as (
    select
        hs_level,
        greatest(quantile_cont(value_exporter_fob, 0.01), {{ var('trade_margin_min_flow_usd', 1000000) }}) as exporter_floor,
        greatest(quantile_cont(value_importer_cif, 0.01), {{ var('trade_margin_min_flow_usd', 1000000) }}) as importer_floor
    from combined
    group by hs_level
),

sized as (
    select c.*
    from combined as c
    join floors as f using (hs_level)
    where c.value_exporter_fob >= f.exporter_floor and c.value_importer_cif >= f.importer_floor
),

logged as (
    select
        *,
        ln(value_importer_cif / value_exporter_fob) as ln_ratio,
        least(value_exporter_fob, value_importer_cif) / greatest(value_exporter_fob, value_importer_cif) as weight,
        {{ trade_in_list('importer_iso3', var('trade_fas_importers', ['CAN'])) }} as is_fas_importer
    from sized
),

bounds as (
    select
        hs_level,
        quantile_cont(ln_ratio, {{ var('trade_margin_winsor', 0.10) }}) as ln_ratio_low,
        quantile_cont(ln_ratio, 1 - {{ var('trade_margin_winsor', 0.10) }}) as ln_ratio_high
    from logged
    where not is_fas_importer
    group by hs_level
),

winsorized as (
    select
        l.*,
        least(greatest(l.ln_ratio, coalesce(b.ln_ratio_low, l.ln_ratio)), coalesce(b.ln_ratio_high, l.ln_ratio)) as ln_ratio_winsorized
    from logged as l
    left join bounds as b using (hs_level)
),

gravity_directed as (
    select country_a as exporter_iso3, country_b as importer_iso3, distance_km, is_contiguous,
           a_is_landlocked or b_is_landlocked as any_landlocked
    from gravity
    union all
    select country_b, country_a, distance_km, is_contiguous, a_is_landlocked or b_is_landlocked
    from gravity
),

with_gravity as (
    select
        w.*,
        ln(g.distance_km) as ln_distance,
        cast(g.is_contiguous as integer) as contiguity,
        g.any_landlocked
    from winsorized as w
    left join gravity_directed as g using (exporter_iso3, importer_iso3)
)

select
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(year as integer) as year,
    cast(cmd_code as varchar) as cmd_code,
    cast(hs_level as varchar) as hs_level,
    cast(basis as varchar) as basis,
    cast(value_exporter_fob as double) as value_exporter_fob,
    cast(value_importer_cif as double) as value_importer_cif,
    cast(ln_ratio as double) as ln_ratio,
    cast(ln_ratio_winsorized as double) as ln_ratio_winsorized,
    cast(weight as double) as weight,
    cast(is_fas_importer as boolean) as is_fas_importer,
    cast(ln_distance as double) as ln_distance,
    cast(contiguity as integer) as contiguity,
    cast(any_landlocked as boolean) as any_landlocked
from with_gravity
