"""The house stays honest: every source package is complete and its pieces line up with dbt and the
GX suites; docs and comments never point outside the repository; nothing under flows/ keeps
module-level mutable state. (Model: dagster-open-platform's test that loads every definition.)"""
from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from flows.config import load_config
from flows.sources import discover_sources
from tests.conftest import PROJECT_ROOT

SOURCES = discover_sources()
DBT = PROJECT_ROOT / "dbt_project"
FLOWS = PROJECT_ROOT / "flows"
#: staging folders that type reference seeds rather than a source's raw tables
SEED_STAGING = {"tariffs"}


def _dbt_sources() -> dict[str, set[str]]:
    """dbt source name -> its tables, from every yml under models/."""
    out: dict[str, set[str]] = {}
    for path in (DBT / "models").rglob("*.yml"):
        for src in (yaml.safe_load(path.read_text()) or {}).get("sources", []) or []:
            assert src["name"] not in out, f"dbt source {src['name']} declared twice ({path})"
            out[src["name"]] = {t["name"] for t in src.get("tables", [])}
    return out


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_source_package_is_complete(name):
    source = SOURCES[name]
    folder = source.package_dir
    for part in ("__init__.py", "connector.py", "load.py", "sample.py", "README.md"):
        assert (folder / part).is_file(), f"flows/sources/{name}/{part} is missing"
    readme = (folder / "README.md").read_text()
    assert re.search(r"https?://", readme), f"{name}/README.md names the public documentation of the API"
    assert source.load_specs, f"{name} declares the raw tables it loads"
    assert source.summary and source.settings().base_url.startswith("http")
    assert (DBT / "models" / "staging" / name).is_dir(), f"dbt_project/models/staging/{name}/ is missing"


def test_every_kind_a_source_lands_has_a_load_spec_or_is_declared_unloaded(tmp_path, write_config):
    """Replay each source's own sample through its connector: every landed kind is one it declares."""
    from datetime import date

    from flows.http import HttpClient
    from flows.landing import Lander
    from flows.recording import ReplayTransport
    from tests.conftest import sample_context

    config = load_config(write_config({"years.start": 2024}))
    for name, source in SOURCES.items():
        source.sample(sample_context(config, name, tmp_path / "rec"))
        settings = config.sources[name]
        client = HttpClient(settings, ReplayTransport(tmp_path / "rec"), secret_params=source.secret_params)
        connector = source.connector(config, settings, client, date(2026, 11, 28))
        lander = Lander(tmp_path / "landing", name, "2026-11-28", "layout")
        for partition in connector.partitions():
            connector.extract(partition, lander)
        landed = {f.kind for f in lander.files}
        assert landed, f"{name}: its sample replays to landed files"
        assert landed <= set(source.landed_kinds), f"{name} lands undeclared kinds {landed - set(source.landed_kinds)}"


def test_every_raw_table_is_declared_once_and_is_a_dbt_source_of_its_own_name():
    declared: dict[str, str] = {}
    for name, source in SOURCES.items():
        for table in source.raw_tables:
            assert table not in declared, f"raw.{table} is declared by {declared[table]} and {name}"
            declared[table] = name
    dbt_sources = _dbt_sources()
    for name, source in SOURCES.items():
        assert dbt_sources.get(name) == set(source.raw_tables), \
            f"dbt source '{name}' must list exactly the raw tables {sorted(source.raw_tables)}"
    own = {"audit", "quarantine"}  # bilateral's own bookkeeping that staging reads
    assert set(dbt_sources) - own == set(SOURCES), "every dbt source is a bilateral source of the same name"
    assert dbt_sources["quarantine"] == set(declared), "every raw table has its quarantine table as a dbt source"
    staging = {p.name for p in (DBT / "models" / "staging").iterdir() if p.is_dir() and any(p.iterdir())}
    assert staging - SEED_STAGING == set(SOURCES), "one staging folder per source, named after it"


def test_one_yml_per_model_folder_and_seeds_named_for_what_they_are():
    for folder in [p for p in (DBT / "models").rglob("*") if p.is_dir()] + [DBT / "seeds"]:
        ymls = list(folder.glob("*.yml"))
        if any(folder.glob("*.sql")) or any(folder.glob("*.csv")):
            assert len(ymls) == 1, f"{folder.relative_to(PROJECT_ROOT)} has {len(ymls)} yml files; keep one"
    assert not list((DBT / "seeds").glob("dim_*.csv")), "seeds live in schema reference: no dim_ prefix"


def test_seeds_copied_from_package_reference_data_are_identical():
    pairs = [(FLOWS / "sources" / "comtrade" / "reference" / "partners.csv", DBT / "seeds" / "comtrade_partners.csv"),
             (FLOWS / "sources" / "wits" / "reference" / "wits_countries.csv", DBT / "seeds" / "tariff_wits_countries.csv")]
    for package_copy, seed in pairs:
        assert package_copy.read_bytes() == seed.read_bytes(), f"{seed.name} differs from {package_copy}"


_OUTSIDE = re.compile(r"\.\./shared|source-formats\.md|anchors\.md|tariff-measures\.md|stack-notes\.md|house\.md")
_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)#\s]+)(#[^)]*)?\)")


def _tracked() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout
    return [PROJECT_ROOT / line for line in out.splitlines() if line]


def test_no_doc_or_comment_points_outside_the_repository():
    for path in _tracked():
        if path.suffix not in (".md", ".py", ".sql", ".yml", ".toml", ".json", ".txt", "") or not path.is_file():
            continue
        if path == Path(__file__):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not _OUTSIDE.search(text), f"{path.relative_to(PROJECT_ROOT)} points at a document not in the repo"
        if path.suffix == ".md":
            for target, _ in _LINK.findall(text):
                assert (path.parent / target).exists(), f"{path.relative_to(PROJECT_ROOT)}: broken link {target}"


_MUTATORS = {"append", "extend", "update", "setdefault", "pop", "popitem", "clear", "add", "remove", "insert",
             "discard", "appendleft", "popleft"}
_CONTAINERS = {"dict", "list", "set", "defaultdict", "deque", "OrderedDict", "Counter"}


def _module_state_violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    mutable = set()
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            value = node.value
            is_container = isinstance(value, (ast.Dict, ast.List, ast.Set, ast.DictComp, ast.ListComp, ast.SetComp)) or (
                isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", "")) in _CONTAINERS)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if is_container:
                mutable |= {t.id for t in targets if isinstance(t, ast.Name)}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Global):
            problems.append(f"global {', '.join(node.names)}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            if isinstance(node.func.value, ast.Name) and node.func.value.id in mutable:
                problems.append(f"{node.func.value.id}.{node.func.attr}() mutates module state")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in mutable:
                    problems.append(f"{t.value.id}[...] mutates module state")
    return problems


def test_nothing_under_flows_keeps_module_level_mutable_state():
    found = {str(p.relative_to(PROJECT_ROOT)): v for p in FLOWS.rglob("*.py") if (v := _module_state_violations(p))}
    assert found == {}, "state travels in arguments (RunContext), not module globals"


def test_the_state_check_can_fail(tmp_path):
    sample = tmp_path / "stateful.py"
    sample.write_text("_SEEN = {}\n\ndef f(k):\n    _SEEN[k] = 1\n\n_LOG = []\n\ndef g():\n    _LOG.append(1)\n")
    assert sorted(_module_state_violations(sample)) == ["_LOG.append() mutates module state", "_SEEN[...] mutates module state"]
