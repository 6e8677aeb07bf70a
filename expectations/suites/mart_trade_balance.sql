-- Published trade balances, with the identity errors, whether a large year-on-year change is
-- flagged, and whether both directions of every pair of reporters are present.
with mart as (
    select * from marts.trade_balance
),

reporters as (
    select distinct reporter_iso3 as iso3 from mart
),

pairs as (
    select distinct reporter_iso3, partner_iso3 from mart
)

select
    mart.*,
    abs(balance_usd - (exports_usd - imports_usd)) as balance_identity_error,
    abs(total_trade_usd - (exports_usd + imports_usd)) as total_identity_error,
    coalesce(
        is_yoy_outlier or greatest(abs(coalesce(exports_yoy_pct, 0)), abs(coalesce(imports_yoy_pct, 0))) <= 50,
        true
    ) as yoy_plausible_or_flagged,
    (
        mart.partner_iso3 not in (select iso3 from reporters)
        or exists (
            select 1 from pairs as p
            where p.reporter_iso3 = mart.partner_iso3 and p.partner_iso3 = mart.reporter_iso3
        )
    ) as both_directions_present
from mart
