"""bilateral's configuration: one TOML file, overridden by environment variables, then CLI flags,
validated by pydantic models before any work.

Overrides:
- environment: ``BILATERAL__<section>__<key>[__<key>]=value``, e.g.
  ``BILATERAL__countries__focus=CAN,CHN,USA,MEX`` or
  ``BILATERAL__sources__worldbank__base_url=http://127.0.0.1:8000``; ``BILATERAL_CONFIG`` names the file.
- CLI: ``--set section.key=value`` (repeatable), applied last.

Text from the environment and ``--set`` is read as a TOML value where the key's type is not a
string (``2015`` is an integer, ``true`` a boolean, ``["CAN","MEX"]`` a list; a list may also be
written ``CAN,MEX``), then validated exactly like the file: strictly. ``start = "2015"`` or
``enabled = "yes"`` is refused wherever it comes from. Every problem raises ConfigError naming the
key, the value and what is allowed. API keys never come from the file: a source names the
environment variable (or the Prefect Secret block) that holds its key.
"""
from __future__ import annotations

import itertools
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from flows.alerts_config import AlertsSection, resolve as resolve_alerts
from flows.countries import countries
from flows.errors import BilateralError
from flows.paths import Project, find_project
from flows.sources import discover_sources
from flows.sources.base import SourceSettings

ENV_PREFIX = "BILATERAL__"
SECRET_WORDS = ("api_key", "apikey", "token", "password", "subscription_key", "secret")
EXAMPLE_COUNTRIES = ("CAN", "CHN", "USA", "MEX", "JPN", "KOR", "DEU", "FRA", "GBR")


class ConfigError(BilateralError, ValueError):
    """Bad configuration: the message names the key, the value and what is allowed."""


# --- the file's sections -------------------------------------------------------------------------
class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _country(code: str) -> str:
    known = countries()
    if code not in known:
        examples = ", ".join(c for c in EXAMPLE_COUNTRIES if c in known)
        raise ValueError(f"unknown country code {code!r}; allowed: ISO3 codes of UN Comtrade reporters "
                         f"({len(known)} known, e.g. {examples}; list in flows/reference/countries/Reporters.json)")
    return code


class CountriesSection(_Section):
    focus: list[str] = Field(default_factory=lambda: ["CAN", "CHN", "USA"], description="ISO3 codes")
    pairs: Union[Literal["all"], list[str]] = Field("all", description='"all" or a list of "AAA-BBB" pairs')

    @field_validator("focus")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        codes = list(dict.fromkeys(_country(c.strip().upper()) for c in value))
        if len(codes) < 2:
            raise ValueError("at least two countries are needed for a pair")
        return codes

    @model_validator(mode="after")
    def _pairs_within_focus(self) -> "CountriesSection":
        if self.pairs == "all":
            return self
        for p in self.pairs:
            bits = p.replace("–", "-").split("-")
            if len(bits) != 2:
                raise ValueError(f"countries.pairs: {p!r} is not of the form 'AAA-BBB'")
            try:
                a, b = (_country(x.strip().upper()) for x in bits)
            except ValueError as exc:
                raise ValueError(f"countries.pairs: {p!r}: {exc}") from None
            if a == b:
                raise ValueError(f"countries.pairs: {p!r} pairs a country with itself")
            outside = [c for c in (a, b) if c not in self.focus]
            if outside:
                raise ValueError(f"countries.pairs: {outside[0]} in {p!r} is not in countries.focus {self.focus}")
        return self


class YearsSection(_Section):
    start: int = Field(2015, ge=1990, description="first year")
    end: Union[int, Literal["latest"]] = Field("latest", description='last year, or "latest"')

    @model_validator(mode="after")
    def _ordered(self) -> "YearsSection":
        if self.end != "latest" and self.end < self.start:
            raise ValueError(f"years.end {self.end} is before years.start {self.start}")
        if self.start > date.today().year:
            raise ValueError(f"years.start {self.start} is in the future")
        return self


DEFAULT_DUCKDB_MEMORY_LIMIT = "3GB"


