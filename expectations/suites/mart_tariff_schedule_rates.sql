-- Published tariff_schedule rates, with the interval length and the residual of the stacking
-- formula effective = coalesce(total, MFN) + additional.
select
    importer_iso3,
    exporter_iso3,
    hs6,
    valid_from,
    valid_to,
    additional_rate_pct,
    effective_rate_pct,
    effective_rate_usmca_qualifying_pct,
    in_quota_rate_pct,
    mfn_rate_pct,
    date_diff('day', valid_from, valid_to) as interval_days,
    effective_rate_pct - coalesce(total_rate_pct, mfn_rate_pct) - additional_rate_pct as stacking_residual,
    is_sample
from marts.tariff_schedule
