"""UN Comtrade API v1: monthly and annual merchandise trade by reporter, partner, flow and HS code."""
from datetime import timedelta

from flows.sources.base import Cadence, Source
from flows.sources.comtrade.connector import SECRET_PARAMS, ComtradeConnector, ComtradeSettings
from flows.sources.comtrade.load import LOAD_SPECS
from flows.sources.comtrade.sample import generate


def _latest_period(state: dict[str, str]) -> str | None:
    """The latest monthly period loaded for any reporter (state ``M:<iso3>:<year>`` = loaded periods),
    else the latest annual one."""
    for freq in ("M", "A"):
        periods = [p for k, v in state.items() if k.startswith(f"{freq}:") for p in v.split(",") if p]
        if periods:
            return max(periods)
    return None


SOURCE = Source(
    name="comtrade",
    summary="UN Comtrade API v1: merchandise trade by reporter, partner, flow and HS code, monthly and annual",
    settings=ComtradeSettings,
    connector=ComtradeConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    secret_params=SECRET_PARAMS,
    # monthly data, reported 1 to 3 months after the month (about 2 typically); a reporter's release
    # lands any night, so a month (+5 days) without a successful load may have missed one
    cadence=Cadence("month", "about 2 months after the month (1 to 3)", timedelta(days=35)),
    watermark=_latest_period,
)
