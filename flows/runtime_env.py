"""Process-wide defaults: telemetry off; Prefect in local ephemeral mode under the warehouse folder."""
from __future__ import annotations

import os
from pathlib import Path

_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_UI_ENABLED": "false",
    # dbt: no anonymous usage stats, no version check against the package index.
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "DBT_VERSION_CHECK": "false",
    # GX: no analytics.
    "GX_ANALYTICS_ENABLED": "false",
}


def apply_defaults() -> None:
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)


def use_prefect_home(warehouse_dir: Path) -> None:
    """Prefect's local run history lives beside the warehouse it ran on (unless PREFECT_HOME is set).
    Must run before Prefect is imported."""
    if "PREFECT_HOME" not in os.environ:
        home = Path(warehouse_dir) / ".prefect"
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
