"""Process-wide defaults: telemetry off, Prefect in local ephemeral mode under warehouse/."""
from __future__ import annotations

import os

from flows.paths import PROJECT_ROOT

_DEFAULTS = {
    # Prefect: local ephemeral API whose SQLite history lives inside the project runtime folder.
    "PREFECT_HOME": str(PROJECT_ROOT / "warehouse" / ".prefect"),
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
