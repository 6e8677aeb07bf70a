-- GDELT events typed and renamed: one row per GLOBALEVENTID (a re-loaded event keeps its latest
-- load). Both dates are kept: event_date from SQLDATE (when it happened) and date_added from
-- DATEADDED (the 15-minute batch that first reported it). Rows whose id, dates or QuadClass do
-- not parse are left out here (the raw GX suite reports them).
-- Incremental (docs/architecture.md#incremental-nights): a night rebuilds only the events whose
-- records changed since the last build (macro gdelt_events__rebuilt_ids), from all their records.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='global_event_id',
    on_schema_change='fail',
    pre_hook="{{ delete_rebuilt_keys(['global_event_id'], gdelt_events__rebuilt_ids()) }}"
) }}
-- depends_on: {{ source('audit', 'runs') }}, {{ source('audit', 'run_steps') }}

with source as (
    {%- if is_incremental() %}
    {{ accepted_records('gdelt_events', 'gdelt_event',
                        only='try_cast(raw."GLOBALEVENTID" as bigint) in (select global_event_id from ('
                             ~ gdelt_events__rebuilt_ids() ~ '))') }}
    {%- else %}
    {{ accepted_records('gdelt_events', 'gdelt_event') }}
    {%- endif %}
),

typed as (
    select
        try_cast("GLOBALEVENTID" as bigint) as global_event_id,
        cast(try_strptime("SQLDATE", '%Y%m%d') as date) as event_date,
        try_strptime("DATEADDED", '%Y%m%d%H%M%S') as date_added,
        "Actor1Code" as actor1_code,
        "Actor1Name" as actor1_name,
        upper("Actor1CountryCode") as actor1_country,
        "Actor1Type1Code" as actor1_type,
        "Actor2Code" as actor2_code,
        "Actor2Name" as actor2_name,
        upper("Actor2CountryCode") as actor2_country,
        "Actor2Type1Code" as actor2_type,
        try_cast("IsRootEvent" as integer) = 1 as is_root_event,
        "EventCode" as event_code,
        "EventBaseCode" as event_base_code,
        "EventRootCode" as event_root_code,
        try_cast("QuadClass" as integer) as quad_class,
        try_cast("GoldsteinScale" as double) as goldstein_scale,
        coalesce(try_cast("NumMentions" as integer), 0) as num_mentions,
        coalesce(try_cast("NumSources" as integer), 0) as num_sources,
        coalesce(try_cast("NumArticles" as integer), 0) as num_articles,
        try_cast("AvgTone" as double) as avg_tone,
        "ActionGeo_CountryCode" as action_geo_fips,
        "ActionGeo_FullName" as action_geo_name,
        "SOURCEURL" as source_url,
        source_stream,
        _synthetic as is_sample,
        _run_id as loaded_run_id,
        _loaded_at as loaded_at,
        _observed_at as observed_at,
        _landed_file as landed_file
    from source
),

valid as (
    select *
    from typed
    where global_event_id is not null
      and event_date is not null
      and date_added is not null
      and quad_class between 1 and 4
      and actor1_country is not null and actor2_country is not null
      and actor1_country <> actor2_country
),

latest as (
    select *
    from valid
    qualify row_number() over (partition by global_event_id order by observed_at desc, loaded_at desc, landed_file desc) = 1
)

select
    global_event_id, event_date, date_added, cast(date_added as date) as date_added_day,
    actor1_code, actor1_name, actor1_country, actor1_type,
    actor2_code, actor2_name, actor2_country, actor2_type,
    least(actor1_country, actor2_country) as country_a,
    greatest(actor1_country, actor2_country) as country_b,
    least(actor1_country, actor2_country) || '-' || greatest(actor1_country, actor2_country) as pair,
    is_root_event, event_code, event_base_code, event_root_code, quad_class, goldstein_scale,
    num_mentions, num_sources, num_articles, avg_tone,
    action_geo_fips, action_geo_name, source_url, source_stream,
    is_sample, loaded_run_id, loaded_at
from latest