class WarehouseSection(_Section):
    dir: str = Field("warehouse", description="relative to the project folder, or absolute")
    publish_on_source_failure: bool = False
    max_quarantined_per_night: int = Field(1000, ge=0, description=(
        "records quarantined in one night (load and validation) above which the run fails: that many bad "
        "records point at a broken source, not at bad records"))
    working_file_wait_seconds: float = Field(180.0, ge=0, description=(
        "how long a run waits, at its start, for another process (a reader of the working file) to let "
        "go of it, showing who holds it, before it fails; 0 fails at once"))
    load_batch_mb: int = Field(256, ge=1, description=(
        "landed megabytes the load parses and checks at a time: its memory grows with this, not with the "
        "night (flows/load_batches.py)"))
    duckdb_memory_limit: str = Field(DEFAULT_DUCKDB_MEMORY_LIMIT, pattern=r"^[0-9]+(\.[0-9]+)? ?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
                                     description=(
        "DuckDB's memory limit while dbt builds the marts (e.g. 3GB, 8GiB): above it DuckDB spills to a "
        "temporary folder beside the warehouse file, so a night's peak memory stays near it"))


class ScheduleSection(_Section):
    cron: str = Field("0 2 * * *", description="five-field cron expression")
    timezone: str = Field("UTC", description="IANA time zone, e.g. America/Toronto")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from cronsim import CronSim, CronSimError

        shape = 'not a cron expression ({}5 fields: minute hour day month weekday), e.g. "0 3 * * *"'
        if len(value.split()) != 5:  # cronsim also takes a sixth (seconds) field; crontab and systemd do not
            raise ValueError(shape.format(""))
        try:
            CronSim(value, datetime(2026, 1, 1))
        except CronSimError as exc:
            raise ValueError(shape.format(f"{str(exc).lower()}; ")) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not an IANA time zone (e.g. UTC, America/Toronto, Asia/Shanghai)") from None
        return value


class DbtSection(_Section):
    task_per_node: bool = False


_SECTIONS: dict[str, type[_Section]] = {"countries": CountriesSection, "years": YearsSection,
                                        "warehouse": WarehouseSection, "schedule": ScheduleSection, "dbt": DbtSection,
                                        "alerts": AlertsSection}


def file_model(settings: dict[str, type[SourceSettings]]) -> type[BaseModel]:
    """The model of the whole file: the fixed sections plus ``[sources.<name>]`` for every known source."""
    sources = create_model("SourcesSection", __base__=_Section,
                           **{name: (cls, Field(default_factory=_default_factory(cls))) for name, cls in settings.items()})
    return create_model("ConfigFile", __base__=_Section,
                        **{name: (cls, Field(default_factory=cls)) for name, cls in _SECTIONS.items()},
                        sources=(sources, Field(default_factory=sources)))


def _default_factory(cls: type[SourceSettings]):
    return lambda: cls()


# --- the resolved configuration the code uses ------------------------------------------------------
@dataclass(frozen=True)
class Config:
    path: Path
    project: Project
    countries: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    start_year: int
    end_year: int
    sources: dict[str, SourceSettings]
    warehouse_dir: Path
    publish_on_source_failure: bool
    schedule_cron: str
    schedule_timezone: str
    dbt_task_per_node: bool = False
    max_quarantined_per_night: int = 1000
    working_file_wait_seconds: float = 180.0
    load_batch_mb: int = 256
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT
    alerts: AlertsSection = field(default_factory=AlertsSection)

    @property
    def enabled_sources(self) -> list[str]:
        return [name for name, s in self.sources.items() if s.enabled]

    @property
    def duckdb_path(self) -> Path:
        return self.warehouse_dir / "bilateral.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.warehouse_dir / "published"

    @property
    def landing_dir(self) -> Path:
        return self.warehouse_dir / "landing"

    @property
    def gx_dir(self) -> Path:
        return self.warehouse_dir / "gx"


# --- reading -------------------------------------------------------------------------------------
def _annotation(model: type[BaseModel] | None, parts: list[str]) -> Any:
    """The declared type of the field at ``parts`` (None when the key is unknown)."""
    for i, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        if i == len(parts) - 1:
            return ann
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return None


def _kinds(ann: Any) -> set[type]:
    """The plain types a (possibly union / literal / list) annotation admits."""
    origin = typing.get_origin(ann)
    if origin in (Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(ann)))
    if origin is Literal:
        return {type(a) for a in typing.get_args(ann)}
    if origin is list:
        return {list}
    return {ann} if isinstance(ann, type) else set()


