-- Directed country pairs the tariff schedule covers: every ordered pair of the countries that
-- appear as WITS reporters (the configured countries) or in the registry (imposing or targeted).
-- Override with the dbt var tariff_countries (a list of ISO3 codes).
{% set configured = var('tariff_countries', none) %}
with countries as (
    {% if configured %}
    select unnest([{% for c in configured %}'{{ c }}'{% if not loop.last %}, {% endif %}{% endfor %}]) as iso3
    {% else %}
    select distinct importer_iso3 as iso3 from {{ ref('int_tariffs__base_rates') }}
    union
    select distinct imposing_iso3 from {{ ref('int_tariffs__registry') }}
    union
    select distinct target_iso3 from {{ ref('int_tariffs__registry') }} where target_iso3 <> 'ALL'
    {% endif %}
)

select a.iso3 as importer_iso3, b.iso3 as exporter_iso3
from countries as a
join countries as b on a.iso3 <> b.iso3
