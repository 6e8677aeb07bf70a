"""The GDELT sample recording: deterministic, small, self-consistent (manifest sizes and MD5s match
the zips), marked synthetic, shaped by the dated relations events (docs/sources/tariffs.md), and replayable
through the live connector code for any run date."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import pytest

from flows.config import load_config
from flows.sources.gdelt_events.connector import GdeltEventsConnector
from flows.http import HttpClient
from flows.landing import Lander
from flows.recording import ReplayTransport
from flows.sources.gdelt_doc import sample as doc_sample
from flows.sources.gdelt_events import sample as events_sample
from tests.conftest import sample_context


def _generate(config, out: Path) -> None:
    """Both GDELT samples, for the enabled GDELT sources."""
    for name, generator in (("gdelt_events", events_sample.generate), ("gdelt_doc", doc_sample.generate)):
        if config.sources[name].enabled:
            generator(sample_context(config, name, out))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("gdelt_sample")
    config = load_config(environ={})
    _generate(config, root / "a")
    return config, root


def _entries(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "index.jsonl").read_text().splitlines()]


def test_sample_is_deterministic(sample, tmp_path):
    config, root = sample
    _generate(config, tmp_path / "b")
    for source in ("gdelt_events", "gdelt_doc"):
        a, b = _entries(root / "a" / source), _entries(tmp_path / "b" / source)
        assert [e["key"] for e in a] == [e["key"] for e in b]
        for ea, eb in zip(a, b):
            assert (root / "a" / source / ea["body_file"]).read_bytes() == (tmp_path / "b" / source / eb["body_file"]).read_bytes()


def test_sample_is_small_synthetic_and_consistent_with_its_manifest(sample):
    config, root = sample
    rec = root / "a" / "gdelt_events"
    entries = {e["key"]: e for e in _entries(rec)}
    assert all(e["synthetic"] for e in entries.values())
    master = (rec / entries["masterfilelist.txt"]["body_file"]).read_text().splitlines()
    exports = [line.split() for line in master if line.endswith(".export.CSV.zip")]
    assert exports[0][2].endswith("20180115234500.export.CSV.zip")
    assert exports[-1][2].endswith("20260131234500.export.CSV.zip")
    rows = 0
    for size, md5, url in exports:
        body = (rec / entries[url.rsplit("/", 1)[-1]]["body_file"]).read_bytes()
        assert len(body) == int(size) and hashlib.md5(body).hexdigest() == md5
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            (member,) = zf.namelist()
            text = zf.read(member).decode()
        lines = text.splitlines()
        assert all(line.count("\t") == 60 for line in lines)
        rows += len(lines)
    assert 20_000 < rows < 50_000
    last = (rec / entries["lastupdate.txt"]["body_file"]).read_text().splitlines()
    assert last[0] == " ".join(exports[-1])


def _can_chn_rows(rec: Path, entries: dict, ts: str) -> list[list[str]]:
    body = (rec / entries[f"{ts}.export.CSV.zip"]["body_file"]).read_bytes()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        rows = [line.split("\t") for line in zf.read(zf.namelist()[0]).decode().splitlines()]
    return [r for r in rows if {r[7], r[17]} == {"CAN", "CHN"}]


def test_sample_follows_the_dated_relations_events(sample):
    config, root = sample
    rec = root / "a" / "gdelt_events"
    entries = {e["key"]: e for e in _entries(rec)}

    def conflict_share(ts: str) -> float:
        rows = _can_chn_rows(rec, entries, ts)
        return sum(r[29] in ("3", "4") for r in rows) / len(rows)

    # Meng Wanzhou's arrest (2018-12-01): conflict in the first half of December vs. November
    assert conflict_share("20181215234500") > conflict_share("20181115234500") + 0.3
    # 2021-09-24 releases and the 2026-01-16 Carney-Xi meeting: cooperation
    assert conflict_share("20210930234500") < conflict_share("20210831234500")
    assert conflict_share("20260115234500") < conflict_share("20251215234500")


def test_sample_replays_for_any_run_date(sample, tmp_path):
    config, root = sample
    src = config.sources["gdelt_events"]
    counts = []
    for run_date in (date(2026, 11, 28), date(2019, 5, 1)):
        connector = GdeltEventsConnector(config, src, HttpClient(src, ReplayTransport(root / "a")), run_date)
        (partition,) = connector.partitions()
        result = connector.extract(partition, Lander(tmp_path / str(run_date), "gdelt_events", str(run_date), "r"))
        assert result.ok and not any(k.startswith("skipped:") for k in result.state_updates)
        assert result.state_updates["watermark:export"] == "20260131234500"
        counts.append(sum(1 for f in result.files if f.kind == "gdelt_event"))
    assert counts[0] == counts[1] == 194  # two batches a month, 2018-01 .. 2026-01


def test_translingual_stream_is_optional_and_replays(tmp_path):
    cfg = tmp_path / "bilateral.toml"
    cfg.write_text('[countries]\nfocus = ["CAN", "CHN", "USA"]\n[sources.gdelt_events]\ntranslingual = true\n'
                   '[sources.gdelt_doc]\nenabled = false\n')
    config = load_config(cfg, environ={})
    _generate(config, tmp_path / "rec")
    src = config.sources["gdelt_events"]
    connector = GdeltEventsConnector(config, src, HttpClient(src, ReplayTransport(tmp_path / "rec")), date(2026, 11, 28))
    parts = connector.partitions()
    assert [p.key for p in parts] == ["export", "translation"]
    lander = Lander(tmp_path / "landing", "gdelt_events", "2026-11-28", "r")
    result = connector.extract(parts[1], lander)
    csvs = [f for f in result.files if f.kind == "gdelt_event"]
    assert len(csvs) == 97 and all(f.load_params["stream"] == "translation" for f in csvs)
    assert Path(csvs[0].path).name.endswith(".CSV")
    assert result.state_updates["watermark:translation"] == "20260115234500"
    assert not (tmp_path / "rec" / "gdelt_doc").exists()
    # the default config does not ask for the translingual stream
    default = load_config(environ={})
    assert [p.key for p in GdeltEventsConnector(default, default.sources["gdelt_events"], None,
                                                date(2026, 11, 28)).partitions()] == ["export"]
