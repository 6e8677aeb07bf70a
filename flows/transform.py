"""Run dbt (build: seeds, models, snapshots, tests, unit tests) on the working warehouse.

The staging models of the sources whose tables grow (GDELT events, Comtrade records) are
incremental: a night rebuilds only what changed since the last successful build (docs/architecture.md,
"Incremental nights"); ``full_refresh`` (``bilateral run --full-refresh``) rebuilds them from scratch.

By default dbt's programmatic runner executes ``dbt build`` inside one Prefect task, and every
dbt node (model, seed, snapshot, test, unit test) is reported in the run as a row of the
``dbt-nodes`` table artifact with its status and time. ``dbt.task_per_node = true`` uses
prefect-dbt's PrefectDbtRunner instead, which makes each node a Prefect task run of its own; on
this project that costs about 4x the dbt time (Prefect bookkeeping per node), hence not the default.

Each warehouse gets its own dbt target and log folders (``<warehouse>/dbt/``), so runs against
different warehouses never share partial-parse state. The DuckDB file stays open for the whole
invocation (profiles.yml ``keep_open: true``: with ``false`` dbt-duckdb closed and reopened it, a
checkpoint each time, whenever no node held a connection: 3-4 s of a 25 s sample build) and is closed
right after it (:func:`release_duckdb`), so GX, publishing and other processes can open it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from flows.paths import Project
from flows import progress
from flows.run_markers import marker
from flows.storage import storage_fault_in_text


@dataclass
class DbtReport:
    success: bool
    nodes: list[dict] = field(default_factory=list)
    message: str = ""

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for n in self.nodes:
            out[n["status"]] = out.get(n["status"], 0) + 1
        return out


def dbt_env(project: Project, db_path: Path, run_id: str, memory_limit: str | None = None) -> None:
    """The environment dbt_project/profiles.yml reads (``memory_limit``: DuckDB's, default the profile's)."""
    os.environ["BILATERAL_DUCKDB"] = str(Path(db_path).resolve())
    if memory_limit:
        os.environ["BILATERAL_DUCKDB_MEMORY_LIMIT"] = memory_limit
    os.environ["BILATERAL_RUN_ID"] = run_id
    os.environ["DBT_PROFILES_DIR"] = str(project.dbt_project_dir)
    os.environ["DBT_PROJECT_DIR"] = str(project.dbt_project_dir)


def release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb holds in this process (after an in-process dbt invocation).
    ``close_all_connections()`` only drops dbt-duckdb's environment and leaves the closing to the garbage
    collector; the environment's own ``close()`` closes the database now."""
    from dbt.adapters.duckdb import DuckDBConnectionManager

    env = getattr(DuckDBConnectionManager, "_ENV", None)
    if env is not None and hasattr(env, "close"):
        env.close()
    DuckDBConnectionManager.close_all_connections()


def _report(result) -> DbtReport:
    nodes = []
    for r in (getattr(result, "result", None) or []):
        node = getattr(r, "node", None)
        nodes.append({"node": getattr(node, "unique_id", "?"), "type": str(getattr(node, "resource_type", "?")),
                      "status": str(getattr(r, "status", "?")),
                      "seconds": round(float(getattr(r, "execution_time", 0) or 0), 3),
                      "message": str(getattr(r, "message", "") or "")[:500]})
    failed = [n for n in nodes if n["status"] in ("error", "fail", "runtime error")]
    exc = getattr(result, "exception", None)
    message = "; ".join(f"{n['node']}: {n['status']} {n['message']}" for n in failed[:10])
    if exc and not message:
        message = str(exc)
    return DbtReport(success=bool(getattr(result, "success", False)) and not failed, nodes=nodes, message=message)


#: the nightly's dbt invocation: models, seeds, the snapshot and the data tests. dbt's unit tests check
#: the models' SQL on fixed inputs, so they cannot change from one night's data to the next: they run
#: with the test suite (tests/test_transform.py builds with them) and in CI, not every night.
NIGHTLY_BUILD = ["build", "--exclude-resource-type", "unit_test"]


def build(project: Project, db_path: Path, run_id: str, args: list[str] | None = None,
          task_per_node: bool = False, full_refresh: bool = False, memory_limit: str | None = None) -> DbtReport:
    """``dbt build`` (or other args) of the project's dbt project against ``db_path``;
    ``full_refresh`` rebuilds the incremental models from all their records (dbt --full-refresh);
    ``memory_limit``: DuckDB's while dbt runs (warehouse.duckdb_memory_limit)."""
    dbt_env(project, db_path, run_id, memory_limit)
    dbt_dir = project.dbt_project_dir
    work = Path(db_path).resolve().parent / "dbt"
    argv = [*(args or ["build"]), *(["--full-refresh"] if full_refresh else []),
            "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir),
            "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    try:
        if task_per_node:
            from dbt_common.events.base_types import EventLevel
            from prefect_dbt import PrefectDbtRunner, PrefectDbtSettings

            # dbt's levels are debug/info/warn/error: pass one explicitly rather than Prefect's "WARNING"
            settings = PrefectDbtSettings(project_dir=dbt_dir, profiles_dir=dbt_dir,
                                          target_path=work / "target", log_level=EventLevel.WARN)
            runner = PrefectDbtRunner(settings=settings, raise_on_failure=False, include_compiled_code=False)
            result = runner.invoke(argv)
        else:
            from dbt.cli.main import dbtRunner

            # nothing on the console: failures come back in the result and the run's summary names them
            result = dbtRunner(callbacks=[_on_node_start]).invoke([*argv, "--quiet", "--log-level", "none"])
    finally:
        release_duckdb()
    report = _report(result)
    if not report.success:  # a full or read-only disk is the run's problem, not a failing model
        fault = storage_fault_in_text(report.message, Path(db_path).resolve().parent,
                                      "build the marts (dbt: the working file and dbt's target folder) in")
        if fault is not None:
            raise fault
    return report


def _on_node_start(event) -> None:
    """dbt event callback: the ``dbt:node`` kill point of the reliability tests, and the nodes done
    (every node ends with NodeFinished; the events that carry dbt's node count give the total)."""
    info = getattr(event, "info", None)
    if info is None:
        return
    if info.name == "NodeStart":
        marker("dbt:node")
    elif info.name == "NodeFinished":
        progress.event("done", step="dbt", unit="nodes")
    total = getattr(getattr(event, "data", None), "total", 0)
    if isinstance(total, int) and total > 0:
        progress.event("done", step="dbt", unit="nodes", n=0, total=total)
