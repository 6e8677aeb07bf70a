-- The tariff measures either side of the pair imposed on the other, one row per measure, dated.
-- Reads marts.tariff_measures (imposing and target country $a and $b, either way round); a measure listed
-- on several product codes is one row (products = how many codes, rate_pct = its highest rate).
with pair_measures as (
    select *
    from marts.tariff_measures
    where (imposing_iso3 = $a and target_iso3 = $b) or (imposing_iso3 = $b and target_iso3 = $a)
)
select measure_id, imposing_iso3, target_iso3, any_value(instrument) as instrument,
       min(effective_date) as effective_date, max(end_date) as end_date,
       max(rate_pct) as rate_pct, count(distinct hs_code) as products,
       bool_or(is_expected) as is_expected, any_value(status_as_of) as status_as_of,
       any_value(source_publisher) as source_publisher, any_value(source_ref) as source_ref,
       bool_or(is_sample) as is_sample
from pair_measures
group by measure_id, imposing_iso3, target_iso3
having min(effective_date) is not null
order by effective_date, measure_id
