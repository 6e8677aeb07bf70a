-- The country pairs of the most recent configuration gdelt_events recorded (countries.pairs; one
-- list per run date, a re-run of the same night loads nothing new): the relations marts cover
-- exactly these, with zero rows for a pair that has no events yet.
with source as (
    {{ accepted_records('gdelt_events', 'gdelt_configured_pair') }}
),

latest_run as (
    select _run_id from source order by _loaded_at desc, _run_id desc limit 1
)

select distinct s.pair, s.country_a, s.country_b, s._run_id as configured_in_run, s._synthetic as is_sample
from source as s
inner join latest_run as l on l._run_id = s._run_id
