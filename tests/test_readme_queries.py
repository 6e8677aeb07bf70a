"""Every ```sql block of README.md returns rows on a real published file (the session's sample night),
through the DuckDB CLI 1.4.4 (read-only, locked) and through SQLAlchemy + duckdb-engine with the
NullPool read-only recipe of docs/bi.md; the marts' columns reflect with their descriptions through
SQLAlchemy's inspector, as Superset reads them."""
import duckdb
import pytest
from sqlalchemy import inspect, text

from flows.example_queries import readme_blocks
from tests.bi_recipes import cli_rows, sqlalchemy_engine

BLOCKS = readme_blocks()


def test_the_readme_has_a_query_per_seed_question():
    sql = "\n".join(b.sql for b in BLOCKS)
    for needle in ("reporter_iso3 = 'CAN' and partner_iso3 = 'CHN'",   # trade balance CAN-CHN
                   "'120510'",                                         # canola to China
                   "CAN-CHN-EV-SURTAX",                                # the EV surtax
                   "imposing_iso3 = 'USA' and target_iso3",            # US tariffs on Canada
                   "date '2018-11-26'",                                # the Huawei arrest's weeks
                   "date '2026-01-05'"):                               # Carney's visit's weeks
        assert needle in sql, needle


@pytest.fixture(scope="module")
def engine(sample_run):
    engine = sqlalchemy_engine(sample_run.published_path)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_each_readme_query_returns_rows_in_the_cli_and_through_sqlalchemy(sample_run, engine, block):
    cli = cli_rows(sample_run.published_path, block.sql)
    with engine.connect() as c:
        rows = c.execute(text(block.sql)).fetchall()
    assert cli and rows, f"{block.name} returned no rows:\n{block.sql}"
    assert len(cli) == len(rows)
    direct = sample_run.query(block.sql)
    assert [tuple(r) for r in rows] == direct


def test_the_inspector_reflects_every_mart_with_its_descriptions(sample_run, engine):
    con = duckdb.connect(str(sample_run.published_path), read_only=True)
    try:
        tables = dict(con.execute("select table_name, comment from duckdb_tables() where schema_name = 'marts'").fetchall())
        columns = con.execute("select table_name, column_name, comment from duckdb_columns() "
                              "where schema_name = 'marts' order by table_name, column_index").fetchall()
    finally:
        con.close()
    insp = inspect(engine)
    assert sorted(insp.get_table_names(schema="marts")) == sorted(tables)
    for table, comment in tables.items():
        assert comment and insp.get_table_comment(table, schema="marts")["text"] == comment
        reflected = [(table, c["name"], c["comment"]) for c in insp.get_columns(table, schema="marts")]
        expected = [row for row in columns if row[0] == table]
        assert reflected == expected
        assert all(c for _, _, c in reflected), f"{table}: a column without a description"
