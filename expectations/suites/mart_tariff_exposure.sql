-- Published tariff_exposure, with covered trade minus total trade (base and actual; never above
-- 0 beyond rounding) and the months after the base year (never negative).
select
    importer_iso3,
    exporter_iso3,
    month,
    hs_code,
    hs_level,
    base_year,
    base_trade_usd,
    covered_base_trade_usd,
    avg_additional_tariff_pct,
    avg_additional_tariff_covered_pct,
    estimated_duty_usd,
    actual_trade_usd,
    actual_covered_trade_usd,
    covered_base_trade_usd - base_trade_usd * (1 + 1e-9) as covered_minus_total_base_usd,
    actual_covered_trade_usd - actual_trade_usd * (1 + 1e-9) as covered_minus_total_actual_usd,
    year(month) - base_year as years_after_base,
    is_sample
from marts.tariff_exposure
