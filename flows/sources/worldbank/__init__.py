"""World Bank Indicators API v2: tariff averages and trade totals per country and year."""
from flows.sources.base import Source
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
)
