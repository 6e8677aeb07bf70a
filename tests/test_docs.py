"""`bilateral docs`: dbt docs and GX Data Docs built from a published warehouse, served on 127.0.0.1,
working in headless Chromium with the network off; and each way it refuses, with one line."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from flows.cli import main
from flows.docs_offline import network_references
from flows.run import single_run_lock
from tests.browser import png_size, visit
from tests.conftest import PROJECT_ROOT, write_config_file


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args, "--project-dir", str(PROJECT_ROOT)],
                          capture_output=True, text=True, cwd=PROJECT_ROOT, **kw)


@pytest.fixture(scope="module")
def docs_built(sample_run, tmp_path_factory):
    """The sample night's publication and GX folder (not its working file), docs built by the CLI
    while a run holds the warehouse lock."""
    root = tmp_path_factory.mktemp("docs")
    wh = root / "warehouse"
    wh.mkdir()
    shutil.copytree(sample_run.warehouse_dir / "published", wh / "published", symlinks=True)
    shutil.copytree(sample_run.warehouse_dir / "gx", wh / "gx")
    cfg = write_config_file(root / "bilateral.toml", wh)
    published_sha = _sha(wh / "published" / "bilateral.duckdb")
    started = time.perf_counter()
    with single_run_lock(wh):  # a nightly "runs": the build must neither wait for it nor touch its files
        done = _cli("docs", "--build-only", "--config", str(cfg), timeout=600)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    run_id = sample_run.summary.run_id
    suites = sample_run.query("select count(*) from audit.validations where run_id = ?", [run_id], published=False)[0][0]
    return {"config": cfg, "warehouse": wh, "done": done, "seconds": seconds, "published_sha": published_sha,
            "suites": suites, "published": wh / "published" / "bilateral.duckdb"}


def test_build_only_says_where_both_sites_are_and_reads_only_the_published_file(docs_built):
    out, err, wh = docs_built["done"].stdout, docs_built["done"].stderr, docs_built["warehouse"]
    site = wh / "docs" / "site"
    assert out.splitlines() == [f"dbt docs:  {site / 'dbt' / 'index.html'}",
                                f"Data Docs: {site / 'data-docs' / 'index.html'}"], out
    assert f"Data Docs ({docs_built['suites']} validation results)" in err, err
    assert "holds the warehouse" in err  # the run lock was seen, and the build went on without waiting
    assert not (wh / "bilateral.duckdb").exists()  # dbt never needed (nor created) the working file
    assert _sha(docs_built["published"]) == docs_built["published_sha"]
    assert not (wh / "dbt").exists()  # dbt's files went to docs/dbt-work, not the nightly's dbt/ folder
    assert (wh / "docs" / "dbt-work" / "target" / "catalog.json").exists()


def test_no_data_docs_page_loads_anything_from_the_network(docs_built):
    site = docs_built["warehouse"] / "docs" / "site" / "data-docs"
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > docs_built["suites"]  # the index, a page per suite and per validation result
    left = {p.relative_to(site).as_posix(): network_references(p.read_text()) for p in pages}
    assert {p: refs for p, refs in left.items() if refs} == {}
    original = docs_built["warehouse"] / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert network_references(original.read_text())  # GX's own page did load from CDNs: the rewrite did the work


@pytest.fixture(scope="module")
def docs_server(docs_built):
    """`bilateral docs --no-build --port 0` in its own process, serving what the fixture built."""
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "docs", "--no-build", "--port", "0",
                             "--config", str(docs_built["config"]), "--project-dir", str(PROJECT_ROOT)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
    urls = {}
    deadline = time.monotonic() + 60
    while len(urls) < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        name, _, url = line.partition(": ")
        urls[name.strip()] = url.strip()
    assert set(urls) == {"dbt docs", "Data Docs"}, (urls, proc.poll())
    yield proc, urls
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_data_docs_index_lists_the_validations_offline_in_chromium(docs_built, docs_server, tmp_path):
    _, urls = docs_server
    assert urls["Data Docs"].startswith("http://127.0.0.1:")
    table = "$('table.ge-index-page-validation-results-table')"
    rows = "document.querySelectorAll('table.ge-index-page-validation-results-table tbody tr[data-href]')"
    page = visit(urls["Data Docs"], tmp_path / "data-docs.png", ready=f"{rows}.length > 0",
                 evaluate={"rows": f"{table}.bootstrapTable('getData').length",  # all pages (10 rows a page)
                           "shown": f"{rows}.length",
                           "first": f"{rows}[0] && {rows}[0].getAttribute('data-href')",
                           "styled": "getComputedStyle(document.querySelector('.nav-tabs')).display",
                           "icons": "Array.from(document.fonts).some(f => f.family.includes('Font Awesome 6 Free') "
                                    "&& f.status === 'loaded')"})
    assert page.ready, page.console_errors
    assert page.values["rows"] == docs_built["suites"]
    assert page.values["shown"] == min(10, docs_built["suites"])
    assert page.values["first"].startswith("validations/")
    assert page.values["styled"] == "flex"  # Bootstrap's stylesheet applied (unstyled it is "block")
    assert page.values["icons"] is True    # Font Awesome's font loaded from the local copy
    assert page.console_errors == []
    assert page.off_host_requests() == []
    width, height = png_size(page.screenshot)
    assert width > 800 and height > 600
    # a validation result the index links to, four folders down: it too loads only local files
    result = visit(urls["Data Docs"].rsplit("/", 1)[0] + "/" + page.values["first"], tmp_path / "result.png",
                   ready="document.querySelectorAll('table').length > 1",
                   evaluate={"status": "document.body.innerText.includes('Succeeded')"})
    assert result.ready and result.values["status"] is True
    assert result.console_errors == [] and result.off_host_requests() == []


def test_dbt_docs_show_the_model_tree_and_a_model_page_offline_in_chromium(docs_built, docs_server, tmp_path):
    _, urls = docs_server
    model = "country_pair_monthly"
    page = visit(urls["dbt docs"] + f"#!/model/model.bilateral.{model}", tmp_path / "dbt-docs.png",
                 ready=f"document.querySelectorAll('.filename').length > 20 && "
                       f"(document.querySelector('h1') || {{innerText: ''}}).innerText.includes('{model}')",
                 evaluate={"tree": "Array.from(document.querySelectorAll('.filename')).map(e => e.innerText.replace(/\\s+/g, ''))",
                           "h1": "document.querySelector('h1').innerText",
                           "cells": "Array.from(document.querySelectorAll('table tr')).map(r => Array.from(r.cells).map(c => c.innerText.trim()))"})
    assert page.ready, page.console_errors
    assert {"marts", model, "trade_balance"} <= set(page.values["tree"])
    assert page.values["h1"].split()[0] == model
    con = duckdb.connect(str(docs_built["published"]), read_only=True)
    try:
        types = dict(con.execute("select column_name, data_type from duckdb_columns() where schema_name = 'marts' "
                                 "and table_name = ?", [model]).fetchall())
    finally:
        con.close()
    shown = {cells[0]: cells[1] for cells in page.values["cells"] if len(cells) > 2 and cells[0] in types}
    assert shown == types  # every column, with the type the catalog read from the published file
    assert page.console_errors == []
    assert page.off_host_requests() == []
    assert png_size(page.screenshot)[0] > 800


def test_ctrl_c_stops_the_server_cleanly(docs_server):
    proc, urls = docs_server
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "server stopped" in err and "Traceback" not in err
    port = int(urls["Data Docs"].split(":")[2].split("/")[0])
    with socket.socket() as s:  # nothing listens there any more (closed connections may linger in TIME_WAIT)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


# --- refusals: one line each, an exit code, nothing half-built -------------------------------------
@pytest.fixture
def empty_warehouse(tmp_path) -> Path:
    return write_config_file(tmp_path / "bilateral.toml", tmp_path / "warehouse")


def test_a_port_in_use_is_refused_at_once_before_building(empty_warehouse, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.perf_counter()
        code = main(["docs", "--port", str(port), "--config", str(empty_warehouse)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip() == (f"bilateral: docs: port {port} on 127.0.0.1 is already in use (another server is listening "
                           "there); choose another with --port N, or --port 0 for a free one")
    assert time.perf_counter() - started < 5


def test_a_port_out_of_range_is_a_usage_error(empty_warehouse, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["docs", "--port", "70000", "--config", str(empty_warehouse)])
    assert stop.value.code == 2
    assert "70000 is not a port number" in capsys.readouterr().err


def test_nothing_published_yet(empty_warehouse, capsys):
    assert main(["docs", "--build-only", "--config", str(empty_warehouse)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("bilateral: docs: nothing published yet: ") and "run `bilateral run` first" in err[-1]


def test_nothing_built_yet(empty_warehouse, capsys):
    assert main(["docs", "--no-build", "--port", "0", "--config", str(empty_warehouse)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("bilateral: docs: nothing built yet in ") and "bilateral docs --build-only" in err
    assert len(err.splitlines()) == 1


def test_a_dbt_failure_is_one_line_and_keeps_the_last_site(tmp_path):
    """A project whose dbt_project.yml is broken: dbt fails, the message says so in one line."""
    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "dbt_project", project / "dbt_project",
                    ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    shutil.copytree(PROJECT_ROOT / "expectations", project / "expectations", ignore=shutil.ignore_patterns("uncommitted", "gx"))
    shutil.copy(PROJECT_ROOT / "bilateral.toml", project / "bilateral.toml")
    (project / "dbt_project" / "dbt_project.yml").write_text("name: bilateral\nprofile: [unclosed\n")
    wh = tmp_path / "warehouse"
    (wh / "published").mkdir(parents=True)
    con = duckdb.connect(str(wh / "published" / "bilateral.duckdb"))
    con.execute("create schema marts; create table marts.t as select 1 as x")
    con.close()
    site = wh / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<!DOCTYPE html><html><body><table></table></body></html>")
    last = wh / "docs" / "site" / "dbt"
    last.mkdir(parents=True)
    (last / "index.html").write_text("the last good build")
    cfg = write_config_file(tmp_path / "bilateral.toml", wh)
    done = subprocess.run([sys.executable, "-m", "flows.cli", "docs", "--build-only", "--config", str(cfg),
                           "--project-dir", str(project)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 1, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("bilateral:")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"bilateral: docs: dbt docs generate failed on {project / 'dbt_project'} (exit 2): ")
    assert "Syntax error" in lines[0] and "profile: [unclosed" in lines[0] and "dbt.log" in lines[0]
    assert "Traceback" not in done.stderr
    assert (last / "index.html").read_text() == "the last good build"
    assert sorted(os.listdir(wh / "docs" / "site")) == ["data-docs", "dbt"]  # no half-built folder left
