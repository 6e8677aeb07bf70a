"""GDELT DOC 2.0 API: news articles, volume and tone per configured country pair (best effort)."""
from flows.sources.base import Source
from flows.sources.gdelt_doc.connector import GdeltDocConnector, GdeltDocSettings
from flows.sources.gdelt_doc.load import LOAD_SPECS
from flows.sources.gdelt_doc.sample import generate

SOURCE = Source(
    name="gdelt_doc",
    summary="GDELT DOC 2.0 API: news articles, volume and tone per configured country pair (best effort)",
    settings=GdeltDocSettings,
    connector=GdeltDocConnector,
    load_specs=LOAD_SPECS,
    sample=generate,
    best_effort=True,
)
