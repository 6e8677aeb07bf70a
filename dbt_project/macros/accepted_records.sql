{#- The rows of a raw table that staging may read, each with when its answer was last observed.

    - Refused rows stay out: a record quarantined at load never reached raw; a record or a whole
      file refused by validation (quarantine.<table>, status quarantined or dropped) is left out
      here, so no later night can publish it and no dbt test can fail on it. Released ones are read.
    - _observed_at: the last time the same answer (content hash) was fetched, from the landing log
      audit.landed_files. Staging resolves "latest answer wins" by it, so a revision A -> B -> A ends
      at A even though the second A was not stored again (same content), and an answer that arrives
      late (an older fetch loaded after a newer one) does not win by its load time.
    - only: an optional condition on the raw row (alias raw), e.g. the keys an incremental model
      rebuilds tonight (macros/incremental.sql).
-#}
{% macro accepted_records(source_name, table_name, only=none) %}
    select
        raw.*,
        coalesce(observed.last_observed_at, raw._loaded_at) as _observed_at
    from {{ source(source_name, table_name) }} as raw
    left join (
        select sha256, max(fetched_at) as last_observed_at
        from {{ source('audit', 'landed_files') }}
        where status = 'landed'
        group by sha256
    ) as observed on observed.sha256 = raw._file_sha256
    where not exists (
        select 1
        from {{ source('quarantine', table_name) }} as refused
        where refused.landed_file = raw._landed_file
          and refused.status in ('quarantined', 'dropped')
          and (refused.record_no = raw.record_no or refused.record_no is null)
    )
    {%- if only %}
      and ({{ only }})
    {%- endif %}
{% endmacro %}
