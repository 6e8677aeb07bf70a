{#- Relations index parameters (dbt vars, documented in _relations__models.yml). -#}
{%- set half_life = var('relations_index_half_life_months', 1.0) | float -%}
{%- set min_mentions = var('relations_index_min_mentions', 2) | int -%}
{%- set decay = 0.5 ** (1.0 / half_life) -%}
-- Relations index per pair x direction x month. Stories (int_relations__stories) with at least
-- {{ min_mentions }} mentions, each weighted w = ln(1 + mentions) (so a heavily repeated story
-- cannot dominate a month); the month's score is 10 x the w-weighted mean Goldstein value (-100
-- hostile .. +100 cooperative). The index is an exponentially weighted mean of the monthly scores,
-- each month weighted by its total w and discounted by {{ decay | round(4) }} per month (half-life
-- {{ half_life }} month(s)): index_t = 10 x sum_k d^(t-k) W_k G_k / sum_k d^(t-k) W_k. Months without
-- stories leave the index where it was.
with stories as (
    select * from {{ ref('int_relations__stories') }}
    where mentions >= {{ min_mentions }} and goldstein_scale is not null
),

exploded as (
    select pair, direction, month, mentions, goldstein_scale from stories
    union all
    select pair, 'both' as direction, month, mentions, goldstein_scale from stories
),

monthly as (
    select
        pair,
        direction,
        month,
        count(*) as index_stories,
        -- weights as exact decimals (12 places), so sums do not depend on the order of parallel aggregation
        cast(sum(cast(ln(1 + mentions) as decimal(24, 12))) as double) as index_weight,
        cast(sum(cast(ln(1 + mentions) as decimal(24, 12)) * cast(goldstein_scale as decimal(8, 2))) as double)
            as weighted_goldstein
    from exploded
    group by pair, direction, month
),

months as (
    select distinct month from {{ ref('int_relations__calendar') }}
),

pairs as (
    select pair from {{ ref('int_relations__pairs') }}
),

directions as (
    select unnest(['a_to_b', 'b_to_a', 'both']) as direction
),

grid as (
    select p.pair, d.direction, m.month
    from pairs as p
    cross join directions as d
    cross join months as m
),

filled as (
    select
        g.pair,
        g.direction,
        g.month,
        coalesce(m.index_stories, 0) as index_stories,
        coalesce(m.index_weight, 0) as index_weight,
        coalesce(m.weighted_goldstein, 0) as weighted_goldstein,
        datediff('month', min(g.month) over (partition by g.pair, g.direction), g.month) as t
    from grid as g
    left join monthly as m on m.pair = g.pair and m.direction = g.direction and m.month = g.month
),

discounted as (
    select
        *,
        pow({{ decay }}, t) * sum(weighted_goldstein * pow({{ decay }}, -t)) over w as ew_weighted_goldstein,
        pow({{ decay }}, t) * sum(index_weight * pow({{ decay }}, -t)) over w as ew_weight
    from filled
    window w as (partition by pair, direction order by month rows between unbounded preceding and current row)
)

select
    pair,
    direction,
    month,
    index_stories,
    index_weight,
    round(10 * weighted_goldstein / nullif(index_weight, 0), 6) as monthly_score,
    round(10 * ew_weighted_goldstein / nullif(ew_weight, 0), 6) as relations_index
from discounted
