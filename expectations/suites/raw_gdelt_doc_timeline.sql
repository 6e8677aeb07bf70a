-- GDELT DOC API timeline points this run or a run since the last successful one loaded ({batch_runs}) (empty when the best-effort fetch failed or found
-- nothing new): article counts (timelinevolraw) never negative and never above all articles GDELT
-- monitored in the step, average tone (timelinetone) within -100..100. The loader already refuses
-- points without a YYYYMMDDTHHMMSSZ date or a numeric value.
select
    pair,
    mode,
    date,
    case when mode = 'timelinevolraw' then value end as article_count,
    case when mode = 'timelinevolraw' then norm - value end as monitored_minus_articles,
    case when mode = 'timelinetone' then value end as avg_tone,
    _landed_file,
    record_no
from raw.gdelt_doc_timeline
where _run_id in {batch_runs}
