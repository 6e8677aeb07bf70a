"""Registry rules: a bad registry row (unknown HS code, reversed dates, out-of-range rate, no source,
overlap within a measure) stops the dbt build before anything downstream, naming row and field;
the GX registry suite reports the same rows. Runs dbt on a copy of the project (registry models only)."""
from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
DBT_PROJECT_DIR, EXPECTATIONS_DIR = PROJECT_ROOT / "dbt_project", PROJECT_ROOT / "expectations"

SELECT = ["tariff_measures_registry", "comtrade_hs_codes", "comtrade_hs_sections", "tariff_product_lists",
          "tariff_hs6_universe", "dim_product", "stg_tariffs__product_lists", "stg_tariffs__hs6_universe",
          "stg_tariffs__measures_registry", "int_tariffs__hs_codes",
          "int_tariffs__registry_tokens", "int_tariffs__registry_hs6", "int_tariffs__registry_problems",
          "int_tariffs__registry", "tariff_measures_registry_snapshot"]


def _registry_rows() -> tuple[list[str], list[dict]]:
    with (DBT_PROJECT_DIR / "seeds" / "tariff_measures_registry.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def _good_row(**over) -> dict:
    row = {"row_id": "", "measure_id": "TEST-M", "imposing_iso3": "CAN", "target_iso3": "CHN", "instrument": "surtax",
           "hs_codes": "120510", "hs_excluded": "", "rate_pct": "10", "rate_type": "ad_valorem_additional",
           "replaces_measures": "", "exemption": "", "announced_date": "2025-01-01", "effective_date": "2025-02-01",
           "end_date": "", "confidence": "S", "source_publisher": "Test publisher", "source_ref": "Test document",
           "notes": ""}
    row.update(over)
    return row


def _run_registry(tmp_path: Path, extra_rows: list[dict], edit=None) -> tuple[subprocess.CompletedProcess, Path]:
    # a minimal copy of the project: the registry's seeds and models only (parsing stays fast)
    project = tmp_path / "dbt_project"
    shutil.rmtree(project, ignore_errors=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DBT_PROJECT_DIR / name, project / name)
    for folder in ("macros", "tests/generic", "models/staging/tariffs"):
        shutil.copytree(DBT_PROJECT_DIR / folder, project / folder)
    (project / "seeds").mkdir()
    for name in ("_seeds.yml", "tariff_wits_countries.csv", "comtrade_hs_codes.csv", "comtrade_hs_sections.csv",
                 "tariff_product_lists.csv", "tariff_hs6_universe.csv", "tariff_usmca_shares.csv"):
        shutil.copy(DBT_PROJECT_DIR / "seeds" / name, project / "seeds" / name)
    (project / "models/marts/trade").mkdir(parents=True)
    shutil.copy(DBT_PROJECT_DIR / "models/marts/trade/dim_product.sql", project / "models/marts/trade/dim_product.sql")
    (project / "models/intermediate/tariffs").mkdir(parents=True)
    shutil.copytree(DBT_PROJECT_DIR / "snapshots", project / "snapshots")
    for model in SELECT[SELECT.index("int_tariffs__hs_codes"):-1]:
        shutil.copy(DBT_PROJECT_DIR / "models/intermediate/tariffs" / f"{model}.sql",
                    project / "models/intermediate/tariffs" / f"{model}.sql")
    fields, rows = _registry_rows()
    if edit:
        rows = [edit(dict(r)) for r in rows]
    with (project / "seeds" / "tariff_measures_registry.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + extra_rows)
    db = tmp_path / "registry.duckdb"
    # dbt in-process (as flows/transform.py runs it outside Prefect): no interpreter start per run
    from flows.transform import release_duckdb
    from dbt.cli.main import dbtRunner

    saved = os.environ.get("BILATERAL_DUCKDB")
    os.environ["BILATERAL_DUCKDB"] = str(db)
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            result = dbtRunner().invoke(["build", "--project-dir", str(project), "--profiles-dir", str(project),
                                        "--target-path", str(project / "target"), "--log-path", str(project / "logs"),
                                        "--select", *SELECT])
    finally:
        release_duckdb()
        if saved is None:
            os.environ.pop("BILATERAL_DUCKDB", None)
        else:
            os.environ["BILATERAL_DUCKDB"] = saved
    messages = [str(getattr(r, "message", "") or "") for r in (getattr(result, "result", None) or [])]
    proc = subprocess.CompletedProcess([], 0 if result.success else 1, buffer.getvalue() + "\n".join(messages), "")
    return proc, db


def test_bad_registry_rows_stop_the_build_naming_row_and_field(tmp_path):
    bad = [
        _good_row(row_id="BAD-HS-1", measure_id="BAD-HS", hs_codes="120510;0107"),
        _good_row(row_id="BAD-DATES-1", measure_id="BAD-DATES", effective_date="2025-05-01", end_date="2025-04-01"),
        _good_row(row_id="BAD-RATE-1", measure_id="BAD-RATE", rate_pct="250"),
        _good_row(row_id="BAD-SOURCE-1", measure_id="BAD-SOURCE", source_publisher="", source_ref=""),
        _good_row(row_id="BAD-OVERLAP-1", measure_id="CAN-CHN-EV-SURTAX", hs_codes="870380", rate_pct="50",
                  announced_date="2024-12-01", effective_date="2025-01-01"),
        _good_row(row_id="BAD-LIST-1", measure_id="BAD-LIST", hs_codes="LIST:NO-SUCH-LIST"),
        _good_row(row_id="BAD-LIST-TOTAL-1", measure_id="BAD-LIST-TOTAL", hs_codes="LIST:USTR-301-L1", rate_type="total"),
        _good_row(row_id="GOOD-1", measure_id="GOOD"),
        _good_row(row_id="GOOD-LIST-1", measure_id="GOOD-LIST", imposing_iso3="USA", hs_codes="LIST:USTR-301-L1"),
    ]
    proc, db = _run_registry(tmp_path, bad)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "tariff measures registry rejected (8 problem(s))" in out
    for expected in ["row BAD-HS-1, field hs_codes: unknown HS code 0107",
                     "row BAD-DATES-1, field end_date: before effective_date (2025-04-01 < 2025-05-01)",
                     "row BAD-RATE-1, field rate_pct: out of range [0, 200]: 250",
                     "row BAD-SOURCE-1, field source_publisher: missing",
                     "row BAD-SOURCE-1, field source_ref: missing",
                     "row BAD-OVERLAP-1, field effective_date: overlaps row CAN-CHN-EV-SURTAX-1 of the same measure in time on 1 product(s), e.g. 870380",
                     "row BAD-LIST-1, field hs_codes: unknown product list NO-SUCH-LIST",
                     "row BAD-LIST-TOTAL-1, field hs_codes: product lists (LIST:) belong to ad_valorem_additional rows"]:
        assert expected in out, expected
    rejected = out.split("registry rejected", 1)[1].split("\n", 1)[0]
    assert "GOOD-1" not in rejected and "GOOD-LIST-1" not in rejected



def test_shipped_registry_passes_and_snapshot_keeps_corrected_rows(tmp_path):
    proc, db = _run_registry(tmp_path, [])
    assert proc.returncode == 0, proc.stdout[-3000:]
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("select count(*) from intermediate.int_tariffs__registry_problems").fetchone() == (0,)
        expected = dict(con.execute("select row_id, effective_date is null from intermediate.int_tariffs__registry "
                                    "where is_expected").fetchall())
    finally:
        con.close()
    _, rows = _registry_rows()
    assert expected == {r["row_id"]: r["effective_date"] == "" for r in rows if r["confidence"] == "E"}
    assert expected["CAN-CHN-EV-TRQ-1"] is True and expected["CHN-CAN-2026-DEAL-1"] is False

    # a corrected row: the snapshot keeps the version past reports used
    def correct(row):
        if row["row_id"] == "CHN-CAN-2026-DEAL-1":
            row["rate_pct"], row["notes"] = "14.5", "corrected"
        return row

    proc, db = _run_registry(tmp_path, [], edit=correct)
    assert proc.returncode == 0, proc.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        versions = con.execute("select rate_pct, dbt_valid_to is null from snapshots.tariff_measures_registry_snapshot "
                               "where row_id = 'CHN-CAN-2026-DEAL-1' order by dbt_valid_from").fetchall()
        others = con.execute("select count(*) from snapshots.tariff_measures_registry_snapshot "
                             "where row_id <> 'CHN-CAN-2026-DEAL-1' and dbt_valid_to is not null").fetchone()[0]
    finally:
        con.close()
    original = float(next(r for r in rows if r["row_id"] == "CHN-CAN-2026-DEAL-1")["rate_pct"])
    assert versions == [(original, False), (14.5, True)] and others == 0
