-- One row per export batch file (stream x batch time): its latest handling (a skipped file that
-- a later run loaded shows as loaded). csv_rows counts all events of the batch, before the pair
-- filter: GDELT's total volume, which the relations marts normalise by.
with source as (
    {{ accepted_records('gdelt_events', 'gdelt_export_file') }}
),

typed as (
    select
        stream,
        batch_ts,
        try_strptime(batch_ts, '%Y%m%d%H%M%S') as batch_at,
        filename,
        manifest_bytes,
        manifest_md5,
        csv_rows,
        csv_bytes,
        status,
        nullif(problem, '') as problem,
        _synthetic as is_sample,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file
    from source
),

latest as (
    select *
    from typed
    where batch_at is not null
    qualify row_number() over (
        partition by stream, batch_ts
        order by (status = 'loaded') desc, observed_at desc, loaded_at desc, landed_file desc
    ) = 1
)

select
    stream, batch_ts, batch_at, cast(batch_at as date) as batch_day, filename, manifest_bytes, manifest_md5,
    case when status = 'loaded' then csv_rows else 0 end as csv_rows,
    csv_bytes, status, problem, is_sample, loaded_at
from latest
