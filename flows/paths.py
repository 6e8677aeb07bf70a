"""Where a bilateral project's files live.

A *project* is a folder holding ``bilateral.toml``, ``dbt_project/`` and ``expectations/`` (and,
at run time, ``warehouse/``). It is found the way dbt finds ``dbt_project.yml``: ``--project-dir``,
else the environment variable ``BILATERAL_PROJECT_DIR``, else the nearest folder upward from the
current directory that holds ``bilateral.toml``. Nothing resolves from where the Python package
happens to be installed, except the package's own data (source reference files, the country list).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flows.errors import BilateralError

CONFIG_NAME = "bilateral.toml"
PROJECT_ENV = "BILATERAL_PROJECT_DIR"
PACKAGE_DIR = Path(__file__).resolve().parent
#: bilateral's own reference data (the country crosswalk), shipped with the package
REFERENCE_DIR = PACKAGE_DIR / "reference"


class ProjectNotFound(BilateralError):
    """No bilateral project where one was asked for."""


@dataclass(frozen=True)
class Project:
    root: Path

    @property
    def default_config(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def dbt_project_dir(self) -> Path:
        return self.root / "dbt_project"

    @property
    def expectations_dir(self) -> Path:
        return self.root / "expectations"

    @property
    def suites_dir(self) -> Path:
        return self.expectations_dir / "suites"

    @property
    def dbt_staging_dir(self) -> Path:
        return self.dbt_project_dir / "models" / "staging"


def find_project(project_dir: str | Path | None = None, environ: dict[str, str] | None = None,
                 cwd: Path | None = None) -> Project:
    """The project named by ``project_dir``, ``BILATERAL_PROJECT_DIR``, or found upward from ``cwd``."""
    environ = os.environ if environ is None else environ
    named = project_dir or environ.get(PROJECT_ENV)
    if named:
        root = Path(named).expanduser().resolve()
        origin = "--project-dir" if project_dir else PROJECT_ENV
        if not (root / CONFIG_NAME).is_file():
            raise ProjectNotFound(f"{origin} {root}: no {CONFIG_NAME} there; point it at a bilateral project folder "
                                  f"(one holding {CONFIG_NAME}, dbt_project/ and expectations/)")
        return Project(root)
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file():
            return Project(folder)
    raise ProjectNotFound(f"no {CONFIG_NAME} in {start} or any folder above it; run bilateral inside a project, "
                          f"or pass --project-dir DIR (or set {PROJECT_ENV})")
