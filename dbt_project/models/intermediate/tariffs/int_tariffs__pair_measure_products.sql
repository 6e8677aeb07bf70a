-- Registry rows that apply to a directed pair, one row per importer x exporter x registry row x
-- HS6 (x HS vintage for product lists): rows aimed at the exporter and rows aimed at ALL origins,
-- with the share of the HS6's national lines the row covers. Dated rows only (an expected measure
-- with an open date is in the registry mart but in force on no date). Expected (E) rows only with the
-- dbt var tariff_include_expected_measures (default false): otherwise they are in
-- int_tariffs__pair_expected_products, which the schedule counts but never applies.
{% set include_expected = var('tariff_include_expected_measures', false) %}
with registry as (
    select * from {{ ref('int_tariffs__registry') }}
    where effective_date is not null
      {% if not include_expected %}and not is_expected{% endif %}
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
