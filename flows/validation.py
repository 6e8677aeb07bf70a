"""Validate a run with Great Expectations before anything is published.

Each suite is two files side by side in ``expectations/suites/``: ``<suite>.json`` (the GX 1.x suite:
name, expectations, meta) and ``<suite>.sql`` (the data it checks: a query over the working
warehouse, where ``{run_id}`` is this run's id, so raw-batch suites check only the rows this run
loaded, and ``{suite}`` the suite's name). ``meta.bilateral.requires_sources`` in the JSON names
sources the suite needs: it is skipped (and says so) while one of them is disabled in the
configuration, so switching a source off never blocks publishing. A JSON without its .sql (or a
.sql without its JSON) is an error naming the file. Which checks live here and which in dbt:
expectations/README.md.

GX's SQL datasource on DuckDB silently returns empty results (every expectation errors instead of
evaluating), so the batch is a pandas DataFrame from a read-only DuckDB query and GX's pandas
engine evaluates it, one suite's batch at a time (read just before it is evaluated, dropped after).
The suites are evaluated in an in-memory GX context; then this night's suites and results are
stored in the file context under ``<warehouse>/gx/`` (untracked) and only their Data Docs pages are
built (with the index), so a night's validation costs the same on the first night and the
hundredth. Results older than the last ``KEEP_GX_RUNS`` nights are removed there; one row per suite
goes into ``audit.validations``, which keeps every night. A result whose expectations raised
exceptions counts as failed, never as passed.

Severity: an expectation may carry ``"meta": {"severity": "warn"}`` (default ``fail``). A failed
``warn`` expectation is reported (in the suite's failures, with its severity, and in
``audit.validations``) but does not fail the suite, so it never blocks publication.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from flows.errors import StorageError, ValidationFailed
from flows import progress
from flows.run_markers import marker
from flows.storage import guarded
from flows.warehouse import connect, utcnow

SAMPLE_SIZE = 5
#: nights whose GX results (and Data Docs pages) are kept under <warehouse>/gx; older ones are removed
#: at each validation, so neither the folder nor a night's Data Docs build grows with the history.
#: audit.validations keeps every night's outcome and failures.
KEEP_GX_RUNS = 30
SEVERITIES = ("fail", "warn")  # an expectation's meta.severity; default fail


def severity(expectation: dict) -> str:
    """``fail`` (blocks publication) or ``warn`` (reported, never blocks) from ``meta.severity``."""
    value = ((expectation.get("meta") or {}).get("severity") or "fail")
    if value not in SEVERITIES:
        raise ValueError(f"{expectation.get('type')} {expectation.get('kwargs')}: meta.severity {value!r} "
                         f"is not one of {', '.join(SEVERITIES)}")
    return value


@dataclass
class SuiteSpec:
    name: str
    query: str
    expectations: list[dict]
    path: Path  # the suite JSON
    requires_sources: tuple[str, ...] = ()
    query_path: Path | None = None  # the suite's .sql (None for suites built in code)
    #: raw table whose run batch the suite checks (meta.bilateral.quarantine): its query selects
    #: _landed_file and record_no, records already refused are left out of it, and the records a
    #: failed expectation names are refused (quarantined) so that no later night publishes them
    quarantine: str | None = None


@dataclass
class SuiteResult:
    suite: str
    success: bool  # no failed expectation of severity fail (warnings never fail a suite)
    evaluated: int
    failed: int  # failed expectations of severity fail (an expectation that raised counts here)
    rows_checked: int
    failures: list[dict] = field(default_factory=list)  # every failed expectation, each with its severity
    warnings: int = 0  # failed expectations of severity warn
    #: records the failed expectations of a raw-batch suite name: {landed_file, record_no (None: the
    #: whole file), expectation, column}
    refused: list[dict] = field(default_factory=list)
    quarantine: str | None = None  # the raw table a raw-batch suite quarantines into


def _describe(suite: str, f: dict) -> str:
    col = f" column '{f['column']}'" if f.get("column") else ""
    sample = f" bad values (sample): {f['sample']}" if f.get("sample") not in (None, []) else ""
    extra = f" {f['detail']}" if f.get("detail") else ""
    return f"suite '{suite}': {f['expectation']}{col} failed;{sample}{extra}"


@dataclass
class ValidationReport:
    success: bool
    suites: list[SuiteResult]
    data_docs: str = ""
    skipped: list[str] = field(default_factory=list)  # "suite (needs disabled source x)"

    def warning_lines(self) -> list[str]:
        """Failed ``warn`` expectations: reported, not blocking."""
        return [_describe(s.suite, f) for s in self.suites for f in s.failures if f.get("severity") == "warn"]

    def failure_message(self) -> str:
        lines = [_describe(s.suite, f) for s in self.suites for f in s.failures if f.get("severity", "fail") == "fail"]
        warned = [f"[warn] {line}" for line in self.warning_lines()]
        return "validation failed, nothing published:\n  " + "\n  ".join(lines + warned)


def load_suites(directory: Path) -> list[SuiteSpec]:
    """Every suite of ``directory``: ``<suite>.json`` (the GX suite) with ``<suite>.sql`` (its data)."""
    directory = Path(directory)
    jsons = {p.stem: p for p in directory.glob("*.json")}
    queries = {p.stem: p for p in directory.glob("*.sql")}
    orphans = sorted(queries.keys() - jsons.keys())
    if orphans:
        raise ValueError("; ".join(f"{queries[stem]}: no suite {stem}.json beside it" for stem in orphans)
                         + " (a query without expectations checks nothing)")
    specs = []
    for stem, path in sorted(jsons.items()):
        sql_path = queries.get(stem)
        if sql_path is None:
            raise ValueError(f"{path}: its query {path.with_suffix('.sql')} is missing (which data does this suite check?)")
        doc = json.loads(path.read_text(encoding="utf-8"))
        binding = (doc.get("meta") or {}).get("bilateral") or {}
        if "query" in binding:
            raise ValueError(f"{path}: meta.bilateral.query is not read; the suite's query lives in {sql_path}")
        name = doc.get("name") or stem
        if name != stem:
            raise ValueError(f"{path}: suite name {name!r} differs from its file name {stem!r}")
        query = sql_path.read_text(encoding="utf-8").strip().rstrip(";").strip()
        if not query:
            raise ValueError(f"{sql_path}: empty query")
        for i, expectation in enumerate(doc.get("expectations", [])):
            try:
                severity(expectation)
            except ValueError as exc:
                raise ValueError(f"{path}: expectation {i}: {exc}") from None
        specs.append(SuiteSpec(name, query, doc.get("expectations", []), path,
                               tuple(binding.get("requires_sources", ())), sql_path, binding.get("quarantine")))
    return specs


def render_query(spec: SuiteSpec, run_id: str) -> str:
    """The suite's query for this run: ``{run_id}`` and ``{suite}`` substituted (as SQL string contents),
    ``{previous_rows}`` by the rows the suite checked at its last successful validation in an earlier
    run (null on a first run), for volume checks, and ``{batch_runs}`` by the runs whose raw rows this
    night validates: this run and every run since the last successful one (a failed or abandoned
    night's rows are checked before any night publishes them).
    A raw-batch suite sees only records not refused yet."""
    previous_rows = ("(select rows_checked from audit.validations where suite = '{suite}' and success "
                     "and run_id <> '{run_id}' order by validated_at desc limit 1)")
    batch_runs = ("(select '{run_id}' union select run_id from audit.runs where started_at > coalesce("
                  "(select max(started_at) from audit.runs where status in ('success', 'partial') "
                  "and run_id <> '{run_id}'), timestamptz '1970-01-01 00:00:00+00'))")
    query = (spec.query.replace("{previous_rows}", previous_rows).replace("{batch_runs}", batch_runs)
             .replace("{run_id}", run_id.replace("'", "''"))
             .replace("{suite}", spec.name.replace("'", "''")))
    if spec.quarantine:
        query = (f"select * from ({query}) as batch where not exists (select 1 from quarantine.{spec.quarantine} as q "
                 "where q.landed_file = batch._landed_file and q.status in ('quarantined', 'dropped') "
                 "and (q.record_no = batch.record_no or q.record_no is null))")
    return query


IDENTITY = ["_landed_file", "record_no"]


def _refused(spec: SuiteSpec, validation_result, df) -> list[dict]:
    """The records a raw-batch suite's failed (fail-severity) expectations name; the whole batch's
    files when an expectation fails on the table as a whole (e.g. its columns)."""
    out: list[dict] = []
    for r in validation_result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        if severity({"type": cfg.type, "kwargs": dict(cfg.kwargs), "meta": cfg.meta or {}}) != "fail":
            continue
        column = dict(cfg.kwargs).get("column")
        rows = (r.result or {}).get("unexpected_index_list")
        if rows and all(isinstance(row, dict) and set(IDENTITY) <= set(row) for row in rows):
            out += [{"landed_file": row["_landed_file"], "record_no": int(row["record_no"]),
                     "expectation": cfg.type, "column": column} for row in rows]
        else:
            out += [{"landed_file": path, "record_no": None, "expectation": cfg.type, "column": column}
                    for path in sorted(set(df["_landed_file"])) if path]
    return out


def _raised(exception_info) -> str:
    """The message of an exception GX caught while evaluating an expectation ('' when none). GX puts
    it at the top level or under each metric it failed to compute."""
    if not isinstance(exception_info, dict):
        return ""
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in infos:
        if str(info.get("raised_exception")).lower() == "true":
            return str(info.get("exception_message") or "exception without a message")
    return ""


def _failures(validation_result) -> list[dict]:
    """Every failed expectation with its severity; one that raised is a failure whatever its severity."""
    out = []
    for r in validation_result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = dict(cfg.kwargs)
        result = r.result or {}
        raised = _raised(r.exception_info)
        level = "fail" if raised else severity({"type": cfg.type, "kwargs": kwargs, "meta": cfg.meta or {}})
        detail = ""
        if raised:
            detail = f"(expectation raised: {raised[:300]})"
        elif "observed_value" in result:
            detail = f"(observed {result['observed_value']!r})"
        if result.get("unexpected_count") is not None:
            detail = f"({result['unexpected_count']} of {result.get('element_count')} rows) {detail}".strip()
        sample = list(dict.fromkeys(str(v) for v in result.get("partial_unexpected_list") or []))
        out.append({"expectation": cfg.type, "column": kwargs.get("column") or kwargs.get("column_list")
                    or (f"{kwargs.get('column_A')}/{kwargs.get('column_B')}" if "column_A" in kwargs else None),
                    "severity": level, "sample": sample[:SAMPLE_SIZE], "detail": detail})
    return out


def _suite_failure(expectation: str, detail: str) -> dict:
    return {"expectation": expectation, "column": None, "severity": "fail", "sample": [], "detail": detail}


def _enabled(suites: list[SuiteSpec], enabled_sources: list[str] | None) -> tuple[list[SuiteSpec], list[str]]:
    """The suites whose sources are all enabled, and why the others are skipped."""
    if enabled_sources is None:
        return suites, []
    skipped = [f"{s.name} (needs disabled source {', '.join(x for x in s.requires_sources if x not in enabled_sources)})"
               for s in suites if any(x not in enabled_sources for x in s.requires_sources)]
    return [s for s in suites if all(x in enabled_sources for x in s.requires_sources)], skipped


def _evaluator():
    """An in-memory GX context and its pandas datasource: where the suites are evaluated. Nothing of it
    is written anywhere (a file context rewrites its YAML and JSON stores for every asset, suite and
    checkpoint it touches, which cost more than evaluating the expectations)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                            ProgressBarsConfig)

    # no Data Docs site: GX's default ephemeral context makes a temporary folder for one every time
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    ctx = gx.get_context(project_config=config, mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    return ctx.data_sources.add_pandas("bilateral_warehouse")


def _results_context(gx_root: Path):
    """The file-mode GX context under ``gx_root`` that keeps the suites, the validation results and
    the Data Docs built from them."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    gx_root = Path(gx_root)
    gx_root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(gx_root))
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.variables.save()
    return ctx


COLUMN_KWARGS = ("column", "column_list", "column_A", "column_B")
NO_COLUMNS = ("expect_table_row_count_to_be_between", "expect_table_row_count_to_equal")


def batch_columns(spec: SuiteSpec) -> set[str] | None:
    """The columns the suite's expectations name (and the identity of a raw-batch suite), or None
    when the batch must keep every column (a table-columns expectation, or one naming none)."""
    named: set[str] = set(IDENTITY) if spec.quarantine else set()
    for e in spec.expectations:
        kwargs = e.get("kwargs") or {}
        found = [kwargs[k] for k in COLUMN_KWARGS if k in kwargs]
        table_level = str(e.get("type", "")).startswith("expect_table_")  # e.g. columns_to_match_ordered_list
        if (table_level or not found) and e.get("type") not in NO_COLUMNS:
            return None
        if "row_condition" in kwargs:  # a condition may name any column: keep them all
            return None
        for value in found:
            named |= set(value) if isinstance(value, list) else {value}
    return named or None


def _frame(con, spec: SuiteSpec, run_id: str):
    """The suite's batch as a pandas DataFrame from a read-only DuckDB query, or why it could not be
    read. One suite's batch at a time, and only the columns its expectations name (a column no
    query selects is left for GX to report): validation's memory follows the largest batch's
    checked columns, not every suite's whole rows."""
    query = render_query(spec, run_id)
    try:
        wanted = batch_columns(spec)
        if wanted is not None:
            selected = [d[0] for d in con.execute(f"select * from ({query}) as batch limit 0").description]
            keep = [c for c in selected if c in wanted]
            if keep and len(keep) < len(selected):
                cols = ", ".join('"' + c.replace('"', '""') + '"' for c in keep)
                query = f"select {cols} from ({query}) as batch"
        return con.execute(query).df(), ""
    except duckdb.Error as exc:  # the suite cannot evaluate: it fails, the other suites still run
        return None, f"({type(exc).__name__}: {str(exc).splitlines()[0][:300]})"


