-- Published relations_key_events: the top stories per pair and week.
select * from marts.relations_key_events
