"""The query latency benchmark (flows/query_latency.py) on a tiny published file: a smoke test that it
runs, grows a copy, times every query and reports bad input; the real figures come from running it."""
import duckdb
import pytest

from flows import query_latency
from flows.example_queries import readme_blocks, report_queries


@pytest.fixture
def tiny(tmp_path):
    db = tmp_path / "bilateral.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema marts")
    con.execute("create table marts.trade_balance as select * from (values ('CAN', 'CHN', 2024, 10.0), "
                "('CAN', 'USA', 2024, 20.0), ('CHN', 'CAN', 2024, 5.0)) t(reporter_iso3, partner_iso3, year, exports_usd)")
    con.execute("create table marts.dim_note as select 'x' as note")
    con.close()
    readme = tmp_path / "README.md"
    readme.write_text("text\n\n```sql\nselect year, exports_usd from marts.trade_balance where reporter_iso3 = 'CAN'\n```\n"
                      "\n```bash\nnot sql\n```\n\n```sql\nselect reporter_iso3 from marts.trade_balance\n```\n")
    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "pair.sql").write_text("select * from marts.trade_balance where reporter_iso3 = $a and partner_iso3 = $b\n")
    return db, readme, queries


def test_runs_every_query_on_the_file_and_a_grown_copy(tiny, capsys):
    db, readme, queries = tiny
    rc = query_latency.main(["--db", str(db), "--readme", str(readme), "--queries-dir", str(queries),
                             "--repeat", "3", "--scale", "4"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["query", "sample", "rows", "sample"] and "4x" in lines[0]
    rows = {line.split()[0]: line.split() for line in lines[2:5]}
    assert set(rows) == {"README#1", "README#2", "report/pair"}
    assert rows["README#1"][1] == "2" and rows["README#1"][4] == "2"      # CAN's rows: the copies match no filter
    assert rows["README#2"][1] == "3" and rows["README#2"][4] == "12"     # 4x the rows to scan
    assert rows["report/pair"][1] == "1"                                  # $a/$b passed as CAN/CHN
    assert "trade_balance 12 rows" in err and "dim_note" not in err       # a table without country keys is not grown
    assert db.exists() and duckdb.connect(str(db), read_only=True).execute(
        "select count(*) from marts.trade_balance").fetchone()[0] == 3   # the measured file is untouched


def test_no_report_queries_folder_measures_the_readme_only(tiny, tmp_path, capsys):
    db, readme, _ = tiny
    rc = query_latency.main(["--db", str(db), "--readme", str(readme), "--queries-dir", str(tmp_path / "absent"),
                             "--repeat", "1", "--scale", "1"])
    out, err = capsys.readouterr()
    assert rc == 0 and "measuring the README queries only" in err
    assert "report/" not in out and "README#2" in out and "4x" not in out


@pytest.mark.parametrize("args, code, message", [
    (["--repeat", "0"], 2, "--repeat and --scale must be 1 or more"),
    (["--db", "/nonexistent/bilateral.duckdb"], 2, "no published file at /nonexistent/bilateral.duckdb"),
    (["--scale", "notanumber"], 2, "invalid int value"),
])
def test_bad_arguments_exit_2_with_a_message(tiny, args, code, message, capsys):
    db, readme, queries = tiny
    base = ["--db", str(db), "--readme", str(readme), "--queries-dir", str(queries)]
    try:
        rc = query_latency.main(base + args)
    except SystemExit as exc:  # argparse's own refusals
        rc = exc.code
    assert rc == code and message in capsys.readouterr().err


def test_a_failing_query_exits_1_naming_it(tiny, capsys):
    db, readme, queries = tiny
    (queries / "broken.sql").write_text("select nope from marts.trade_balance")
    rc = query_latency.main(["--db", str(db), "--readme", str(readme), "--queries-dir", str(queries),
                             "--repeat", "1", "--scale", "1"])
    err = capsys.readouterr().err
    assert rc == 1 and "report/broken" in err and "nope" in err


def test_strict_exits_1_when_a_p95_is_over_the_target(tiny, capsys):
    db, readme, queries = tiny
    rc = query_latency.main(["--db", str(db), "--readme", str(readme), "--queries-dir", str(queries),
                             "--repeat", "2", "--scale", "1", "--target-ms", "0", "--strict"])
    assert rc == 1 and "p95 over 0 ms" in capsys.readouterr().out


def test_the_project_readme_and_report_queries_are_found():
    blocks = readme_blocks()
    assert len(blocks) >= 6 and all("marts." in b.sql for b in blocks)
    for query in report_queries():  # the report site's queries, when that folder exists
        assert set(query.params) <= {"a", "b"}


def test_percentile_is_nearest_rank():
    samples = [float(i) for i in range(1, 21)]
    assert query_latency.percentile(samples, 95) == 19.0 and query_latency.percentile(samples, 50) == 10.0
    assert query_latency.percentile([3.0], 95) == 3.0
