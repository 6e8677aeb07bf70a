-- The trade-weighted additional tariff each side of the pair puts on the other's goods, by month.
-- Reads marts.tariff_exposure (all products: hs_level 'all'), both directions of $a and $b. One row per
-- month x direction x estimate: 'central' (avg_additional_tariff_pct) and 'upper bound'
-- (avg_additional_tariff_upper_bound_pct). Months whose base-year trade is unknown (no value) are left out.
with pair_months as (
    select month, importer_iso3, exporter_iso3,
           importer_iso3 || ' on goods from ' || exporter_iso3 as direction,
           avg_additional_tariff_pct, avg_additional_tariff_upper_bound_pct, covered_share_pct,
           measure_ids, is_sample
    from marts.tariff_exposure
    where hs_level = 'all'
      and ((importer_iso3 = $a and exporter_iso3 = $b) or (importer_iso3 = $b and exporter_iso3 = $a))
),
long as (
    select month, direction, 'central' as estimate, avg_additional_tariff_pct as tariff_pct,
           covered_share_pct, measure_ids, is_sample from pair_months
    union all
    select month, direction, 'upper bound', avg_additional_tariff_upper_bound_pct,
           covered_share_pct, measure_ids, is_sample from pair_months
)
select month, direction, estimate, tariff_pct, covered_share_pct, measure_ids, is_sample
from long
where tariff_pct is not null
order by direction, estimate, month
