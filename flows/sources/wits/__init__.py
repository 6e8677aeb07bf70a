"""WITS TRAINS: MFN and preferential applied tariffs by HS6 line, reporter, partner and year."""
from flows.sources.base import Source
from flows.sources.wits.connector import WitsConnector, WitsSettings
from flows.sources.wits.load import LOAD_SPECS
from flows.sources.wits.sample import generate

SOURCE = Source(
    name="wits",
    summary="WITS TRAINS: MFN and preferential applied tariffs by HS6 line, reporter, partner and year",
    settings=WitsSettings,
    connector=WitsConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
)
