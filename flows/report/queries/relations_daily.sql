-- GDELT events between the pair by day (both directions together): volume and net cooperation share.
-- Reads marts.relations_daily (pair = the two codes in alphabetical order, direction 'both').
select day, events, net_cooperation_share, goldstein_mention_weighted, is_sample
from marts.relations_daily
where pair = least($a, $b) || '-' || greatest($a, $b) and direction = 'both'
order by day
