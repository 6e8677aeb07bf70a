-- How reliably each country reports, as exporter and as importer, from the dispersion of its mirror
-- gaps (docs/sources/comtrade.md#reconciliation-method-mirror-flows). Observations: the chapter-level
-- flows of int_trade__mirror_observations (both sides declared, every importer, each pair x chapter x
-- year once), the importer's declaration converted to FOB by the margin rules (macro
-- trade_margin_rule); reporting distance d = |ln(importer FOB estimate / exporter FOB)|.
-- A country's reporting distance as exporter is the mean d of the flows it exported, each weighed
-- by its partner's accuracy as importer (1 / the partner's distance): a gap with an accurate partner
-- says more about the country. The same for importers. Iterated var trade_reliability_iterations
-- times, alternating exporters and importers, from the plain mean gaps (Growth Lab's iterated
-- accuracy scores, trade_data_reconciler.py; BACI's reliability from the dispersion of mirror
-- gaps). Distances are at least var trade_reliability_min_distance. The reconciled flows weigh the
-- two declarations by inverse squared distances (macro trade_exporter_weight).
{% set rounds = var('trade_reliability_iterations', 25) %}
{% set floor = var('trade_reliability_min_distance', 0.005) %}
with recursive obs as (
    select
        o.exporter_iso3, o.importer_iso3,
        o.value_exporter_fob as fob,
        {{ trade_fob_estimate(trade_margin_rule('o.value_importer_cif', 'o.value_exporter_fob', 'm.cif_margin', 'o.is_fas_importer'),
                              'o.value_importer_cif', 'm.cif_margin') }} as fob_estimate
    from {{ ref('int_trade__mirror_observations') }} as o
    join {{ ref('int_trade__cif_margins') }} as m using (exporter_iso3, importer_iso3, year, cmd_code)
    where o.hs_level = 'chapter'
),

gaps as (
    select exporter_iso3, importer_iso3, abs(ln(fob_estimate / fob)) as distance
    from obs
),

cells as (
    -- the iteration needs only each pair's sum of gaps and count: sum(d / p) = sum_d / p for one partner
    select exporter_iso3, importer_iso3, {{ trade_exact_sum('distance') }} as distance_sum, count(*) as n_obs
    from gaps
    group by exporter_iso3, importer_iso3
),

starts as (
    select 'exporter' as role, exporter_iso3 as iso3, {{ trade_exact_sum('distance_sum') }} / sum(n_obs) as distance, sum(n_obs) as n_obs
    from cells group by exporter_iso3
    union all
    select 'importer' as role, importer_iso3 as iso3, {{ trade_exact_sum('distance_sum') }} / sum(n_obs) as distance, sum(n_obs) as n_obs
    from cells group by importer_iso3
),

distances (step, role, iso3, distance, change) as (
    select 0, role, iso3, greatest(distance, {{ floor }}), cast(null as double) from starts
    union all
    select
        d.step + 1,
        d.role,
        d.iso3,
        case when u.distance is null then d.distance else greatest(u.distance, {{ floor }}) end,
        case when u.distance is null then 0 else abs(greatest(u.distance, {{ floor }}) - d.distance) end
    from distances as d
    left join lateral (
        -- null for the role not updated in this step: it keeps its distance
        select {{ trade_exact_sum('g.distance_sum / p.distance') }} / {{ trade_exact_sum('g.n_obs / p.distance') }} as distance
        from cells as g
        join distances as p
            on p.step = d.step
           and p.role = case d.role when 'exporter' then 'importer' else 'exporter' end
           and p.iso3 = case d.role when 'exporter' then g.importer_iso3 else g.exporter_iso3 end
        where d.role = case when d.step % 2 = 0 then 'exporter' else 'importer' end
          and d.iso3 = case d.role when 'exporter' then g.exporter_iso3 else g.importer_iso3 end
    ) as u on true
    where d.step < {{ 2 * rounds }}
),

converged as (
    select
        d.role, d.iso3, d.distance, s.n_obs,
        max(d.change) filter (where d.step >= {{ 2 * rounds - 1 }}) over () as last_change
    from distances as d
    join starts as s using (role, iso3)
    where d.step = {{ 2 * rounds }}
),

overall as (
    select {{ trade_exact_sum('distance_sum') }} / sum(n_obs) as mean_distance from cells
),

countries as (
    select
        iso3,
        max(distance) filter (where role = 'exporter') as exporter_distance,
        max(distance) filter (where role = 'importer') as importer_distance,
        coalesce(max(n_obs) filter (where role = 'exporter'), 0) as n_obs_as_exporter,
        coalesce(max(n_obs) filter (where role = 'importer'), 0) as n_obs_as_importer,
        max(last_change) as last_change
    from converged
    group by iso3
)

select
    cast(c.iso3 as varchar) as country_iso3,
    cast(round(coalesce(c.exporter_distance, o.mean_distance), 8) as double) as exporter_reporting_distance,
    cast(round(coalesce(c.importer_distance, o.mean_distance), 8) as double) as importer_reporting_distance,
    cast(round(o.mean_distance, 8) as double) as mean_reporting_distance,
    cast(c.n_obs_as_exporter as bigint) as n_obs_as_exporter,
    cast(c.n_obs_as_importer as bigint) as n_obs_as_importer,
    cast({{ rounds }} as integer) as iterations,
    cast(round(c.last_change, 10) as double) as last_round_change
from countries as c
cross join overall as o
