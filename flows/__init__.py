"""bilateral: nightly ETL of bilateral trade, tariffs and relations.

Importing the package sets the runtime defaults every entry point needs *before* Prefect,
dbt or GX are imported: usage telemetry off (values already set in the environment win).
"""
from flows.runtime_env import apply_defaults as _apply_defaults

_apply_defaults()
