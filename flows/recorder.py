"""``bilateral record``: fetch tonight's requests live and write them as a replayable recording."""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from flows.config import Config
from flows.errors import SourceUnavailable
from flows.http import HttpClient
from flows.landing import Lander
from flows.recording import RecordingTransport
from flows.sources import discover_sources


def record(config: Config, out_dir: Path, sources: list[str] | None, run_date: date) -> dict[str, int]:
    """Every response (error bodies included) goes into ``out_dir/<source>/``; returns counts."""
    counts: dict[str, int] = {}
    known = discover_sources()
    transport = RecordingTransport(out_dir)
    with tempfile.TemporaryDirectory(prefix="bilateral-record-") as scratch:
        for name in sources or config.enabled_sources:
            settings, source = config.sources[name], known[name]
            client = HttpClient(settings, transport, secret_params=source.secret_params)
            connector = source.connector(config, settings, client, run_date)
            lander = Lander(Path(scratch), name, run_date.isoformat(), "record")
            for partition in connector.partitions():
                try:
                    connector.extract(partition, lander)
                except SourceUnavailable:
                    raise
                except Exception:  # noqa: BLE001 - error answers are worth recording too
                    pass
            counts[name] = client.requests_sent
    return counts
