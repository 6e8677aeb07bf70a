"""Bad upstream data through the whole night (real connectors on a replay, real DuckDB, dbt and GX):
one bad record costs one record, not the night. A GDELT file with a Goldstein of 42.0, a GDELT 1.0
row and a garbage line loads its valid events and the night publishes; a Comtrade breakdown row
that passes the load contract but fails the raw-batch suite is refused, quarantined, kept out of
the marts tonight and on every later night."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly

pytestmark = [pytest.mark.slow, pytest.mark.reliability]  # two whole nights with bad data: reliability suite (CI)

BATCH = "20220315234500"  # a half-month batch of the GDELT sample


def _entries(source_dir: Path) -> dict[str, dict]:
    return {e["key"]: e for e in map(json.loads, (source_dir / "index.jsonl").read_text().splitlines())}


def _hostile_replay(sample: Path, target: Path) -> None:
    shutil.copytree(sample, target)
    gdelt = target / "gdelt_events"
    entries = _entries(gdelt)
    zip_path = gdelt / entries[f"{BATCH}.export.CSV.zip"]["body_file"]
    with zipfile.ZipFile(zip_path) as zf:
        (member,) = zf.namelist()
        lines = zf.read(member).decode().splitlines()
    row = next(line.split("\t") for line in lines if {line.split("\t")[7], line.split("\t")[17]} == {"CAN", "CHN"})
    hostile = [*row]
    hostile[0], hostile[30] = "999000001", "42.0"  # Goldstein 42.0: outside [-10, 10]
    gdelt1 = [v for i, v in enumerate(row) if i not in (39, 47, 55)]  # the 58-field GDELT 1.0 layout
    gdelt1[0] = "999000002"
    # a real 15-minute file is ~1,700 events: pad the sample's to a few hundred, so that 3 bad records
    # are bad records (0.8%), not format drift (sources.gdelt_events.max_bad_record_share, 1%)
    padding = ["\t".join([str(999100000 + i), *line.split("\t")[1:]]) for i, line in enumerate(lines * 2)]
    body = "\n".join([*lines, *padding, "\t".join(hostile), "\t".join(gdelt1), "<html>garbage</html>"]) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, body)
    new = buf.getvalue()
    old = zip_path.read_bytes()
    zip_path.chmod(0o644)
    zip_path.write_bytes(new)
    master = gdelt / entries["masterfilelist.txt"]["body_file"]
    text = master.read_text().replace(f"{len(old)} {hashlib.md5(old).hexdigest()}", f"{len(new)} {hashlib.md5(new).hexdigest()}")
    master.write_text(text)
    # Comtrade: one breakdown record (partner2 Hong Kong, a transport mode) in an annual answer
    comtrade = target / "comtrade"
    key, entry = next((k, e) for k, e in _entries(comtrade).items() if "/C/A/" in k and "period=2022&" in k and "cmdCode=TOTAL" in k)
    answer = comtrade / entry["body_file"]
    doc = json.loads(answer.read_bytes())
    breakdown = {**doc["data"][0], "partner2Code": 344, "motCode": 2100, "primaryValue": 123456.0}
    doc["data"].append(breakdown)
    doc["count"] = len(doc["data"])
    answer.write_bytes(json.dumps(doc).encode())


def test_bad_records_cost_one_record_and_a_refused_batch_never_publishes(sample_run, clone_warehouse, tmp_path):
    run = clone_warehouse(sample_run)
    [sample] = [p for p in (run.warehouse_dir / "sample").iterdir() if p.is_dir() and not p.name.endswith(".tmp")]
    replay = tmp_path / "hostile"
    _hostile_replay(sample, replay)
    # a full refresh re-fetches the history the clone has already loaded: only the changed answers load
    summary = nightly(mode="replay", replay_dir=str(replay), config_path=str(run.config_path), full_refresh=True)
    assert summary.status == "success" and (summary.published or summary.publish_unchanged), summary.message
    assert summary.quarantined == {"gdelt_events": 3, "comtrade": 1}
    con = duckdb.connect(str(run.db_path), read_only=True)
    gdelt = con.execute("select rule, problem from quarantine.gdelt_event where status = 'quarantined' order by record_no").fetchall()
    refused = con.execute("select rule, refused_by, status from quarantine.comtrade_record").fetchall()
    in_staging = con.execute("select count(*) from staging.stg_gdelt_events__events "
                             "where global_event_id in (999000001, 999000002)").fetchone()[0]
    breakdown_in_staging = con.execute("select count(*) from staging.stg_comtrade__records where partner2_code = 344").fetchone()[0]
    con.close()
    assert [r[0] for r in gdelt] == ["out_of_domain", "malformed_line", "malformed_line"]
    assert "GoldsteinScale 42.0" in gdelt[0][1] and gdelt[1][1] == "expected 61 fields, found 58"
    assert refused == [("refused_by_validation", "validation: raw_comtrade / expect_column_values_to_be_in_set (partner2Code)",
                        "quarantined")]
    assert in_staging == 0 and breakdown_in_staging == 0, "refused records never reach a model"
    with duckdb.connect(str(run.published_path), read_only=True) as pub:
        assert pub.execute("select count(*) from marts.relations_key_events where goldstein_scale > 10").fetchone()[0] == 0

    # the next night (nothing new upstream) publishes without them again: refused means refused
    again = nightly(mode="replay", replay_dir=str(replay), config_path=str(run.config_path))
    assert again.status == "success" and again.quarantined == {}
    con = duckdb.connect(str(run.db_path), read_only=True)
    assert con.execute("select count(*) from staging.stg_comtrade__records where partner2_code = 344").fetchone()[0] == 0
    assert con.execute("select count(*) from quarantine.comtrade_record where status = 'quarantined'").fetchone()[0] == 1
    con.close()
