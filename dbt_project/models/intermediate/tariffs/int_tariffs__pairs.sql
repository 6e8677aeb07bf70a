-- Directed country pairs the tariff schedule covers: every ordered pair of the configured countries,
-- as the data shows them (WITS reporters and the countries reporting imports to Comtrade: both
-- sources fetch exactly countries.focus); the registry's countries only when neither source has data
-- yet. Override with the dbt var tariff_countries (a list of ISO3 codes).
-- The importers are read from staging, not from the trade marts: the schedule then builds while the
-- trade models do, and only tariff_exposure waits for both.
{% set configured = var('tariff_countries', none) %}
with
{% if configured %}
countries as (
    select unnest([{% for c in configured %}'{{ c }}'{% if not loop.last %}, {% endif %}{% endfor %}]) as iso3
)
{% else %}
observed as (
    select distinct importer_iso3 as iso3 from {{ ref('int_tariffs__base_rates') }}
    union
    select distinct reporter_iso3 from {{ ref('stg_comtrade__records') }}
    where flow_code = 'M' and reporter_iso3 <> 'W00' and partner_iso3 <> 'W00'
),

registry as (
    select distinct imposing_iso3 as iso3 from {{ ref('int_tariffs__registry') }}
    union
    select distinct target_iso3 from {{ ref('int_tariffs__registry') }} where target_iso3 <> 'ALL'
),

countries as (
    select iso3 from observed
    union all
    select iso3 from registry where not exists (select 1 from observed)
)
{% endif %}

select a.iso3 as importer_iso3, b.iso3 as exporter_iso3
from countries as a
join countries as b on a.iso3 <> b.iso3
