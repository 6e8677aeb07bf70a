-- The relations index of the pair by month (both directions together), with the month's change and volume.
-- Reads marts.relations_monthly (pair = the two codes in alphabetical order, direction 'both').
select month, relations_index, relations_index_change, events, net_cooperation_share,
       goldstein_mention_weighted, is_sample
from marts.relations_monthly
where pair = least($a, $b) || '-' || greatest($a, $b) and direction = 'both'
order by month
