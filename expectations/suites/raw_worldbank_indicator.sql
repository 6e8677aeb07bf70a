-- World Bank records loaded by this run (empty on a re-run that loaded nothing new).
select *
from raw.worldbank_indicator
where _run_id = '{run_id}'