def _from_text(text: str, ann: Any) -> Any:
    """A value given as text (environment, --set) in the type its key declares, for strict validation."""
    kinds = _kinds(ann)
    if kinds == {str}:
        return text
    stripped = text.strip()
    try:
        value = tomllib.loads(f"v = {stripped}")["v"]
    except tomllib.TOMLDecodeError:
        value = None
    if value is not None and (type(value) in kinds or (float in kinds and type(value) is int) or not kinds):
        return value
    if list in kinds and not stripped.startswith("["):
        return [p.strip() for p in stripped.split(",") if p.strip()]
    return value if value is not None and str not in kinds else text


def _set_path(tree: dict[str, Any], parts: list[str], value: Any, origin: str) -> None:
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{origin}: '{'.'.join(parts)}' goes below a value that is not a table")
    node[parts[-1]] = value


def _overrides(environ: dict[str, str], overrides: list[str]) -> list[tuple[list[str], str, str]]:
    out = []
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX):
            out.append(([p for p in name[len(ENV_PREFIX):].lower().split("__") if p], value,
                        f"environment variable {name}"))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        dotted, value = item.split("=", 1)
        out.append(([p for p in dotted.strip().split(".") if p], value, f"--set {item}"))
    for parts, _, origin in out:
        if not parts:
            raise ConfigError(f"{origin}: empty config key")
    return out


#: keys that name where a secret is (a variable, a block), never the secret itself
_SECRET_NAME_KEYS = ("api_key_env", "api_key_secret_block", "password_env", "url_env")


def _refuse_secrets(tree: dict[str, Any], where: str = "") -> None:
    """Secrets never come from the file (nor from overrides); the message never repeats the value."""
    for key, value in tree.items():
        full = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            _refuse_secrets(value, full)
        elif full.startswith("alerts."):
            _refuse_alert_secret(full, key, value)
        elif key not in _SECRET_NAME_KEYS and any(w in key.lower() for w in SECRET_WORDS):
            raise ConfigError(f"config key '{full}': API keys and secrets are never read from the config file; "
                              "set the source's api_key_env variable (or a Prefect Secret block named by "
                              "api_key_secret_block)")


def _refuse_alert_secret(full: str, key: str, value: Any) -> None:
    where = ("alerts.email.password_env (e.g. BILATERAL_SMTP_PASSWORD)" if "password" in key.lower() or
             ".email." in full else "alerts.webhook.url_env (e.g. BILATERAL_ALERT_WEBHOOK)")
    secret_key = key not in _SECRET_NAME_KEYS and (key == "url" or any(w in key.lower() for w in SECRET_WORDS))
    url_value = isinstance(value, str) and "://" in value
    if secret_key or url_value:
        raise ConfigError(f"config key '{full}': {'a URL' if url_value else 'a secret'} was written in the config "
                          "file (not shown); alert secrets (the webhook URL, which carries its token, and the SMTP "
                          f"password) are never read from the file: put it in an environment variable and name that "
                          f"variable in {where}")


_EXPECTED = {"int_type": "an integer", "int_parsing": "an integer", "float_type": "a number",
             "float_parsing": "a number", "bool_type": "true or false", "bool_parsing": "true or false",
             "string_type": "a string", "list_type": "a list", "model_type": "a table", "dict_type": "a table"}


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc[:-1]:
        ann = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return sorted(f.alias or name for name, f in model.model_fields.items())


def _key(model: type[BaseModel], loc: tuple) -> tuple:
    """The config key of an error location: union members and list positions are not keys."""
    out: list = []
    node: type[BaseModel] | None = model
    for part in loc:
        if node is None:
            break
        out.append(part)
        ann = node.model_fields[part].annotation if isinstance(part, str) and part in node.model_fields else None
        node = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return tuple(out)


