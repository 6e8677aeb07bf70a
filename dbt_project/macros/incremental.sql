{#- Incremental staging (docs/architecture.md#incremental-nights): what changed since the last build.

    A record's winner ("latest answer wins", macro accepted_records) can change in four ways, and
    each leaves a time stamp the next build compares with when the last successful build started:
    - a new raw row (raw._loaded_at: a new answer, or a quarantine release of a record refused at load);
    - an answer fetched again, identical to a stored one (audit.landed_files.landed_at: it is not
      stored twice, but its observation time moves and it may win again, a revision A -> B -> A);
    - a record or file refused by validation (quarantine.<table>.quarantined_at);
    - a refusal released or dropped (quarantine.<table>.resolved_at).
    The last successful build is the newest `dbt` step with status ok of a run that was not
    abandoned (audit.run_steps; recovery may remove what an abandoned run landed). With none
    (a first build, dbt run by hand on a new warehouse) everything counts as changed.
-#}

{#- When the last successful dbt build of a nightly run started, minus `lookback` (an interval
    literal such as "interval 3 day"); -infinity when there was none. -#}
{% macro last_successful_build(lookback=none) %}
    coalesce((
        select max(s.started_at){% if lookback %} - {{ lookback }}{% endif %}
        from {{ source('audit', 'run_steps') }} as s
        inner join {{ source('audit', 'runs') }} as r on r.run_id = s.run_id
        where s.step = 'dbt' and s.status = 'ok' and s.source is null and r.status <> 'abandoned'
    ), '-infinity'::timestamptz)
{% endmacro %}

{#- The raw rows of source_name.table_name whose winner may have changed since `since` (an SQL
    timestamp expression, e.g. last_successful_build()): loaded, fetched again or (un)refused since. -#}
{% macro changed_raw_rows(source_name, table_name, since) %}
    select raw.*
    from {{ source(source_name, table_name) }} as raw
    where raw._loaded_at > {{ since }}
       or raw._file_sha256 in (
            select sha256 from {{ source('audit', 'landed_files') }} where landed_at > {{ since }})
       or raw._landed_file in (
            select landed_file from {{ source('quarantine', table_name) }}
            where quarantined_at > {{ since }} or resolved_at > {{ since }})
{% endmacro %}

{#- Pre-hook of an incremental staging model: remove the rows of the keys tonight's batch
    rebuilds, so that a key whose every record is now refused disappears (delete+insert alone only
    replaces keys the batch still has). `keys_sql` selects the key columns `keys`. -#}
{% macro delete_rebuilt_keys(keys, keys_sql) %}
    {% if is_incremental() %}
        delete from {{ this }} as target
        using ({{ keys_sql }}) as rebuilt
        where {% for key in keys %}target.{{ key }} is not distinct from rebuilt.{{ key }}{{ " and " if not loop.last }}{% endfor %}
    {% endif %}
{% endmacro %}
