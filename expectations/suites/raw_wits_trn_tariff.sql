-- WITS TRAINS tariff observations loaded by this run (empty on a re-run that loaded nothing new).
select *
from raw.wits_trn_tariff
where _run_id = '{run_id}'
