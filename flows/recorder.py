"""``bilateral record``: fetch tonight's requests live and write them as a replayable recording."""
from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from flows.config import Config
from flows.connectors import CONNECTORS
from flows.errors import SourceUnavailable
from flows.http import HttpClient
from flows.landing import Lander
from flows.recording import RecordingTransport


def record(config: Config, out_dir: Path, sources: list[str] | None, run_date: date) -> dict[str, int]:
    """Every response (error bodies included) goes into ``out_dir/<source>/``; returns counts."""
    counts: dict[str, int] = {}
    transport = RecordingTransport(out_dir)
    with tempfile.TemporaryDirectory(prefix="bilateral-record-") as scratch:
        for name in sources or config.enabled_sources:
            src, cls = config.sources[name], CONNECTORS[name]
            client = HttpClient(src, transport, secret_params=cls.secret_params)
            connector = cls(config, src, client, run_date)
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
