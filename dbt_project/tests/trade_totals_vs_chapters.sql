-- Comtrade's TOTAL vs the sum of its HS chapters, per reporter x partner x period x flow, within 2%.
-- Why they may differ at all: TOTAL includes trade a reporter keeps confidential or cannot allocate
-- to a chapter (and Comtrade's chapter 99 is not always used for it), and values are rounded per
-- record. Only flows where chapters were fetched are compared (chapters are fetched for partners
-- that are configured countries and flows M and X).
with flows as (
    select * from {{ ref('int_trade__flows') }}
),

totals as (
    select reporter_iso3, partner_iso3, period_type, period_start, flow_code, value_usd as total_usd
    from flows where cmd_code = 'TOTAL'
),

chapters as (
    select reporter_iso3, partner_iso3, period_type, period_start, flow_code, sum(value_usd) as chapters_usd
    from flows where hs_level = 'chapter'
    group by all
)

select t.*, c.chapters_usd, 100.0 * (c.chapters_usd - t.total_usd) / nullif(t.total_usd, 0) as diff_pct
from totals as t
join chapters as c using (reporter_iso3, partner_iso3, period_type, period_start, flow_code)
where abs(c.chapters_usd - t.total_usd) > 0.02 * t.total_usd
