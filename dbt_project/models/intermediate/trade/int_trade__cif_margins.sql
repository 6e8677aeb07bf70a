-- CIF/FOB margins estimated from the mirror data (BACI / Growth Lab style; docs/sources/comtrade.md
-- #reconciliation-method-mirror-flows), one per exporter -> importer x product x year of the mirror
-- pairs. Model, on the estimation sample of int_trade__mirror_observations (importers valuing CIF):
--     ln(CIF / FOB) = chapter effect + b1 ln(distance) + b2 contiguity + year effect + error
-- estimated in closed form on group means: observations -> pair x chapter means (weights: summed
-- observation weights) -> within-chapter deviations -> 2x2 normal equations (contiguity only when
-- it is not collinear with ln distance in the sample, else b2 = 0) -> chapter effects from the chapter
-- means -> year effects as the mean residual of the year -> product effects (headings/subheadings)
-- as their mean residual. The margin of a flow is exp(prediction) - 1 capped to [0, var
-- trade_margin_cap]; the residual is not part of it (it is reporting error: int_trade__reporter_reliability).
-- A chapter or product with fewer than var trade_margin_min_obs observations takes the next level
-- up (chapter effect, then the pooled intercept); a pair without gravity data the sample's mean
-- gravity; TOTAL the pair's chapter margins weighted by the year's chapter values. Without any
-- observation the margin is var trade_cif_fob_ratio - 1 (the fixed ratio).
{% set min_obs = var('trade_margin_min_obs', 3) %}
{% set cap = var('trade_margin_cap', 0.2) %}
with pairs as (
    select * from {{ ref('int_trade__mirror_pairs') }}
),

obs as (
    select * from {{ ref('int_trade__mirror_observations') }}
    where not is_fas_importer and ln_distance is not null
),

gravity as (
    select country_a as exporter_iso3, country_b as importer_iso3, ln(distance_km) as ln_distance,
           cast(is_contiguous as integer) as contiguity
    from {{ ref('trade_gravity') }}
    union all
    select country_b, country_a, ln(distance_km), cast(is_contiguous as integer)
    from {{ ref('trade_gravity') }}
),

chapter_obs as (
    select * from obs where hs_level = 'chapter'
),

cells as (
    -- group means: one per exporter -> importer x chapter
    select
        exporter_iso3, importer_iso3, cmd_code, ln_distance, contiguity,
        {{ trade_exact_sum('weight') }} as cell_weight,
        {{ trade_exact_sum('weight * ln_ratio_winsorized') }} / {{ trade_exact_sum('weight') }} as ln_ratio_mean,
        count(*) as n_obs
    from chapter_obs
    group by exporter_iso3, importer_iso3, cmd_code, ln_distance, contiguity
),

chapter_means as (
    select
        cmd_code,
        {{ trade_exact_sum('cell_weight * ln_ratio_mean') }} / {{ trade_exact_sum('cell_weight') }} as ln_ratio_bar,
        {{ trade_exact_sum('cell_weight * ln_distance') }} / {{ trade_exact_sum('cell_weight') }} as ln_distance_bar,
        {{ trade_exact_sum('cell_weight * contiguity') }} / {{ trade_exact_sum('cell_weight') }} as contiguity_bar,
        sum(n_obs) as n_obs
    from cells
    group by cmd_code
),

demeaned as (
    select
        c.cell_weight,
        c.ln_ratio_mean - m.ln_ratio_bar as y,
        c.ln_distance - m.ln_distance_bar as x1,
        c.contiguity - m.contiguity_bar as x2
    from cells as c
    join chapter_means as m using (cmd_code)
),

moments as (
    select
        coalesce({{ trade_exact_sum('cell_weight * x1 * x1') }}, 0) as s11,
        coalesce({{ trade_exact_sum('cell_weight * x1 * x2') }}, 0) as s12,
        coalesce({{ trade_exact_sum('cell_weight * x2 * x2') }}, 0) as s22,
        coalesce({{ trade_exact_sum('cell_weight * x1 * y') }}, 0) as s1y,
        coalesce({{ trade_exact_sum('cell_weight * x2 * y') }}, 0) as s2y,
        (select count(*) from chapter_obs) as n_obs,
        (select count(distinct (exporter_iso3, importer_iso3)) from chapter_obs) as n_pairs
    from demeaned
),

coefficients as (
    select
        *,
        s11 > 1e-12 and s22 > 1e-12 and s12 * s12 / (s11 * s22) < {{ var('trade_margin_contiguity_max_r2', 0.9) }} as with_contiguity
    from moments
),

betas as (
    select
        n_obs, n_pairs, with_contiguity,
        case
            when with_contiguity then (s22 * s1y - s12 * s2y) / (s11 * s22 - s12 * s12)
            when s11 > 1e-12 then s1y / s11
            else 0
        end as beta_ln_distance,
        case when with_contiguity then (s11 * s2y - s12 * s1y) / (s11 * s22 - s12 * s12) else 0 end as beta_contiguity
    from coefficients
),

chapter_effects as (
    select
        m.cmd_code,
        m.ln_ratio_bar - b.beta_ln_distance * m.ln_distance_bar - b.beta_contiguity * m.contiguity_bar as effect,
        m.n_obs
    from chapter_means as m
    cross join betas as b
),

pooled as (
    -- the intercept of a chapter without enough observations: the weighted mean chapter effect
    select {{ trade_exact_sum('c.cell_weight * (c.ln_ratio_mean - b.beta_ln_distance * c.ln_distance - b.beta_contiguity * c.contiguity)') }}
           / {{ trade_exact_sum('c.cell_weight') }} as effect,
           {{ trade_exact_sum('c.cell_weight * c.ln_distance') }} / {{ trade_exact_sum('c.cell_weight') }} as ln_distance_mean
    from cells as c
    cross join betas as b
),

year_effects as (
    select
        o.year,
        {{ trade_exact_sum('o.weight * (o.ln_ratio_winsorized - e.effect - b.beta_ln_distance * o.ln_distance - b.beta_contiguity * o.contiguity)') }}
            / {{ trade_exact_sum('o.weight') }} as effect
    from chapter_obs as o
    join chapter_effects as e using (cmd_code)
    cross join betas as b
    group by o.year
),

product_effects as (
    select
        o.cmd_code,
        {{ trade_exact_sum('o.weight * (o.ln_ratio_winsorized - b.beta_ln_distance * o.ln_distance - b.beta_contiguity * o.contiguity - coalesce(y.effect, 0))') }}
            / {{ trade_exact_sum('o.weight') }} as effect,
        count(*) as n_obs
    from obs as o
    cross join betas as b
    left join year_effects as y using (year)
    where o.hs_level <> 'chapter'
    group by o.cmd_code
),

grid as (
    select distinct exporter_iso3, importer_iso3, year, cmd_code, hs_level
    from pairs
    where cmd_code <> 'TOTAL'
),

predicted as (
    select
        g.exporter_iso3, g.importer_iso3, g.year, g.cmd_code, g.hs_level,
        case
            when b.n_obs = 0 then 'fixed_ratio_fallback'
            when g.hs_level <> 'chapter' and pe.n_obs >= {{ min_obs }} then 'product_effect'
            when ce.n_obs >= {{ min_obs }} then 'chapter_effect'
            else 'pooled_intercept'
        end as effect_level,
        case
            when g.hs_level <> 'chapter' and pe.n_obs >= {{ min_obs }} then pe.effect
            when ce.n_obs >= {{ min_obs }} then ce.effect
            else p.effect
        end
        + b.beta_ln_distance * coalesce(gr.ln_distance, p.ln_distance_mean)
        + b.beta_contiguity * coalesce(gr.contiguity, 0)
        + coalesce(y.effect, 0) as ln_margin_predicted,
        gr.ln_distance is null as without_gravity,
        case
            when g.hs_level <> 'chapter' and pe.n_obs >= {{ min_obs }} then pe.n_obs
            when ce.n_obs >= {{ min_obs }} then ce.n_obs
            else b.n_obs
        end as n_obs,
        b.beta_ln_distance, b.beta_contiguity, b.with_contiguity, b.n_pairs
    from grid as g
    cross join betas as b
    cross join pooled as p
    left join gravity as gr using (exporter_iso3, importer_iso3)
    left join chapter_effects as ce on ce.cmd_code = left(g.cmd_code, 2)
    left join product_effects as pe on pe.cmd_code = g.cmd_code
    left join year_effects as y on y.year = g.year
),

capped as (
    select
        *,
        case
            when effect_level = 'fixed_ratio_fallback' then {{ var('trade_cif_fob_ratio', 1.08) }} - 1
            else least(greatest(exp(ln_margin_predicted) - 1, 0), {{ cap }})
        end as cif_margin,
        effect_level <> 'fixed_ratio_fallback'
            and (exp(ln_margin_predicted) - 1 < 0 or exp(ln_margin_predicted) - 1 > {{ cap }}) as is_capped
    from predicted
),

chapter_values as (
    -- TOTAL's weights: the year's chapter values (annual declarations, else the sum of the months;
    -- the importer's where declared, else the exporter's)
    select
        exporter_iso3, importer_iso3, year, cmd_code,
        coalesce(
            max(coalesce(importer_reported_cif_usd, exporter_reported_fob_usd)) filter (where period_type = 'annual'),
            cast(sum(cast(coalesce(importer_reported_cif_usd, exporter_reported_fob_usd) as decimal(38, 4)))
                 filter (where period_type = 'monthly') as double)
        ) as chapter_value
    from pairs
    where hs_level = 'chapter'
    group by exporter_iso3, importer_iso3, year, cmd_code
),

total_weighted as (
    select
        c.exporter_iso3, c.importer_iso3, c.year,
        {{ trade_exact_sum('v.chapter_value * c.cif_margin', 8) }} / nullif({{ trade_exact_sum('v.chapter_value', 4) }}, 0) as cif_margin,
        bool_or(c.effect_level = 'fixed_ratio_fallback') as is_fallback,
        bool_or(c.without_gravity) as without_gravity,
        sum(c.n_obs) as n_obs
    from capped as c
    join chapter_values as v using (exporter_iso3, importer_iso3, year, cmd_code)
    where c.hs_level = 'chapter'
    group by c.exporter_iso3, c.importer_iso3, c.year
),

totals as (
    -- pairs with TOTAL but no chapters (e.g. the transit partner) take the pooled intercept
    select
        t.exporter_iso3, t.importer_iso3, t.year, 'TOTAL' as cmd_code, 'total' as hs_level,
        case
            when w.cif_margin is not null and w.is_fallback then 'fixed_ratio_fallback'
            when w.cif_margin is not null then 'trade_weighted_chapters'
            when b.n_obs = 0 then 'fixed_ratio_fallback'
            else 'pooled_intercept'
        end as effect_level,
        case
            when w.cif_margin is not null then ln(1 + w.cif_margin)
            else p.effect + b.beta_ln_distance * coalesce(gr.ln_distance, p.ln_distance_mean)
                 + b.beta_contiguity * coalesce(gr.contiguity, 0) + coalesce(y.effect, 0)
        end as ln_margin_predicted,
        coalesce(w.without_gravity, gr.ln_distance is null) as without_gravity,
        coalesce(w.n_obs, b.n_obs) as n_obs,
        b.beta_ln_distance, b.beta_contiguity, b.with_contiguity, b.n_pairs,
        coalesce(
            w.cif_margin,
            case when b.n_obs = 0 then {{ var('trade_cif_fob_ratio', 1.08) }} - 1 end,
            least(greatest(exp(p.effect + b.beta_ln_distance * coalesce(gr.ln_distance, p.ln_distance_mean)
                               + b.beta_contiguity * coalesce(gr.contiguity, 0) + coalesce(y.effect, 0)) - 1, 0), {{ cap }})
        ) as cif_margin,
        false as is_capped
    from (select distinct exporter_iso3, importer_iso3, year from pairs where cmd_code = 'TOTAL') as t
    cross join betas as b
    cross join pooled as p
    left join total_weighted as w using (exporter_iso3, importer_iso3, year)
    left join gravity as gr using (exporter_iso3, importer_iso3)
    left join year_effects as y on y.year = t.year
),

all_margins as (
    select exporter_iso3, importer_iso3, year, cmd_code, hs_level, effect_level, ln_margin_predicted, without_gravity,
           n_obs, beta_ln_distance, beta_contiguity, with_contiguity, n_pairs, cif_margin, is_capped
    from capped
    union all
    select exporter_iso3, importer_iso3, year, cmd_code, hs_level, effect_level, ln_margin_predicted, without_gravity,
           n_obs, beta_ln_distance, beta_contiguity, with_contiguity, n_pairs, cif_margin, is_capped
    from totals
)

select
    cast(exporter_iso3 as varchar) as exporter_iso3,
    cast(importer_iso3 as varchar) as importer_iso3,
    cast(year as integer) as year,
    cast(cmd_code as varchar) as cmd_code,
    cast(hs_level as varchar) as hs_level,
    cast(round(cif_margin, 8) as double) as cif_margin,
    cast(effect_level as varchar) as margin_source,
    cast(round(ln_margin_predicted, 8) as double) as ln_margin_predicted,
    cast(is_capped as boolean) as is_capped,
    cast(without_gravity as boolean) as without_gravity,
    cast(n_obs as bigint) as n_obs,
    cast(round(beta_ln_distance, 8) as double) as beta_ln_distance,
    cast(round(beta_contiguity, 8) as double) as beta_contiguity,
    cast(with_contiguity as boolean) as with_contiguity,
    cast(n_pairs as bigint) as n_pairs
from all_margins
