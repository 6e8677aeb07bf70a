-- WITS TRAINS tariff observations loaded by this run or by a run since the last successful one ({batch_runs}: rows a failed night left are validated before any night publishes them) (empty on a re-run that loaded nothing new).
select *
from raw.wits_trn_tariff
where _run_id in {batch_runs}