def _message(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line per bad key: what was given and what is allowed."""
    by_key: dict[tuple, list[dict]] = {}
    for err in exc.errors(include_url=False):
        by_key.setdefault(_key(model, err["loc"]), []).append(err)
    problems = []
    for loc, errs in by_key.items():
        key = ".".join(str(p) for p in loc) or "(file)"
        if any(e["type"] == "extra_forbidden" for e in errs):
            problems.append(f"unknown config key '{key}'; allowed keys: {', '.join(_allowed_keys(model, loc))}")
            continue
        value = errs[0].get("input")
        if isinstance(value, dict) and all(e["type"] == "value_error" for e in errs):
            problems.append(f"config section '{key}': " + "; ".join(e["msg"].removeprefix("Value error, ") for e in errs))
            continue
        shown = "got a table" if isinstance(value, dict) else f"got {value!r} ({type(value).__name__})"
        wanted = []
        for e in errs:
            if e["type"] in _EXPECTED:
                wanted.append(f"expected {_EXPECTED[e['type']]}")
            elif e["type"] == "literal_error":
                wanted.append("expected " + e["msg"].removeprefix("Input should be "))
            else:
                wanted.append(e["msg"].removeprefix("Value error, "))
        wanted = list(dict.fromkeys(wanted))
        joined = " or ".join(w.removeprefix("expected ") if i else w for i, w in enumerate(wanted)) \
            if all(w.startswith("expected ") for w in wanted) else "; ".join(wanted)
        problems.append(f"config key '{key}': {shown}; {joined}")
    return problems[0] if len(problems) == 1 else f"{len(problems)} problems:\n  " + "\n  ".join(problems)


def _warehouse_dir(value: str, project: Project, cfg_path: Path) -> Path:
    """Relative paths stay inside the project folder; absolute paths are taken as given."""
    given = Path(value).expanduser()
    if given.is_absolute():
        return given.resolve()
    resolved = (project.root / given).resolve()
    if not resolved.is_relative_to(project.root.resolve()):
        raise ConfigError(f"{cfg_path}: config key 'warehouse.dir': got {value!r}; a relative path must stay inside "
                          f"the project folder {project.root} (give an absolute path to put the warehouse elsewhere)")
    return resolved


def load_config(path: Path | str | None = None, overrides: list[str] | None = None,
                environ: dict[str, str] | None = None, project: Project | None = None) -> Config:
    """Read, override and validate the configuration. Raises ConfigError before any work is done."""
    environ = dict(os.environ if environ is None else environ)
    project = project or find_project(environ=environ)
    cfg_path = Path(path or environ.get("BILATERAL_CONFIG") or project.default_config).resolve()
    if not cfg_path.is_file():
        raise ConfigError(f"config file {cfg_path} not found; pass --config PATH or set BILATERAL_CONFIG")
    try:
        tree = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {cfg_path} is not valid TOML: {exc}") from None

    known = discover_sources()
    model = file_model({name: src.settings for name, src in known.items()})
    for parts, text, origin in _overrides(environ, overrides or []):
        _set_path(tree, parts, _from_text(text, _annotation(model, parts)), origin)
    try:
        _refuse_secrets(tree)
    except ConfigError as exc:
        raise ConfigError(f"{cfg_path}: {exc}") from None
    try:
        parsed = model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(f"{cfg_path}: {_message(exc, model)}") from None

    c: CountriesSection = parsed.countries
    focus = tuple(c.focus)
    if c.pairs == "all":
        pairs = tuple(itertools.combinations(focus, 2))
    else:
        pairs = tuple(dict.fromkeys(tuple(x.strip().upper() for x in p.replace("–", "-").split("-")) for p in c.pairs))
    sources: dict[str, SourceSettings] = {}
    for name in known:
        settings = getattr(parsed.sources, name)
        settings._name = name
        sources[name] = settings
    wh_dir = _warehouse_dir(parsed.warehouse.dir, project, cfg_path)
    try:
        alerts = resolve_alerts(parsed.alerts, project.root)
    except ValueError as exc:
        raise ConfigError(f"{cfg_path}: {exc}") from None
    end = parsed.years.end
    return Config(path=cfg_path, project=project, countries=focus, pairs=pairs, start_year=parsed.years.start,
                  end_year=date.today().year if end == "latest" else end, sources=sources, warehouse_dir=wh_dir,
                  publish_on_source_failure=parsed.warehouse.publish_on_source_failure,
                  schedule_cron=parsed.schedule.cron, schedule_timezone=parsed.schedule.timezone,
                  dbt_task_per_node=parsed.dbt.task_per_node,
                  max_quarantined_per_night=parsed.warehouse.max_quarantined_per_night,
                  working_file_wait_seconds=parsed.warehouse.working_file_wait_seconds,
                  load_batch_mb=parsed.warehouse.load_batch_mb,
                  duckdb_memory_limit=parsed.warehouse.duckdb_memory_limit, alerts=alerts)
