"""``bilateral new-source NAME``: the skeleton of a new source, working from the first run.

Writes ``flows/sources/NAME/`` (connector, load spec, sample generator, README, reference/; relative
imports inside, so the same package also works as a third-party plug-in), the dbt
staging folder ``dbt_project/models/staging/NAME/`` (sources and model in one yml, a staging model)
and a raw GX suite ``expectations/suites/raw_NAME.{json,sql}`` with no expectations yet. The
skeleton fetches a paged JSON API (``GET {base_url}/records?page=N`` answering
``{"page": 1, "pages": 2, "records": [{"id": "...", "date": "YYYY-MM-DD", "value": 1.5}]}``),
lands every page, loads the records into ``raw.NAME_record`` and replays a generated sample, so the
layout test and ``bilateral run --sample --sources NAME`` pass before any TODO is filled in.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from flows.errors import BilateralError
from flows.paths import Project

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")


class ScaffoldError(BilateralError):
    """The source cannot be scaffolded here (bad name, already exists, no sources folder)."""


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def files_for(name: str) -> dict[str, str]:
    """Relative path (from the project root) -> content of every file of the skeleton."""
    cls = _camel(name)
    table = f"{name}_record"
    return {
        f"flows/sources/{name}/__init__.py": f'''"""{name}: TODO one line on what the source is."""
from flows.sources.base import Source
from .connector import {cls}Connector, {cls}Settings
from .load import LOAD_SPECS
from .sample import generate

SOURCE = Source(
    name="{name}",
    summary="TODO: what the source is, in one line",
    settings={cls}Settings,
    connector={cls}Connector,
    load_specs=LOAD_SPECS,
    sample=generate,
)
''',
        f"flows/sources/{name}/connector.py": f'''"""{name} API (README.md): requests, pagination and error bodies. Knows HTTP and the
payload format, nothing about DuckDB or dbt."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import Field

from flows.errors import ApiErrorBody, MalformedResponse
from flows.http import HttpResponse, build_url
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings

if TYPE_CHECKING:
    from flows.landing import Lander

KIND = "{table}"


class {cls}Settings(SourceSettings):
    base_url: str = "https://example.org/api"  # TODO: the API root
    per_page: int = Field(100, ge=1, description="records per page")


def page_url(settings: {cls}Settings, page: int) -> str:
    return build_url(settings.base_url, "records", {{"page": page, "per_page": settings.per_page}})


class {cls}Connector(Connector):
    source: {cls}Settings

    def partitions(self) -> list[Partition]:
        return [Partition(self.name, "records", "all", {{}})]  # TODO: split into coarse units (a year, a series)

    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        result = ExtractResult(self.name, partition.key, partition.period)
        page, pages = 1, 1
        while page <= pages:
            resp = self.client.get(page_url(self.source, page))
            landed = lander.land(resp, KIND)  # land every answer before looking at it
            result.files.append(landed)
            try:
                doc = parse_page(resp)
            except (ApiErrorBody, MalformedResponse) as exc:
                lander.reject(landed, exc.problem)
                raise
            result.records += len(doc["records"])
            pages = int(doc["pages"])
            page += 1
        return result


def parse_page(resp: HttpResponse) -> dict:
    """Check one page's envelope (TODO: the API's own error bodies, including those sent with HTTP 200)."""
    if resp.status != 200:
        raise ApiErrorBody("{name}", resp.redacted_url, f"HTTP {{resp.status}}: {{resp.text()[:200]!r}}")
    try:
        doc = json.loads(resp.body)
    except ValueError as exc:
        raise MalformedResponse("{name}", resp.redacted_url, f"body is not valid JSON ({{exc}})") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("records"), list) and isinstance(doc.get("pages"), int)):
        raise MalformedResponse("{name}", resp.redacted_url, "expected {{page, pages, records: [...]}}")
    return doc
''',
        f"flows/sources/{name}/load.py": f'''"""{name} pages -> raw.{table} (one row per record), parsed by DuckDB.
A record that breaks the contract (TODO: the source's rules) is quarantined; the rest of the file loads."""
from flows.sources.loadspec import LoadSpec

from .connector import KIND

RECORD = LoadSpec(
    kind=KIND,
    raw_table=KIND,
    columns={{"record_no": "INTEGER", "id": "VARCHAR", "date": "VARCHAR", "value": "DOUBLE"}},
    parse_sql="""
    with doc as (select filename as _file, content::json as j from read_text({{files}})),
    records as (select _file, unnest(from_json(j -> '$.records', '["json"]')) as r,
                       generate_subscripts(from_json(j -> '$.records', '["json"]'), 1) as n from doc)
    select _file, n as record_no, r::varchar as _raw, r as _json, r ->> '$.id' as id, r ->> '$.date' as date,
           try_cast(r ->> '$.value' as double) as value
    from records
    """,
    file_checks=("""
    with doc as (select filename as _file, try_cast(content as json) as j from read_text({{files}}))
    select _file, 'expected an object with a "records" array' from doc where json_type(j -> '$.records') is distinct from 'ARRAY'
    """,),
    checks=("""
    select _file, record_no, 'wrong_type', 'value is ' || coalesce(json_type(_json -> '$.value'), 'missing')
           || ', expected a number'
    from {{parsed}} where json_type(_json -> '$.value') not in ('DOUBLE', 'BIGINT', 'UBIGINT')
    """,),
    natural_key=("id",),
)

