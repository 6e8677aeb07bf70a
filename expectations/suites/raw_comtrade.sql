-- Comtrade records loaded by this run or by a run since the last successful one ({batch_runs}: rows a failed night left are validated before any night publishes them) (empty on a re-run that loaded nothing new), with whether
-- the period matches the frequency (YYYY with refMonth 52 for annual, YYYYMM for monthly).
select
    *,
    case
        when "freqCode" = 'A' then "period" = cast("refYear" as varchar) and "refMonth" = 52
        else "period" = cast("refYear" as varchar) || lpad(cast("refMonth" as varchar), 2, '0')
    end as period_matches_freq
from raw.comtrade_record
where _run_id in {batch_runs}
