"""GDELT DOC 2.0 API: news articles, volume and tone per configured country pair (best effort)."""
from datetime import timedelta

from flows.sources.base import Cadence, Source
from flows.sources.gdelt_doc.connector import GdeltDocConnector, GdeltDocSettings
from flows.sources.gdelt_doc.load import LOAD_SPECS
from flows.sources.gdelt_doc.sample import generate


def _oldest_pair_day(state: dict[str, str]) -> str | None:
    """The day the least recently fetched pair x mode was last fetched (state ``last_success:*``)."""
    days = [v for k, v in state.items() if k.startswith("last_success:") and v]
    return min(days) if days else None


SOURCE = Source(
    name="gdelt_doc",
    summary="GDELT DOC 2.0 API: news articles, volume and tone per configured country pair (best effort)",
    settings=GdeltDocSettings,
    connector=GdeltDocConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    best_effort=True,
    # articles indexed every 15 minutes; pulled nightly, so a missed night (+12 h) is stale
    cadence=Cadence("15 minutes", "within the hour", timedelta(hours=36)),
    watermark=_oldest_pair_day,
)