LOAD_SPECS = (RECORD,)
''',
        f"flows/sources/{name}/sample.py": f'''"""Sample {name} answers (generated, marked synthetic) under the connector's own request keys.
Deterministic: no wall clock, no unseeded randomness."""
from __future__ import annotations

import json

from flows.http import request_key
from flows.sources.base import SampleContext

from .connector import page_url

RECORDED_AT = "2026-01-01T00:00:00+00:00"


def generate(ctx: SampleContext) -> None:
    settings, writer = ctx.settings, ctx.writer()
    records = [{{"id": f"r{{i}}", "date": f"{{ctx.config.start_year}}-01-{{i + 1:02d}}", "value": float(i)}}
               for i in range(settings.per_page + 1)]
    pages = [records[i:i + settings.per_page] for i in range(0, len(records), settings.per_page)]
    for n, rows in enumerate(pages, start=1):
        body = json.dumps({{"page": n, "pages": len(pages), "records": rows}}).encode()
        writer.add(request_key(settings.base_url, page_url(settings, n), ()), body,
                   content_type="application/json", synthetic=True, recorded_at=RECORDED_AT)
''',
        f"flows/sources/{name}/reference/README.md": f"# {name} reference data\n\nTODO: reference files the "
                                                    "connector or loader reads, each with its public provenance.\n",
        f"flows/sources/{name}/README.md": f'''# {name}

TODO: what the API is, and its public documentation URL.

- **Requests**: `GET {{base_url}}/records?page=N&per_page=100` (TODO: the real endpoints and parameters).
- **Limits**: TODO (rate limits, row caps, URL length).
- **Error shapes**: TODO (HTTP codes, error bodies, errors that arrive with HTTP 200).
- **What bilateral fetches and why**: TODO.
- **Options** (`[sources.{name}]` in `bilateral.toml`): `per_page`, plus the common ones (`enabled`,
  `base_url`, `timeout_seconds`, `max_retries`, `backoff_seconds`, `min_interval_seconds`).
- **Raw table**: `raw.{table}`; staging `dbt_project/models/staging/{name}/`; raw suite `expectations/suites/raw_{name}`.
- **Sample**: `sample.py` (generated, marked synthetic).
''',
        f"dbt_project/models/staging/{name}/_{name}.yml": f'''version: 2
sources:
  - name: {name}
    schema: raw
    description: TODO what the source is; append-only rows as loaded by flows/sources/{name}/load.py.
    config:
      loaded_at_field: _loaded_at
      freshness:
        warn_after: {{count: 2, period: day}}
        error_after: {{count: 8, period: day}}
    tables:
      - name: {table}
        description: One row per record of a landed page, with load metadata.
        columns:
          - {{name: id, description: Record id.}}
          - {{name: date, description: Record date as sent (YYYY-MM-DD).}}
          - {{name: value, description: Record value.}}
          - {{name: _loaded_at, description: When the record was loaded.}}
models:
  - name: stg_{name}__records
    description: "{name} records, typed and renamed; latest load wins."
    columns:
      - name: record_id
        description: Record id.
        data_tests: [not_null, unique]
      - {{name: record_date, description: Record date.}}
      - {{name: value, description: Record value.}}
      - {{name: is_sample, description: True when the record comes from generated sample data.}}
''',
        f"dbt_project/models/staging/{name}/stg_{name}__records.sql": f'''with source as (
    select * from {{{{ source('{name}', '{table}') }}}}
),

renamed as (
    select
        id as record_id,
        try_cast(date as date) as record_date,
        value,
        _synthetic as is_sample,
        _loaded_at as loaded_at,
        _landed_file as landed_file,
        record_no
    from source
),

latest as (
    select *
    from renamed
    qualify row_number() over (partition by record_id order by loaded_at desc, landed_file desc, record_no) = 1
)

select record_id, record_date, value, is_sample from latest
''',
        f"expectations/suites/raw_{name}.json": f'''{{
  "name": "raw_{name}",
  "meta": {{"bilateral": {{"requires_sources": ["{name}"]}}}},
  "expectations": []
}}
''',
        f"expectations/suites/raw_{name}.sql": f'''-- this run's raw batch of {name}: what only a run can know (TODO: expectations in raw_{name}.json)
select * from raw.{table} where _run_id in {{batch_runs}}
''',
    }


def new_source(project: Project, name: str) -> list[Path]:
    """Write the skeleton into ``project``; refuses to overwrite anything."""
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is not a usable source name: use a lower-case identifier of 2-41 "
                            "letters, digits and underscores, starting with a letter (e.g. imf_dots)")
    sources_dir = project.root / "flows" / "sources"
    if not sources_dir.is_dir():
        raise ScaffoldError(f"{sources_dir} does not exist: run new-source in a bilateral checkout (a third-party "
                            "source can also be its own package, registered under the bilateral.sources entry point)")
    files = files_for(name)
    existing = [rel for rel in files if (project.root / rel).exists()] + \
        ([f"flows/sources/{name}/"] if (sources_dir / name).exists() else [])
    if existing:
        raise ScaffoldError(f"source {name!r} exists already ({existing[0]}); nothing was written")
    written = []
    for rel, content in files.items():
        path = project.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
