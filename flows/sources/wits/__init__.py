"""WITS TRAINS: MFN and preferential applied tariffs by HS6 line, reporter, partner and year."""
from datetime import timedelta

from flows.sources.base import Cadence, Source
from flows.sources.wits.connector import WitsConnector, WitsSettings
from flows.sources.wits.load import LOAD_SPECS
from flows.sources.wits.sample import generate


def _latest_year(state: dict[str, str]) -> str | None:
    """The latest year any tariff schedule was loaded for (state ``loaded:<reporter>:<partner>:<year>``)."""
    years = [k.rsplit(":", 1)[1] for k in state if k.startswith("loaded:")]
    return max(years) if years else None


SOURCE = Source(
    name="wits",
    summary="WITS TRAINS: MFN and preferential applied tariffs by HS6 line, reporter, partner and year",
    settings=WitsSettings,
    connector=WitsConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    # yearly tariff schedules, 1 to 2 years after the year; TRAINS is refreshed a few times a year,
    # so a quarter (+5 days) without a successful load may have missed one
    cadence=Cadence("year", "1 to 2 years after the year", timedelta(days=95)),
    watermark=_latest_year,
)
