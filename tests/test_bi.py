"""BI clients on the published file, through the recipes of docs/bi.md as written: the file opens in
the DuckDB CLI 1.4.4 and DuckDB 2.0.1 with its comments; a NullPool engine sees each new publication
(a pooled one keeps the old); Superset's engine parameters and search_path hook work through
duckdb-engine; Parquet files and manifest.json carry what file readers need."""
import json

import duckdb
import pytest
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

from flows.publish import STORAGE_VERSION, publish
from flows.readonly import LOCKED
from tests.bi_recipes import DOC_PATH, cli_rows, doc_block, duckdb_cli, sqlalchemy_engine, superset_engine_params


def make_wh(path, rows, mode=None, run_id="run1"):
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create or replace table marts.pairs (pair varchar, period_start date, total double)")
    con.execute("comment on table marts.pairs is 'Trade per pair'")
    con.execute("comment on column marts.pairs.total is 'Total trade, US$'")
    con.executemany("insert into marts.pairs values (?, ?, ?)", rows)
    con.execute("create or replace table marts.dim_thing as select 'x' as thing")
    if mode:
        con.execute("create schema if not exists audit")
        con.execute("create table if not exists audit.runs (run_id varchar, mode varchar)")
        con.execute("insert into audit.runs values (?, ?)", [run_id, mode])
    con.close()


def _run_id(connection) -> str:
    return connection.execute(text("select run_id from meta.publication")).scalar()


