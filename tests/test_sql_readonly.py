"""`bilateral sql` is read-only in every sense: no file written or read outside the warehouse, no
extension installed or loaded, no other database attached, no setting changed, no DDL/DML; each
refusal is one clear message and exit code 1, and nothing changes on disk."""
from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from tests.conftest import write_config_file


@pytest.fixture
def published(tmp_path) -> tuple[Path, Path]:
    """A warehouse with a published file (marts + meta) and a working file with an audit table."""
    wh = tmp_path / "warehouse"
    (wh / "published").mkdir(parents=True)
    con = duckdb.connect(str(wh / "published" / "bilateral.duckdb"))
    con.execute("create schema marts; create schema meta")
    con.execute("create table marts.trade_balance as select 'CAN' as reporter, 2024 as year, 1.5 as balance")
    con.execute("create table meta.publication as select 'r1' as run_id")
    con.close()
    con = duckdb.connect(str(wh / "bilateral.duckdb"))
    con.execute("create schema audit; create table audit.runs as select 'secret run' as message")
    con.close()
    return write_config_file(tmp_path / "bilateral.toml", wh), wh


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


REFUSED = {
    "copy to a file": ("copy (select 'pwned' as x) to '{wh}/published/trade_balance.parquet' (format parquet)", "cannot read or write files"),
    "copy to csv": ("copy marts.trade_balance to '/tmp/bilateral-leak.csv'", "cannot read or write files"),
    "export database": ("export database '{wh}/export'", "cannot read or write files"),
    "read_csv /etc/passwd": ("select * from read_csv('/etc/passwd')", "cannot read or write files"),
    "read_text": ("select * from read_text('/etc/hostname')", "cannot read or write files"),
    "glob": ("select * from glob('/root/*')", "cannot read or write files"),
    "read_blob": ("select * from read_blob('{wh}/bilateral.duckdb')", "cannot read or write files"),
    "install": ("install httpfs", "extensions"),
    "load": ("load httpfs", "extensions"),
    "attach the working file": ("attach '{wh}/bilateral.duckdb' as w", "attach"),
    "turn access back on": ("set enable_external_access = true", "locked"),
    "unlock": ("set lock_configuration = false", "locked"),
    "create table": ("create table marts.x as select 1", "read-only"),
    "insert": ("insert into marts.trade_balance values ('USA', 2024, 2.0)", "read-only"),
    "delete": ("delete from marts.trade_balance", "read-only"),
    "drop": ("drop table marts.trade_balance", "read-only"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_statement_that_reaches_outside_the_published_marts_is_refused_with_a_message(name, published, capsys):
    cfg, wh = published
    query, says = REFUSED[name]
    before = _digest(wh)
    code = main(["sql", query.format(wh=wh), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith("bilateral: sql on ") and "refused" in err and says in err.lower(), err
    assert "Traceback" not in err
    assert _digest(wh) == before
    assert not Path("/tmp/bilateral-leak.csv").exists() and not (wh / "export").exists()


def test_reading_the_marts_still_works_and_an_empty_query_is_a_usage_error(published, capsys):
    cfg, _ = published
    assert main(["sql", "select reporter, balance from marts.trade_balance", "--format", "csv", "--config", str(cfg)]) == 0
    assert capsys.readouterr().out.splitlines() == ["reporter,balance", "CAN,1.5"]
    assert main(["sql", " -- nothing\n ;", "--config", str(cfg)]) == 2
    assert "the query is empty" in capsys.readouterr().err
