"""`bilateral sql` for people: clean one-line errors (exit 2 for a query to fix), `--list` of the marts
and their columns, the query from stdin, and the interactive shell (piped with -i, and on a pty)."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from tests.conftest import PROJECT_ROOT, write_config_file

TRADE_DESC = "Goods trade of a reporter with a partner by year."
COLUMNS = {"reporter": ("VARCHAR", "Reporter ISO3."), "year": ("INTEGER", "Calendar year."),
           "balance": ("DECIMAL(2,1)", "Exports minus imports, USD bn.")}


@pytest.fixture
def published(tmp_path) -> tuple[Path, Path]:
    """A published file as publishing writes it: marts with comments, meta.tables with row counts."""
    wh = tmp_path / "warehouse"
    (wh / "published").mkdir(parents=True)
    path = wh / "published" / "bilateral.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts; create schema meta")
    con.execute("create table marts.trade_balance as select * from (values ('CAN', 2024, 1.5), ('USA', 2024, -2.5)) "
                "as t(reporter, year, balance)")
    con.execute("create table marts.dim_country as select 'CAN' as country_iso3")
    con.execute(f"comment on table marts.trade_balance is '{TRADE_DESC}'")
    for col, (_, desc) in COLUMNS.items():
        con.execute(f"comment on column marts.trade_balance.{col} is '{desc}'")
    con.execute("create table meta.tables as select * from (values ('trade_balance', 2, 'x', ?), "
                "('dim_country', 1, 'y', null)) as t(table_name, row_count, checksum, description)", [TRADE_DESC])
    con.close()
    return write_config_file(tmp_path / "bilateral.toml", wh), path


def _sql(cfg: Path, *args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", "sql", *args, "--config", str(cfg),
                           "--project-dir", str(PROJECT_ROOT)], input=stdin, capture_output=True, text=True,
                          cwd=PROJECT_ROOT, timeout=120, env={**os.environ, **(env or {})})


BAD_QUERIES = {
    "syntax": ("selec 1", "Parser Error: syntax error at or near \"selec\""),
    "unknown table": ("select * from marts.trade_balanse", "Catalog Error: Table with name trade_balanse does not exist"),
    "unknown column": ("select balanse from marts.trade_balance", "Binder Error: Referenced column \"balanse\" not found"),
    "bad cast": ("select cast(reporter as integer) from marts.trade_balance", "Conversion Error"),
}


@pytest.mark.parametrize("name", sorted(BAD_QUERIES))
def test_a_query_duckdb_cannot_run_is_one_clean_line_and_exit_2(name, published, capsys):
    cfg, path = published
    query, says = BAD_QUERIES[name]
    assert main(["sql", query, "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bilateral: sql on {path}: query failed: ") and says in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "LINE 1" not in err


@pytest.mark.parametrize("query", ["", "   \n ", "-- only a comment", "/* a comment */ ;", ";;"])
def test_an_empty_or_comment_only_query_is_a_usage_error(query, published, capsys):
    cfg, _ = published
    assert main(["sql", query, "--config", str(cfg)]) == 2
    assert capsys.readouterr().err.strip() == ('bilateral: sql: the query is empty (only blanks or comments); e.g. '
                                               'bilateral sql "select * from meta.tables"')


def test_list_shows_every_mart_with_rows_columns_and_description(published, capsys):
    cfg, _ = published
    assert main(["sql", "--list", "--format", "json", "--config", str(cfg)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"table": "marts.dim_country", "rows": 1, "columns": 1, "description": ""},
                      {"table": "marts.trade_balance", "rows": 2, "columns": 3, "description": TRADE_DESC}]


@pytest.mark.parametrize("name", ["trade_balance", "marts.trade_balance", "TRADE_BALANCE"])
def test_list_table_shows_its_columns_types_and_descriptions(name, published, capsys):
    cfg, _ = published
    assert main(["sql", "--list", name, "--config", str(cfg)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["column", "type", "description"]
    body = [ln.split(None, 2) for ln in lines[2:-1]]
    assert {c: (t, d.strip()) for c, t, d in body} == COLUMNS
    assert lines[-1] == "(3 rows)"


def test_list_of_an_unknown_table_or_with_a_query_is_a_usage_error(published, capsys):
    cfg, _ = published
    assert main(["sql", "--list", "trade", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "no mart named 'trade' in schema marts; did you mean trade_balance?" in err
    assert main(["sql", "select 1", "--list", "--config", str(cfg)]) == 2
    assert "--list takes no query" in capsys.readouterr().err


def test_the_query_comes_from_stdin_when_it_is_not_a_terminal(published):
    cfg, _ = published
    done = _sql(cfg, "--format", "csv", stdin="select reporter, balance\nfrom marts.trade_balance\norder by reporter;\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["reporter,balance", "CAN,1.5", "USA,-2.5"]
    empty = _sql(cfg, stdin="-- nothing here\n")
    assert empty.returncode == 2 and "the query is empty" in empty.stderr


def test_the_shell_reads_statements_over_lines_runs_commands_and_survives_errors(published, tmp_path):
    cfg, _ = published
    leak = tmp_path / "leak.csv"
    script = "\n".join([
        "select reporter,",
        "       balance   -- a comment",
        "from marts.trade_balance order by reporter;",
        ".tables",
        ".schema trade_balance",
        ".schema nowhere",
        "select * from marts.nowhere;",
        f"copy marts.trade_balance to '{leak}';",
        ".frobnicate",
        "select 6 * 7 as answer",   # the last statement may lack its ';'
    ]) + "\n"
    done = _sql(cfg, "-i", stdin=script)
    assert done.returncode == 0, done.stderr
    out, err = done.stdout, done.stderr
    assert "CAN       1.5" in out and "USA       -2.5" in out          # the three-line statement ran
    assert "marts.trade_balance  2     3        " + TRADE_DESC in out   # .tables
    assert "balance   DECIMAL(2,1)  Exports minus imports, USD bn." in out  # .schema
    assert [ln.rstrip() for ln in out.strip().splitlines()][-4:] == ["answer", "------", "42", "(1 rows)"]
    errors = err.splitlines()
    assert errors[0].startswith("error: no mart named 'nowhere'")
    assert errors[1].startswith("error: query failed: Catalog Error: Table with name nowhere does not exist")
    assert errors[2].startswith("error: refused: this connection is read-only")  # the locked settings hold
    assert errors[3] == "error: unknown command .frobnicate; .help lists the commands"
    assert not leak.exists()


def test_quit_ends_the_shell(published):
    cfg, _ = published
    done = _sql(cfg, "-i", stdin="select 1 as one;\n.quit\nselect 2 as two;\n")
    assert done.returncode == 0
    assert "one" in done.stdout and "two" not in done.stdout


def _read_until(fd: int, wanted: str, timeout: float = 60) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk.decode(errors="replace")
    return seen


def test_on_a_terminal_sql_without_a_query_opens_the_shell_with_history(published, tmp_path):
    cfg, path = published
    history = tmp_path / "history"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "sql", "--config", str(cfg),
                             "--project-dir", str(PROJECT_ROOT)], stdin=follower, stdout=follower, stderr=follower,
                            cwd=PROJECT_ROOT, env={**os.environ, "BILATERAL_SQL_HISTORY": str(history), "TERM": "dumb"},
                            close_fds=True)
    os.close(follower)
    try:
        banner = _read_until(leader, "bilateral> ")
        assert f"bilateral sql on {path} (read-only)" in banner and banner.rstrip().endswith("bilateral>"), banner
        os.write(leader, b"select 6 * 7\r")
        assert "...>" in _read_until(leader, "...> ")  # waits for the ';'
        os.write(leader, b"  as answer;\r")
        answer = _read_until(leader, "bilateral> ")
        assert "answer" in answer and "42" in answer and "(1 rows)" in answer, answer
        os.write(leader, b"select nope;\r")
        assert "Binder Error" in _read_until(leader, "bilateral> ")  # an error, and the prompt again
        os.write(leader, b".quit\r")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)
    assert "as answer;" in history.read_text()  # readline kept the session's lines


@pytest.mark.slow
def test_list_on_a_real_publication_gives_dbt_descriptions(sample_run, capsys):
    cfg = sample_run.config_path
    assert main(["sql", "--list", "--format", "json", "--config", str(cfg)]) == 0
    listed = {r["table"]: r for r in json.loads(capsys.readouterr().out)}
    meta = sample_run.query("select table_name, row_count, description from meta.tables")
    assert {t: (r["rows"], r["description"]) for t, r in listed.items()} == {f"marts.{t}": (n, d) for t, n, d in meta}
    assert all(r["description"] for r in listed.values())  # dbt documents every mart
    assert main(["sql", "--list", "country_pair_monthly", "--format", "json", "--config", str(cfg)]) == 0
    columns = json.loads(capsys.readouterr().out)
    expected = sample_run.query("select column_name, data_type, comment from duckdb_columns() where schema_name = "
                                "'marts' and table_name = 'country_pair_monthly' order by column_index")
    assert [(c["column"], c["type"], c["description"]) for c in columns] == expected
    assert all(c["description"] for c in columns)
