"""The dbt YAML says what its authors wrote: an unquoted description with a comma inside a
``{name: ..., description: ...}`` flow mapping is cut at the comma, and the rest becomes a key of
its own (the published comments, dbt docs and ``bilateral sql --list`` would show half a sentence)."""
from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import PROJECT_ROOT

COLUMN_KEYS = {"name", "description", "data_type", "data_tests", "tests", "meta", "constraints", "quote", "tags",
               "config", "granularity"}


def _columns(node, path: str):
    if isinstance(node, dict):
        columns = node.get("columns")
        for column in columns if isinstance(columns, list) else []:
            yield path, column
        for key, value in node.items():
            yield from _columns(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _columns(value, f"{path}[{i}]")


def _yaml_files() -> list[Path]:
    root = PROJECT_ROOT / "dbt_project"
    return [p for p in root.rglob("*.yml") if not {"target", "dbt_packages", "logs"} & set(p.relative_to(root).parts)]


def test_every_column_entry_has_only_column_keys():
    files = _yaml_files()
    assert len(files) > 10
    broken = [f"{path}: {column.get('name')} has {sorted(set(column) - COLUMN_KEYS)}"
              for f in files for path, column in _columns(yaml.safe_load(f.read_text()), str(f.relative_to(PROJECT_ROOT)))
              if set(column) - COLUMN_KEYS]
    assert broken == [], "quote these descriptions:\n" + "\n".join(broken)


def test_the_check_sees_a_description_cut_at_a_comma():
    doc = yaml.safe_load("models:\n  - name: m\n    columns:\n      - {name: c, description: chapter, heading or subheading.}\n")
    (_, column), = list(_columns(doc, "x"))
    assert set(column) - COLUMN_KEYS == {"heading or subheading."}
