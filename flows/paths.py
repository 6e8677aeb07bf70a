"""Where the project's files live. One place, so nothing else hard-codes a path."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
DEFAULT_CONFIG = PROJECT_ROOT / "bilateral.toml"
SAMPLE_SOURCES_DIR = Path(__file__).resolve().parent / "sample"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
