-- The stories behind the relations index's largest moves: the 12 months whose index changed most (up or
-- down), each with its most-mentioned story and a link to the source article.
-- Reads marts.relations_monthly and marts.relations_key_events (pair = the codes in alphabetical order).
with pair_key as (
    select least($a, $b) || '-' || greatest($a, $b) as pair
),
moves as (
    select month, relations_index, relations_index_change
    from marts.relations_monthly join pair_key using (pair)
    where direction = 'both' and relations_index_change is not null
    order by abs(relations_index_change) desc, month
    limit 12
),
stories as (
    select date_trunc('month', event_date)::date as month, event_date, event_description,
           actor1_name, actor2_name, mentions, source_url, is_sample,
           row_number() over (partition by date_trunc('month', event_date)
                              order by mentions desc, rank_in_week, event_date, global_event_id) as rank_in_month
    from marts.relations_key_events join pair_key using (pair)
)
select moves.month, moves.relations_index, moves.relations_index_change, stories.event_date,
       stories.event_description, stories.actor1_name, stories.actor2_name, stories.mentions,
       stories.source_url, stories.is_sample
from moves join stories on stories.month = moves.month and stories.rank_in_month = 1
order by moves.month