@dataclass
class _Evaluated:
    """One suite's outcome, and GX's result to keep (None when GX could not run the suite)."""
    result: SuiteResult
    gx_result: object = None
    batch_id: str = ""


def _run_suite(datasource, spec: SuiteSpec, df) -> _Evaluated:
    """The suite evaluated on its batch. An invalid suite or one GX cannot run fails, never passes."""
    import great_expectations as gx

    marker("validate:suite")
    if spec.quarantine and not set(IDENTITY) <= set(df.columns):
        return _Evaluated(SuiteResult(spec.name, False, 0, 1, len(df), [_suite_failure(
            "query", f"(a suite that quarantines raw.{spec.quarantine} must select {', '.join(IDENTITY)})")]))
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
    if spec.quarantine:  # name the refused records
        result_format = {"result_format": "COMPLETE", "partial_unexpected_count": 20,
                         "unexpected_index_column_names": IDENTITY}
    try:
        batch = (datasource.add_dataframe_asset(spec.name).add_batch_definition_whole_dataframe("whole")
                 .get_batch(batch_parameters={"dataframe": df}))
        suite = gx.ExpectationSuite(name=spec.name, expectations=spec.expectations)
        vr = batch.validate(suite, result_format=result_format)
    except Exception as exc:  # noqa: BLE001 - e.g. an invalid expectation: the suite fails, never passes
        message = " ".join(str(exc).split())[:300]
        return _Evaluated(SuiteResult(spec.name, False, 0, 1, len(df), [_suite_failure(
            "suite", f"(GX could not run the suite: {type(exc).__name__}: {message})")]))
    failures = _failures(vr)
    if len(vr.results) != len(spec.expectations):
        failures.append(_suite_failure("suite", f"(GX returned {len(vr.results)} results for "
                                                f"{len(spec.expectations)} expectations)"))
    elif not vr.success and not failures:
        failures.append(_suite_failure("suite", "(GX reported the suite failed without a failed expectation)"))
    blocking = [f for f in failures if f["severity"] == "fail"]
    evaluated = int((vr.statistics or {}).get("evaluated_expectations", len(spec.expectations)))
    return _Evaluated(SuiteResult(spec.name, not blocking, evaluated, len(blocking), len(df), failures,
                                  warnings=len(failures) - len(blocking), quarantine=spec.quarantine,
                                  refused=_refused(spec, vr, df) if spec.quarantine and blocking else []),
                      vr, batch.id)


