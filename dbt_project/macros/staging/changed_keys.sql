{#- The keys each incremental staging model rebuilds tonight (macros/incremental.sql): used by the
    model's batch and by its pre-hook, which removes them first. -#}

{#- GDELT events: the ids of events loaded, fetched again or (un)refused since the last build, and
    of every event GDELT added (DATEADDED) in the var('gdelt_events_lookback_days') days before the
    newest one loaded (GDELT's revision window: a re-reported event keeps its id). -#}
{% macro gdelt_events__rebuilt_ids() %}
    with changed as (
        select try_cast("GLOBALEVENTID" as bigint) as global_event_id
        from ({{ changed_raw_rows('gdelt_events', 'gdelt_event', last_successful_build()) }})
    ),
    newest as (
        select max(try_strptime("DATEADDED", '%Y%m%d%H%M%S')) as last_added
        from {{ source('gdelt_events', 'gdelt_event') }}
    ),
    recent as (
        select try_cast(e."GLOBALEVENTID" as bigint) as global_event_id
        from {{ source('gdelt_events', 'gdelt_event') }} as e
        cross join newest as n
        where e."DATEADDED" >= strftime(n.last_added - interval ({{ var('gdelt_events_lookback_days') | int }}) day,
                                        '%Y%m%d%H%M%S')
    )
    select global_event_id from changed
    union
    select global_event_id from recent
{% endmacro %}

{#- Comtrade: the reporter x period partitions with records loaded, fetched again or (un)refused
    since the last build, and every reporter's last var('comtrade_lookback_months') monthly periods
    and var('comtrade_lookback_years') annual periods (the connector's revision window: Comtrade
    revises recent periods; they are re-fetched every night). A partition holds whole record keys. -#}
{% macro comtrade__rebuilt_partitions() %}
    with changed as (
        select distinct "freqCode" as freq_code, "period" as period, cast("reporterCode" as integer) as reporter_code
        from ({{ changed_raw_rows('comtrade', 'comtrade_record', last_successful_build()) }})
    ),
    newest as (
        select
            max(case when "freqCode" = 'M' then "period" end) as last_month,
            max(case when "freqCode" = 'A' then "period" end) as last_year
        from {{ source('comtrade', 'comtrade_record') }}
    ),
    recent as (
        select distinct r."freqCode" as freq_code, r."period" as period, cast(r."reporterCode" as integer) as reporter_code
        from {{ source('comtrade', 'comtrade_record') }} as r
        cross join newest as n
        where (r."freqCode" = 'M' and r."period" > strftime(
                    strptime(n.last_month, '%Y%m') - interval ({{ var('comtrade_lookback_months') | int }}) month, '%Y%m'))
           or (r."freqCode" = 'A' and cast(r."period" as integer) > cast(n.last_year as integer) - {{ var('comtrade_lookback_years') | int }})
    )
    select * from changed
    union
    select * from recent
{% endmacro %}
