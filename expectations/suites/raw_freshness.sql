-- How far the newest raw data of each continuously published source lags this run. Live runs only
-- (sample and replay data are old by design) and only the sources this run fetched; the annual
-- sources (World Bank, WITS) lag one to three years by nature and are not checked. `stale` names the
-- source when its newest data is older than the lag the source normally shows:
--   gdelt_events  newest loaded 15-minute export batch, allowed 36 hours (GDELT publishes every 15 minutes)
--   gdelt_doc     newest DOC API timeline step, allowed 3 days (the nightly fetch covers the last day)
--   comtrade      newest monthly period (counted from the end of the month), allowed 183 days
with run as (
    select started_at, mode, string_split(sources, ',') as sources
    from audit.runs
    where run_id = '{run_id}'
),

newest as (
    select
        'gdelt_events' as source,
        'newest loaded export batch' as measure,
        max(try_strptime(batch_ts, '%Y%m%d%H%M%S')) as newest_at,
        36 as allowed_hours
    from raw.gdelt_export_file
    where status = 'loaded'
    union all
    select 'gdelt_doc', 'newest DOC API timeline step', max(try_strptime(date, '%Y%m%dT%H%M%SZ')), 72
    from raw.gdelt_doc_timeline
    union all
    select 'comtrade', 'newest monthly period', max(make_date("refYear", "refMonth", 1) + interval 1 month), 183 * 24
    from raw.comtrade_record
    where "freqCode" = 'M' and "refMonth" between 1 and 12
),

lag as (
    select
        newest.*,
        run.mode = 'live' and list_contains(run.sources, newest.source) as checked,
        round((epoch(run.started_at) - epoch(newest.newest_at)) / 3600, 1) as hours_behind_run
    from newest
    left join run on true
)

select
    source,
    measure,
    newest_at,
    allowed_hours,
    checked,
    hours_behind_run,
    case
        when checked and (newest_at is null or hours_behind_run > allowed_hours)
        then source || ': ' || measure || ' '
            || coalesce(strftime(newest_at, '%Y-%m-%d %H:%M') || ' is ' || round(hours_behind_run / 24, 1)
                        || ' days before the run', 'missing')
            || ' (allowed ' || round(allowed_hours / 24, 1) || ' days)'
    end as stale
from lag
