"""GDELT 2.0 events export: 15-minute files of coded events between actors, filtered to the configured pairs."""
from datetime import timedelta

from flows.sources.base import Cadence, Source
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
    # a file every 15 minutes, online minutes later; pulled nightly, so a missed night (+12 h) is stale
    cadence=Cadence("15 minutes", "about 15 minutes after the quarter hour", timedelta(hours=36)),
)