def test_the_nullpool_recipe_sees_each_new_publication_a_pooled_engine_keeps_the_old(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2024-01-01", 1.0)])
    publish(wh, out, "run1")
    recipe = sqlalchemy_engine(out / "bilateral.duckdb")
    # the same settings with SQLAlchemy's default pool (DuckDB refuses two configurations of one file in a process)
    pooled = create_engine(f"duckdb:///{out / 'bilateral.duckdb'}", connect_args={"read_only": True, "config": dict(LOCKED)})
    with recipe.connect() as c1, pooled.connect() as p1:
        assert _run_id(c1) == _run_id(p1) == "run1"
    make_wh(wh, [("CAN-CHN", "2024-01-01", 1.0), ("CAN-USA", "2024-01-01", 2.0)])
    publish(wh, out, "run2")
    with recipe.connect() as c2:  # while the pooled engine still holds the replaced file open
        assert _run_id(c2) == "run2"
        assert c2.execute(text("select count(*) from marts.pairs")).scalar() == 2
    with pooled.connect() as p2:  # the pooled connection still has the replaced file open
        assert _run_id(p2) == "run1"
    pooled.dispose()
    with pooled.connect() as p3:
        assert _run_id(p3) == "run2"
    pooled.dispose()


def test_the_recipe_is_read_only_and_locked(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2024-01-01", 1.0)])
    publish(wh, out, "run1")
    engine = sqlalchemy_engine(out / "bilateral.duckdb")
    for statement, refusal in [("delete from marts.pairs", "read-only"),
                               ("select * from read_text('/etc/hostname')", "disabled by configuration"),
                               ("SET enable_external_access = true", "locked")]:
        with engine.connect() as c, pytest.raises(Exception, match=refusal):
            c.execute(text(statement))


def test_superset_engine_parameters_and_search_path_hook_make_unqualified_names_work(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2024-01-01", 1.0)])
    publish(wh, out, "run1")
    other = tmp_path / "other.duckdb"  # a DuckDB file without a marts schema: the hook leaves it alone
    duckdb.connect(str(other)).execute("create table t as select 42 as x").close()
    params = superset_engine_params()
    assert params["connect_args"]["read_only"] is True and params["connect_args"]["config"]["lock_configuration"]
    uri = "duckdb:///" + str(out / "bilateral.duckdb")
    assert doc_block("json", "connect_args") and DOC_PATH.startswith("/")

    engine = create_engine(uri, **params)
    with engine.connect() as c, pytest.raises(Exception, match="marts.pairs"):  # without the hook: DuckDB's hint
        c.execute(text("select count(*) from pairs"))
    engine.dispose()
    # why a hook: DuckDB refuses search_path in the connection's config (docs/bi.md)
    in_config = {"connect_args": {**params["connect_args"],
                                  "config": {"search_path": "marts", **params["connect_args"]["config"]}}}
    with pytest.raises(Exception, match="global option"):
        create_engine(uri, **in_config).connect()

    scope: dict = {}
    exec(doc_block("python", "listens_for(Engine"), scope)  # noqa: S102 - superset_config.py as documented
    hook = scope["bilateral_search_path"]
    try:
        engine = create_engine(uri, **params)
        with engine.connect() as c:
            assert c.execute(text("select count(*) from pairs")).scalar() == 1
            assert c.execute(text("select count(*) from marts.pairs")).scalar() == 1
        insp = inspect(engine)
        assert "bilateral.marts" in insp.get_schema_names()
        assert insp.get_table_comment("pairs", schema="bilateral.marts")["text"] == "Trade per pair"
        engine.dispose()
        with create_engine(f"duckdb:///{other}", connect_args={"read_only": True}).connect() as c:
            assert c.execute(text("select x from t")).scalar() == 42
    finally:
        event.remove(Engine, "connect", hook)


def test_the_engine_search_path_listener_of_the_sqlalchemy_recipe(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2024-01-01", 1.0)])
    publish(wh, out, "run1")
    engine = sqlalchemy_engine(out / "bilateral.duckdb")
    scope = {"engine": engine}
    exec(doc_block("python", "listens_for(engine"), scope)  # noqa: S102 - as documented
    with engine.connect() as c:
        assert c.execute(text("select total from pairs")).scalar() == 1.0


def test_manifest_says_real_or_sample_and_each_tables_period(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2019-03-01", 1.0), ("CAN-CHN", "2024-11-01", 2.0)], mode="live", run_id="run1")
    publish(wh, out, "run1")
    manifest = json.loads((out / "current" / "manifest.json").read_text())
    assert manifest["run_mode"] == "live" and manifest["data"] == "real"
    assert manifest["periods"] == {"pairs": {"column": "period_start", "min": "2019-03-01", "max": "2024-11-01"}}

    make_wh(wh, [("CAN-CHN", "2020-01-01", 3.0)], mode="sample", run_id="run2")
    publish(wh, out, "run2")
    manifest = json.loads((out / "current" / "manifest.json").read_text())
    assert manifest["run_mode"] == "sample" and manifest["data"] == "sample"
    assert manifest["periods"]["pairs"] == {"column": "period_start", "min": "2020-01-01", "max": "2020-01-01"}


def test_manifest_without_an_audit_row_says_unknown(tmp_path):
    wh, out = tmp_path / "wh.duckdb", tmp_path / "published"
    make_wh(wh, [("CAN-CHN", "2019-03-01", 1.0)])
    publish(wh, out, "run1")
    manifest = json.loads((out / "current" / "manifest.json").read_text())
    assert manifest["run_mode"] == "unknown" and manifest["data"] == "real"


# --- on the session's sample night -----------------------------------------------------------------
def _comments(path):
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall())
        columns = {(t, c): d for t, c, d in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'").fetchall()}
        return tables, columns, con.execute("select storage_version from meta.publication").fetchone()[0]
    finally:
        con.close()


def test_the_published_file_opens_in_duckdb_cli_1_4_4_and_duckdb_2_0_1_with_data_and_comments(sample_run):
    assert duckdb.__version__ == "2.0.1"
    version = duckdb_cli(sample_run.published_path, "select version() as v")
    assert json.loads(version.stdout)[0]["v"] == "v1.4.4"
    tables, columns, storage = _comments(sample_run.published_path)
    assert storage == STORAGE_VERSION == "v1.0.0" and len(tables) >= 10 and all(tables.values())
    cli_tables = {r["table_name"]: r["comment"] for r in cli_rows(
        sample_run.published_path, "select table_name, comment from duckdb_tables() where schema_name = 'marts'")}
    cli_columns = {(r["table_name"], r["column_name"]): r["comment"] for r in cli_rows(
        sample_run.published_path,
        "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'")}
    assert cli_tables == tables and cli_columns == columns
    counts = {r["table_name"]: r["n"] for r in cli_rows(
        sample_run.published_path, "select table_name, row_count as n from meta.tables")}
    assert counts == {t: sample_run.query(f"select count(*) from marts.{t}")[0][0] for t in tables}
    assert cli_rows(sample_run.published_path, "select sum(total_trade_usd) as s from marts.trade_balance")[0]["s"] == \
        pytest.approx(sample_run.query("select sum(total_trade_usd) from marts.trade_balance")[0][0])


def test_the_cli_recipe_refuses_writes_and_files(sample_run):
    for sql, refusal in [("delete from marts.trade_balance", "read-only"),
                         ("select * from read_text('/etc/hostname')", "disabled by configuration")]:
        proc = duckdb_cli(sample_run.published_path, sql, check=False)
        assert proc.returncode != 0 and refusal in proc.stderr


def test_every_parquet_file_carries_its_column_descriptions_and_the_run_id(sample_run):
    _, columns, _ = _comments(sample_run.published_path)
    run_id = sample_run.query("select run_id from meta.publication")[0][0]
    files = sorted(sample_run.parquet_dir.glob("*.parquet"))
    assert {f.stem for f in files} == {t for t, _ in columns}
    con = duckdb.connect()
    try:
        for path in files:
            kv = {k.decode(): v.decode() for k, v in con.execute(
                "select key, value from parquet_kv_metadata(?)", [str(path)]).fetchall()}
            assert kv["bilateral_run_id"] == run_id and kv["bilateral_table"] == path.stem
            described = json.loads(kv["bilateral_columns"])
            assert described == {c: d or "" for (t, c), d in columns.items() if t == path.stem}
            assert all(described.values()), f"{path.name}: a column without a description"
    finally:
        con.close()


def test_the_sample_manifest_says_sample_and_the_real_data_periods(sample_run):
    manifest = json.loads((sample_run.warehouse_dir / "published" / "current" / "manifest.json").read_text())
    assert manifest["data"] == "sample" and manifest["run_mode"] == "sample"
    assert manifest["storage_version"] == "v1.0.0"
    periods = manifest["periods"]
    assert {"trade_balance", "tariff_exposure", "relations_daily"} <= set(periods)
    assert "dim_country" not in periods and "dim_product" not in periods
    for table, period in periods.items():
        low, high = sample_run.query(f"select min({period['column']})::varchar, max({period['column']})::varchar "
                                     f"from marts.{table}")[0]
        assert (str(period["min"]), str(period["max"])) == (low, high), table
