"""dbt from the flow: both runners build the models, report every node and release the DuckDB file."""
import time
from datetime import date

import duckdb
import pytest
from prefect import flow

from flows import transform, warehouse
from flows.config import load_config
from flows.sources.worldbank.connector import WorldBankConnector
from flows.http import HttpClient
from flows.landing import Lander
from flows.loading import load_results
from flows.recording import ReplayTransport
from flows.sources.worldbank import sample as wb_sample
from tests.conftest import PROJECT_ROOT, sample_context
from flows.paths import Project

PROJECT = Project(PROJECT_ROOT)

pytestmark = pytest.mark.slow
SELECT = ["build", "--select", "+country_indicators_annual"]


@pytest.fixture
def wb_warehouse(write_config, tmp_path):
    cfg = load_config(write_config({"sources.worldbank.indicators": ["TM.TAX.MRCH.WM.AR.ZS", "NY.GDP.MKTP.CD"]}))
    wb_sample.generate(sample_context(cfg, "worldbank", tmp_path / "rec"))
    src = cfg.sources["worldbank"]
    connector = WorldBankConnector(cfg, src, HttpClient(src, ReplayTransport(tmp_path / "rec")), date(2026, 11, 28))
    lander = Lander(tmp_path / "landing", "worldbank", "2026-11-28", "r1")
    results = [connector.extract(p, lander) for p in connector.partitions()]
    warehouse.ensure_schemas(cfg.duckdb_path)
    assert load_results(cfg.duckdb_path, "r1", results).rows_loaded > 0
    return cfg.duckdb_path


def _check(db, report):
    assert report.success, report.message
    ids = {n["node"] for n in report.nodes}
    assert {"model.bilateral.country_indicators_annual", "model.bilateral.stg_worldbank__indicator_values",
            "seed.bilateral.worldbank_indicators"} <= ids
    assert any(n["type"] == "unit_test" for n in report.nodes)
    con = duckdb.connect(str(db))  # read-write: dbt must have released the file
    rows = con.execute("select count(distinct indicator_code), bool_and(is_sample) from marts.country_indicators_annual").fetchone()
    con.close()
    assert rows == (2, True)
    assert (db.parent / "dbt" / "target" / "manifest.json").exists(), "per-warehouse target folder"


def test_programmatic_runner_builds_and_releases_the_file(wb_warehouse):
    _check(wb_warehouse, transform.build(PROJECT, wb_warehouse, "r1", args=SELECT))


def test_prefect_dbt_runner_makes_each_node_a_task_run(prefect_harness, wb_warehouse):
    from prefect.client.orchestration import get_client

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.runtime import flow_run

    @flow(name="dbt-per-node-check")
    def run():
        return flow_run.id, transform.build(PROJECT, wb_warehouse, "r1", args=SELECT, task_per_node=True)

    run_id, report = run()
    _check(wb_warehouse, report)
    # Only this flow run's task runs: the session's API holds every other test's runs too, and task runs
    # reach it as events, so give the last ones a moment to be written.
    only_this_run = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    names: set[str] = set()
    with get_client(sync_client=True) as client:
        for _ in range(50):
            names = {t.name for t in client.read_task_runs(flow_run_filter=only_this_run)}
            if any("country_indicators_annual" in n for n in names):
                break
            time.sleep(0.2)
    assert any("country_indicators_annual" in n for n in names), sorted(names)


def test_a_failing_dbt_test_is_reported_with_its_node(wb_warehouse):
    con = duckdb.connect(str(wb_warehouse))
    con.execute("update raw.worldbank_indicator set value = 250 where indicator_id = 'TM.TAX.MRCH.WM.AR.ZS' and value is not null")
    con.close()
    report = transform.build(PROJECT, wb_warehouse, "r1", args=SELECT)
    assert not report.success and "accepted_range_country_indicators_annual_value" in report.message
