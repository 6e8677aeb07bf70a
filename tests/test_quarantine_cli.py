"""`bilateral quarantine`: users see what was refused and act on it (list, release, drop), on a real
warehouse built by the real loader; bad requests exit 2 and change nothing."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config import load_config
from flows.landing import LandedFile
from flows.loading import load_results
from flows.sources.base import ExtractResult
from flows.sources.gdelt_events.load import EXPORT_COLUMNS
from flows.warehouse import ensure_schemas


def _landed(tmp: Path, name: str, body: bytes, kind: str, source: str, params: dict | None = None) -> LandedFile:
    path = tmp / "landing" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return LandedFile("night1", source, kind, str(path), "u", 200, len(body), hashlib.sha256(body).hexdigest(),
                      "2026-11-28T02:00:00+00:00", "replay", False, load_params=params or {})


def _row(iso3, year, value):
    return {"indicator": {"id": "NY.GDP.MKTP.CD", "value": "GDP"}, "country": {"id": "XX", "value": iso3},
            "countryiso3code": iso3, "date": str(year), "value": value, "unit": "", "obs_status": "", "decimal": 0}


@pytest.fixture
def warehouse(write_config, tmp_path):
    cfg_path = write_config()
    config = load_config(cfg_path)
    ensure_schemas(config.duckdb_path)
    many = [_row("CAN", 1900 + i, float(i)) for i in range(100)] + [_row("CAN", 2020, "2.5%")]
    files = [_landed(tmp_path, "wb1.json", json.dumps([{"page": 1, "pages": 2}, many]).encode(), "worldbank_indicator",
                     "worldbank"),
             _landed(tmp_path, "wb2.json", json.dumps([{"page": 2, "pages": 2}, [_row("USA", 2021, "n/a")]]).encode(),
                     "worldbank_indicator", "worldbank")]
    good = "\t".join(["7", "20250312", "202503", "2025", "2025.19"] + ["CAN"] * 3 + [""] * 9 + ["CHN"] * 1
                     + [""] * 7 + ["1", "042", "042", "04", "1", "1.9", "2", "1", "2", "-1.5"] + [""] * 24
                     + ["20250312141500", "https://example.com/x"])
    assert len(good.split("\t")) == len(EXPORT_COLUMNS)
    csv = ("\n".join([good.replace("7", str(n), 1) for n in range(7, 120)] + ["short\tline"]) + "\n").encode()
    gdelt = _landed(tmp_path, "e.CSV", csv, "gdelt_event", "gdelt_events",
                    {"stream": "export", "pairs": ["CAN-CHN"], "countries": ["CAN", "CHN"]})
    report = load_results(config.duckdb_path, "night1", [ExtractResult("worldbank", "ind", "p", files=files),
                                                         ExtractResult("gdelt_events", "export", "i", files=[gdelt])],
                          run_date=date(2026, 11, 28))
    assert report.quarantined_by_source == {"worldbank": 1, "gdelt_events": 1} and len(report.failures) == 1
    return cfg_path, config


def cli(*args):
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], capture_output=True, text=True, timeout=120)


def _listed(cfg, *extra) -> list[dict]:
    out = cli("quarantine", "--format", "json", "--config", str(cfg), *extra)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_list_shows_every_refused_record_and_file_with_rule_and_reason(warehouse):
    cfg, _ = warehouse
    rows = {(r["source"], r["rule"]): r for r in _listed(cfg)}
    assert set(rows) == {("worldbank", "wrong_type"), ("worldbank", "file_refused"), ("gdelt_events", "malformed_line")}
    assert rows[("worldbank", "wrong_type")]["record_no"] == 101 and '"2.5%"' in rows[("worldbank", "wrong_type")]["problem"]
    assert rows[("worldbank", "file_refused")]["record_no"] is None and "1 of 1 records" in rows[("worldbank", "file_refused")]["problem"]
    assert rows[("gdelt_events", "malformed_line")]["raw_record"] == "short\tline"
    assert [r["rule"] for r in _listed(cfg, "--source", "gdelt_events")] == ["malformed_line"]
    assert _listed(cfg, "--rule", "out_of_domain") == []
    table = cli("quarantine", "--config", str(cfg))
    assert table.returncode == 0 and "(3 rows)" in table.stdout


def test_release_re_admits_a_record_and_a_refused_file_and_drop_discards(warehouse):
    cfg, config = warehouse
    rows = {(r["source"], r["rule"]): r["quarantine_id"] for r in _listed(cfg)}
    out = cli("quarantine", "release", rows[("worldbank", "file_refused")], "--config", str(cfg))
    assert out.returncode == 0 and "loaded into raw.worldbank_indicator" in out.stdout, out.stderr
    out = cli("quarantine", "drop", rows[("worldbank", "wrong_type")], "--config", str(cfg))
    assert out.returncode == 0 and "dropped" in out.stdout
    with duckdb.connect(str(config.duckdb_path), read_only=True) as con:
        statuses = dict(con.execute("select rule, status from quarantine.worldbank_indicator").fetchall())
        released_file_records = con.execute("select count(*) from raw.worldbank_indicator where _landed_file like '%wb2.json'").fetchone()[0]
    assert statuses["file_refused"] == "released" and statuses["wrong_type"] in ("dropped", "quarantined")
    assert released_file_records == 0, "the refused file's only record does not parse: it is quarantined on its own, not coerced"
    assert any(r["rule"] == "wrong_type" and r["landed_file"].endswith("wb2.json") for r in _listed(cfg)), \
        "the released file's bad record is quarantined one by one"
    assert [r["status"] for r in _listed(cfg, "--status", "dropped")] == ["dropped"]


def test_bad_requests_exit_2_and_change_nothing(warehouse):
    cfg, config = warehouse
    before = _listed(cfg, "--status", "any")
    malformed = next(r["quarantine_id"] for r in before if r["rule"] == "malformed_line")
    out = cli("quarantine", "release", malformed, "--config", str(cfg))
    assert out.returncode == 2 and "does not parse" in out.stderr and "drop it" in out.stderr
    out = cli("quarantine", "drop", "nosuchid0000", "--config", str(cfg))
    assert out.returncode == 2 and "no quarantined record with id nosuchid0000" in out.stderr
    out = cli("quarantine", "release", "--config", str(cfg))
    assert out.returncode == 2 and "needs at least one ID" in out.stderr
    assert _listed(cfg, "--status", "any") == before