def _keep(gx_root: Path, run_id: str, suites: list[SuiteSpec], evaluated: list[_Evaluated]) -> str:
    """Store this run's suites and results in the file context under ``gx_root`` and build their Data
    Docs pages (only this run's: the other pages are there from their own nights, so a night's cost does
    not grow with the history). The Data Docs index URL ('' when GX names none)."""
    import datetime

    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier, ValidationResultIdentifier)

    ctx = _results_context(gx_root)
    run = RunIdentifier(run_name=run_id, run_time=datetime.datetime.now(datetime.timezone.utc))
    built = []
    for spec, ev in zip(suites, evaluated):
        if ev.gx_result is None:  # GX could not run it (its failure is in audit.validations)
            continue
        suite_id = ExpectationSuiteIdentifier(name=spec.name)
        ctx.suites.add_or_update(gx.ExpectationSuite(name=spec.name, expectations=spec.expectations))
        built.append(suite_id)
        ev.gx_result.meta.update(run_id=run, validation_time=run.run_time,
                                 batch_parameters={"dataframe": "<DATAFRAME>"})
        key = ValidationResultIdentifier(expectation_suite_identifier=suite_id, run_id=run,
                                         batch_identifier=ev.batch_id)
        ctx.validation_results_store.store_validation_results(
            suite_validation_result=ev.gx_result, suite_validation_result_identifier=key,
            expectation_suite_identifier=suite_id)
        built.append(key)
    _drop_old_results(ctx.validation_results_store, KEEP_GX_RUNS)
    ctx.build_data_docs(resource_identifiers=built)
    try:
        return ctx.get_docs_sites_urls()[0]["site_url"] or ""
    except (IndexError, KeyError):
        return ""


