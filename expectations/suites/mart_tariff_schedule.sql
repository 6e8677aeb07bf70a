-- Every registry measure in force on the run date (with a product list), for every pair it
-- applies to, and whether tariff_schedule reflects it on that date (applied, or replaced by a
-- measure that takes precedence).
with today as (
    select current_date as d
),

in_force as (
    select distinct m.importer_iso3, m.exporter_iso3, m.row_id
    from intermediate.int_tariffs__pair_measure_products as m
    cross join today
    where m.effective_date <= today.d
      and coalesce(m.end_date, date '9999-12-31') >= today.d
),

on_date as (
    -- the registry rows the schedule applies or replaces on the run date
    select
        s.importer_iso3,
        s.exporter_iso3,
        unnest(string_split(coalesce(s.measure_row_ids, '') || ';' || coalesce(s.replaced_row_ids, ''), ';')) as row_id
    from marts.tariff_schedule as s
    cross join today
    where today.d between s.valid_from and s.valid_to
),

reflected as (
    select distinct importer_iso3, exporter_iso3, row_id
    from on_date
    where row_id <> ''
)

select
    i.importer_iso3,
    i.exporter_iso3,
    i.row_id,
    i.importer_iso3 || '<-' || i.exporter_iso3 || ' ' || i.row_id as measure_on_pair,
    r.row_id is not null as reflected_in_schedule
from in_force as i
left join reflected as r using (importer_iso3, exporter_iso3, row_id)
