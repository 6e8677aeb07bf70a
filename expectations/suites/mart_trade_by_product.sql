-- Published trade by product, with the balance identity error and whether a large year-on-year
-- change is flagged.
select
    *,
    abs(balance_usd - (exports_usd - imports_usd)) as balance_identity_error,
    coalesce(
        is_yoy_outlier or greatest(abs(coalesce(exports_yoy_pct, 0)), abs(coalesce(imports_yoy_pct, 0))) <= 75,
        true
    ) as yoy_plausible_or_flagged
from marts.trade_by_product