def validate(db_path: Path, run_id: str, gx_root: Path, suites: list[SuiteSpec] | None = None,
             enabled_sources: list[str] | None = None, suites_dir: Path | None = None) -> ValidationReport:
    """Run every suite (``suites``, else those of ``suites_dir``) against the working warehouse;
    record results. Does not raise on failure. With ``enabled_sources``, suites requiring a source
    not in it are skipped. A suite fails on a failed expectation of severity ``fail`` (or one that
    raised, or a query that fails); failed ``warn`` expectations are reported in its failures (and
    ``audit.validations``) with their severity but do not fail it."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    if suites is None and suites_dir is None:
        raise ValueError("validate() needs the suites or the project's suites_dir")
    suites, skipped = _enabled(load_suites(suites_dir) if suites is None else suites, enabled_sources)
    for spec in suites:  # a suite built in code gets the same severity check as a file
        for expectation in spec.expectations:
            severity(expectation)
    datasource = _evaluator()
    progress.event("planned", step="validate", unit="suites", total=len(suites))
    evaluated = []
    with connect(db_path, read_only=True) as con:
        for s in suites:
            df, error = _frame(con, s, run_id)
            evaluated.append(_Evaluated(SuiteResult(s.name, False, 0, 1, 0, [_suite_failure(
                                 "query", f"{s.query_path or 'the suite query'} failed {error}")]))
                             if error else _run_suite(datasource, s, df))
            del df
            progress.event("done", step="validate", unit="suites", item=s.name)
    results = [ev.result for ev in evaluated]
    try:
        with guarded(gx_root, "write Great Expectations results and Data Docs under"):
            docs = _keep(gx_root, run_id, suites, evaluated)
    except StorageError:
        _forget_run(gx_root, run_id)
        raise
    with connect(db_path) as con:
        for r, spec in zip(results, suites):
            con.execute("insert into audit.validations values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, r.suite, spec.query, r.success, r.evaluated, r.failed, r.rows_checked,
                         json.dumps(r.failures), utcnow()])
    return ValidationReport(success=all(r.success for r in results), suites=results, data_docs=docs, skipped=skipped)


def _drop_old_results(store, keep: int) -> int:
    """Remove the stored results of all but the ``keep`` latest runs (by their latest result's time);
    the Data Docs build then removes their pages. The number of results removed."""
    keys = store.list_keys()
    latest: dict[str, object] = {}
    for key in keys:
        name, when = key.run_id.run_name, key.run_id.run_time
        latest[name] = max(latest.get(name, when), when)
    kept = set(sorted(latest, key=lambda name: latest[name], reverse=True)[:keep])
    old = [key for key in keys if key.run_id.run_name not in kept]
    for key in old:
        store.remove_key(key)
    return len(old)


def _forget_run(gx_root: Path, run_id: str) -> None:
    """Remove what GX wrote for this run (results and Data Docs pages, folders named by the run id):
    after a storage fault they may be truncated, and GX would trip over them on every later night."""
    for folder in sorted(Path(gx_root).rglob(run_id), key=lambda p: -len(p.parts)):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def require_success(report: ValidationReport) -> None:
    if not report.success:
        raise ValidationFailed(report.failure_message())
