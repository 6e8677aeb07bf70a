"""Adding a source is one package: a throw-away source, written by `bilateral new-source` and installed
as a third-party plug-in (an entry point in the ``bilateral.sources`` group), is discovered, configured,
scheduled, landed and loaded from a replay of its own sample, with no edit anywhere else."""
from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.config import ConfigError, load_config
from flows.paths import Project
from flows.scaffold import ScaffoldError, files_for, new_source
from flows.sources import SourceDiscoveryError, discover_sources
from tests.conftest import PROJECT_ROOT, sample_context

NAME = "demo_plugin"


def _install_plugin(site: Path, name: str = NAME, entry: str | None = None) -> None:
    """The skeleton as a package of its own on ``site``, with the metadata pip would write."""
    for rel, content in files_for(name).items():
        prefix = f"flows/sources/{name}/"
        if rel.startswith(prefix):
            path = site / name / rel[len(prefix):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[bilateral.sources]\n{name} = {entry or name + ':SOURCE'}\n")


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install_plugin(site)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in [m for m in sys.modules if m == NAME or m.startswith(NAME + ".")]:
        del sys.modules[module]


def test_a_plugin_source_is_discovered_scheduled_landed_and_loaded_from_a_replay(plugin_site, write_config, tmp_path):
    from flows.extract import extract_period, plan
    from flows.loading import load_results
    from flows.run import RunContext
    from flows.warehouse import ensure_schemas

    assert NAME in discover_sources(), "found through its entry point, no registry edited"
    config = load_config(write_config({f"sources.{NAME}.base_url": "http://127.0.0.1:9/api",
                                       f"sources.{NAME}.per_page": 3}))
    assert config.sources[NAME].per_page == 3, "its typed options are part of the configuration"
    discover_sources()[NAME].sample(sample_context(config, NAME, tmp_path / "rec"))
    run = RunContext(config, "replay", date(2026, 11, 28), sources=[NAME], replay_dir=str(tmp_path / "rec"))
    ensure_schemas(run.db)
    work = plan(run, NAME)
    assert list(work) == ["all"], "scheduled as one unit of work (one Prefect task)"
    results = extract_period(run, NAME, "all", work["all"])
    assert [r.ok for r in results] == [True] and len(results[0].files) == 2, "two pages landed"
    report = load_results(run.db, run.run_id, results)
    assert report.failures == [] and report.rows_by_table == {f"{NAME}_record": 4}
    with duckdb.connect(str(run.db), read_only=True) as con:
        rows = con.execute(f"select id, value, _synthetic, _run_id from raw.{NAME}_record order by record_no, id").fetchall()
    assert [r[0] for r in rows] == ["r0", "r3", "r1", "r2"] and all(r[2] and r[3] == run.run_id for r in rows)


def test_a_plugin_option_of_the_wrong_type_is_a_config_error(plugin_site, write_config):
    with pytest.raises(ConfigError, match=rf"sources\.{NAME}\.per_page.*expected an integer"):
        load_config(write_config({f"sources.{NAME}.per_page": "many"}))


def test_a_broken_plugin_is_named_not_a_traceback(tmp_path, monkeypatch):
    site = tmp_path / "site"
    _install_plugin(site, "broken_plugin", entry="broken_plugin:NOT_THERE")
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(SourceDiscoveryError, match="entry point broken_plugin = broken_plugin:NOT_THERE"):
        discover_sources()


def test_new_source_writes_a_complete_skeleton_and_refuses_to_overwrite(tmp_path):
    project = Project(tmp_path / "proj")
    (project.root / "flows" / "sources").mkdir(parents=True)
    written = new_source(project, "imf_dots")
    names = {str(p.relative_to(project.root)) for p in written}
    assert {"flows/sources/imf_dots/connector.py", "flows/sources/imf_dots/load.py", "flows/sources/imf_dots/sample.py",
            "flows/sources/imf_dots/README.md", "dbt_project/models/staging/imf_dots/_imf_dots.yml",
            "expectations/suites/raw_imf_dots.json", "expectations/suites/raw_imf_dots.sql"} <= names
    for path in written:
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")
    with pytest.raises(ScaffoldError, match="exists already"):
        new_source(project, "imf_dots")
    for bad in ("Bad-Name", "x", "class", "1abc"):
        with pytest.raises(ScaffoldError, match="not a usable source name"):
            new_source(project, bad)


def test_new_source_cli_exits_2_on_a_bad_name(tmp_path):
    proj = tmp_path / "proj"
    (proj / "flows" / "sources").mkdir(parents=True)
    (proj / "bilateral.toml").write_text("")
    out = subprocess.run([sys.executable, "-m", "flows.cli", "new-source", "Bad-Name", "--project-dir", str(proj)],
                         capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 2 and "not a usable source name" in out.stderr
    assert not (proj / "flows" / "sources" / "Bad-Name").exists()


@pytest.mark.slow
@pytest.mark.reliability  # a whole night from a copied project (minutes): reliability suite (CI)
def test_installed_bilateral_run_from_outside_the_checkout_lands_in_the_project_copy(tmp_path):
    """Paths come from the project, never from where the package is installed."""
    project = tmp_path / "proj"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "bilateral.toml", project / "bilateral.toml")
    for folder in ("dbt_project", "expectations"):
        shutil.copytree(PROJECT_ROOT / folder, project / folder, ignore=shutil.ignore_patterns("target", "logs"))
    off = [f"--set=sources.{s}.enabled=false" for s in discover_sources() if s != "worldbank"]
    bilateral = Path(sys.executable).with_name("bilateral")
    before = sorted(p.name for p in (PROJECT_ROOT / "warehouse").glob("*")) if (PROJECT_ROOT / "warehouse").exists() else []
    out = subprocess.run([str(bilateral), "run", "--sample", "--date", "2026-11-28", *off], cwd=project,
                         capture_output=True, text=True, timeout=600,
                         env={k: v for k, v in __import__("os").environ.items()
                              if k not in ("PREFECT_HOME", "PREFECT_API_URL", "BILATERAL_PROJECT_DIR")})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert (project / "warehouse" / "published" / "bilateral.duckdb").is_file(), "the warehouse lands in the copy"
    assert (project / "warehouse" / ".prefect").is_dir(), "Prefect's history lives beside that warehouse"
    after = sorted(p.name for p in (PROJECT_ROOT / "warehouse").glob("*")) if (PROJECT_ROOT / "warehouse").exists() else []
    assert after == before, "nothing was written into the checkout's warehouse"
    with duckdb.connect(str(project / "warehouse" / "published" / "bilateral.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.country_indicators_annual").fetchone()[0] > 0
