"""World Bank Indicators API v2: tariff averages and trade totals per country and year."""
from datetime import timedelta

from flows.sources.base import Cadence, Source
from flows.sources.worldbank.connector import WorldBankConnector, WorldBankSettings
from flows.sources.worldbank.load import LOAD_SPECS
from flows.sources.worldbank.sample import generate

SOURCE = Source(
    name="worldbank",
    summary="World Bank Indicators API v2: tariff averages and trade totals per country and year",
    settings=WorldBankSettings,
    connector=WorldBankConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    # yearly values, about 6 months after the year; the API is refreshed several times a year, so a
    # month (+5 days) without a successful load may have missed a refresh
    cadence=Cadence("year", "about 6 months after the year", timedelta(days=35)),
)
