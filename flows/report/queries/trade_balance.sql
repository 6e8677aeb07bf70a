-- Trade between $a and $b by month, as each side declared it and as reconciled.
-- Reads marts.trade_balance (reporter $a, partner $b, monthly rows); one row per month x measure x declaration:
--   measure     'balance' ($a's exports to $b minus its imports from $b), 'exports' ($a to $b), 'imports' ($b to $a)
--   declaration "<a> declared" ($a's own declarations), "mirror: <b> declared" ($b's declarations of the same
--               flows), 'reconciled' (one value per flow from marts.trade_reconciled's method)
with monthly as (
    select period_start as month, exports_usd, imports_usd, balance_usd,
           mirror_exports_usd, mirror_imports_usd,
           reconciled_exports_usd, reconciled_imports_usd, reconciled_balance_usd, is_sample
    from marts.trade_balance
    where reporter_iso3 = $a and partner_iso3 = $b and period_type = 'monthly'
),
declarations as (
    select month, $a || ' declared' as declaration, balance_usd as balance, exports_usd as exports,
           imports_usd as imports, is_sample from monthly
    union all
    select month, 'mirror: ' || $b || ' declared', mirror_exports_usd - mirror_imports_usd,
           mirror_exports_usd, mirror_imports_usd, is_sample from monthly
    union all
    select month, 'reconciled', reconciled_balance_usd, reconciled_exports_usd, reconciled_imports_usd,
           is_sample from monthly
),
long as (
    select month, 'balance' as measure, declaration, balance as value_usd, is_sample from declarations
    union all
    select month, 'exports', declaration, exports, is_sample from declarations
    union all
    select month, 'imports', declaration, imports, is_sample from declarations
)
select month, measure, declaration, value_usd, is_sample
from long
where value_usd is not null
order by measure, declaration, month
