-- A heading or subheading never exceeds its chapter (same reporter, partner, period, flow).
with flows as (
    select * from {{ ref('int_trade__flows') }}
),

products as (
    select * from flows where hs_level in ('heading', 'subheading')
),

chapters as (
    select * from flows where hs_level = 'chapter'
)

select p.reporter_iso3, p.partner_iso3, p.period_start, p.flow_code, p.cmd_code, p.value_usd, c.value_usd as chapter_usd
from products as p
join chapters as c
    on c.reporter_iso3 = p.reporter_iso3 and c.partner_iso3 = p.partner_iso3 and c.period_type = p.period_type
   and c.period_start = p.period_start and c.flow_code = p.flow_code and c.cmd_code = left(p.cmd_code, 2)
where p.value_usd > c.value_usd * 1.0001 + 1
