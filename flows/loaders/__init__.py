"""Load specs of every source, by landed-file kind."""
from flows.loaders import comtrade, worldbank
from flows.loaders import gdelt  # noqa: E402
from flows.loaders.base import LoadSpec
from flows.loaders import wits  # noqa: E402

LOAD_SPECS: dict[str, LoadSpec] = {spec.kind: spec for spec in [*gdelt.LOAD_SPECS, *comtrade.LOAD_SPECS, *worldbank.LOAD_SPECS, *wits.LOAD_SPECS]}

__all__ = ["LOAD_SPECS", "LoadSpec"]
