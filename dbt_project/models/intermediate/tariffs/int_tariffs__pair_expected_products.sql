-- Expected (E) registry rows that apply to a directed pair, in the shape of
-- int_tariffs__pair_measure_products (one row per importer x exporter x registry row x HS6, x vintage for
-- lists, with the share covered). The schedule counts them (expected_measure_ids) and applies them only
-- with the dbt var tariff_include_expected_measures (then they come through int_tariffs__pair_measure_products).
with registry as (
    select * from {{ ref('int_tariffs__registry') }}
    where effective_date is not null and is_expected
),

products as (
    select * from {{ ref('int_tariffs__registry_hs6') }}
),

pairs as (
    select * from {{ ref('int_tariffs__pairs') }}
)

select
    p.importer_iso3,
    p.exporter_iso3,
    r.row_id,
    r.measure_id,
    r.instrument,
    h.hs6,
    r.rate_pct,
    r.rate_type,
    r.replaces_measures,
    r.exemption,
    r.effective_date,
    r.end_date,
    r.is_expected,
    r.confidence,
    h.hs_vintage,
    h.coverage_share
from registry as r
join pairs as p
    on p.importer_iso3 = r.imposing_iso3
   and (r.target_iso3 = p.exporter_iso3 or r.target_iso3 = 'ALL')
join products as h on h.row_id = r.row_id
