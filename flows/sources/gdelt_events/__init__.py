"""GDELT 2.0 events export: 15-minute files of coded events between actors, filtered to the configured pairs."""
from flows.sources.base import Source
from flows.sources.gdelt_events.connector import KIND_MANIFEST, KIND_ZIP, GdeltEventsConnector, GdeltEventsSettings
from flows.sources.gdelt_events.load import LOAD_SPECS
from flows.sources.gdelt_events.sample import generate

SOURCE = Source(
    name="gdelt_events",
    summary="GDELT 2.0 events export: 15-minute files of coded events, kept for the configured country pairs",
    settings=GdeltEventsSettings,
    connector=GdeltEventsConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    unloaded_kinds=(KIND_MANIFEST, KIND_ZIP),
)
