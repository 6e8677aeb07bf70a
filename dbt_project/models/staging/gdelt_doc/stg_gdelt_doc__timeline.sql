-- DOC API timeline points per pair, mode and step; a step re-fetched on a later night keeps its
-- latest value (nightly windows overlap).
with source as (
    {{ accepted_records('gdelt_doc', 'gdelt_doc_timeline') }}
),

typed as (
    select
        pair,
        query,
        mode,
        series,
        try_strptime(date, '%Y%m%dT%H%M%SZ') as step_at,
        value,
        norm,
        _synthetic as is_sample,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file,
        record_no
    from source
),

latest as (
    select *
    from typed
    where step_at is not null and value is not null
    qualify row_number() over (partition by pair, mode, step_at order by observed_at desc, loaded_at desc, landed_file desc, record_no) = 1
)

select pair, query, mode, series, step_at, cast(step_at as date) as step_day, value, norm, is_sample, loaded_at
from latest
