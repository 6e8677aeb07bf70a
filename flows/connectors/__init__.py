"""Source connectors, by config name. Adding a source: write its Connector subclass, add it here,
add its load specs to flows/loaders and its sample generator to flows/samplegen
(docs/CONTRIBUTING-SOURCES.md)."""
from __future__ import annotations

from flows.connectors.base import Connector, ExtractResult, Partition
from flows.connectors.comtrade import ComtradeConnector
from flows.connectors.gdelt_doc import GdeltDocConnector
from flows.connectors.gdelt_events import GdeltEventsConnector
from flows.connectors.wits import WitsConnector
from flows.connectors.worldbank import WorldBankConnector

CONNECTORS: dict[str, type[Connector]] = {
    WorldBankConnector.name: WorldBankConnector,
    ComtradeConnector.name: ComtradeConnector,
    WitsConnector.name: WitsConnector,
    GdeltEventsConnector.name: GdeltEventsConnector,
    GdeltDocConnector.name: GdeltDocConnector,
}

__all__ = ["CONNECTORS", "Connector", "ExtractResult", "Partition"]
