"""Load specs of every source, by landed-file kind."""
from flows.loaders import comtrade, gdelt, wits, worldbank
from flows.loaders.base import LoadSpec

LOAD_SPECS: dict[str, LoadSpec] = {
    spec.kind: spec
    for spec in [*worldbank.LOAD_SPECS, *comtrade.LOAD_SPECS, *wits.LOAD_SPECS, *gdelt.LOAD_SPECS]
}

__all__ = ["LOAD_SPECS", "LoadSpec"]
