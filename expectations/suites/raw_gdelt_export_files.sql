-- GDELT export batch files this run or a run since the last successful one handled ({batch_runs}), loaded or skipped (empty on a re-run that found no
-- new batch): batch times on GDELT's 15-minute grid (staging drops a batch time it cannot parse,
-- and with it that batch's events from the volume the relations marts normalise by), known
-- streams, and the share of this run's files that were skipped (404, MD5 mismatch, corrupt zip).
with batch as (
    select batch_ts, stream, filename, status, _landed_file, record_no
    from raw.gdelt_export_file
    where _run_id in {batch_runs}
)

select
    batch.*,
    round(100.0 * count(*) filter (where status = 'skipped') over () / count(*) over (), 1) as skipped_pct
from batch
