"""UN Comtrade API v1: monthly and annual merchandise trade by reporter, partner, flow and HS code."""
from flows.sources.base import Source
from flows.sources.comtrade.connector import SECRET_PARAMS, ComtradeConnector, ComtradeSettings
from flows.sources.comtrade.load import LOAD_SPECS
from flows.sources.comtrade.sample import generate

SOURCE = Source(
    name="comtrade",
    summary="UN Comtrade API v1: merchandise trade by reporter, partner, flow and HS code, monthly and annual",
    settings=ComtradeSettings,
    connector=ComtradeConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    secret_params=SECRET_PARAMS,
)
