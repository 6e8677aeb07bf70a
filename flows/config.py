"""bilateral's configuration: one TOML file, overridden by environment variables, then CLI flags.

Validated on load, before any work: an unknown key, a wrong type or an unknown country code raises
ConfigError naming the key, the bad value and what is allowed. API keys never come from the file:
a source names the environment variable (and optionally the Prefect Secret block) holding its key.

Overrides:
- environment: ``BILATERAL__<section>__<key>[__<key>]=value``, e.g.
  ``BILATERAL__countries__focus=CAN,CHN,USA,MEX`` or
  ``BILATERAL__sources__worldbank__base_url=http://127.0.0.1:8000``; ``BILATERAL_CONFIG`` names the file.
- CLI: ``--set section.key=value`` (repeatable), applied last.
"""
from __future__ import annotations

import itertools
import os
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from flows.countries import countries
from flows.paths import DEFAULT_CONFIG, PROJECT_ROOT

ENV_PREFIX = "BILATERAL__"


class ConfigError(ValueError):
    """Bad configuration: the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    enabled: bool
    base_url: str
    timeout_seconds: float
    max_retries: int
    backoff_seconds: float
    min_interval_seconds: float
    api_key_env: str
    api_key_secret_block: str
    options: dict[str, Any] = field(default_factory=dict)

    def api_key(self) -> str | None:
        """The source's API key from its environment variable, else its Prefect Secret block, else None."""
        if self.api_key_env and os.environ.get(self.api_key_env):
            return os.environ[self.api_key_env]
        if self.api_key_secret_block:
            from prefect.blocks.system import Secret

            try:
                return Secret.load(self.api_key_secret_block).get()
            except ValueError:
                return None
        return None


@dataclass(frozen=True)
class Config:
    path: Path
    countries: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]
    start_year: int
    end_year: int
    sources: dict[str, SourceConfig]
    warehouse_dir: Path
    publish_on_source_failure: bool
    schedule_cron: str
    schedule_timezone: str
    dbt_task_per_node: bool = False

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


# --- schema -----------------------------------------------------------------------------------
# field -> (type, default). Types: str, int, float, bool, list (of str), "year_or_latest", "pairs".
_TOP_SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "countries": {"focus": (list, ["CAN", "CHN", "USA"]), "pairs": ("pairs", "all")},
    "years": {"start": (int, 2015), "end": ("year_or_latest", "latest")},
    "warehouse": {"dir": (str, "warehouse"), "publish_on_source_failure": (bool, False)},
    "schedule": {"cron": (str, "0 2 * * *"), "timezone": (str, "UTC")},
    "dbt": {"task_per_node": (bool, False)},
}
_SOURCE_COMMON: dict[str, tuple[Any, Any]] = {
    "enabled": (bool, True),
    "base_url": (str, None),
    "timeout_seconds": (float, 30.0),
    "max_retries": (int, 4),
    "backoff_seconds": (float, 2.0),
    "min_interval_seconds": (float, 0.0),
    "api_key_env": (str, ""),
    "api_key_secret_block": (str, ""),
}
_SECRET_WORDS = ("api_key", "apikey", "token", "password", "subscription_key", "secret")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               list: "a list of strings", "year_or_latest": 'a year or "latest"',
               "pairs": '"all" or a list of "AAA-BBB" country pairs'}


def _source_schema(name: str) -> dict[str, tuple[Any, Any]]:
    from flows.connectors import CONNECTORS

    connector = CONNECTORS[name]
    schema = dict(_SOURCE_COMMON)
    schema["base_url"] = (str, connector.default_base_url)
    schema["min_interval_seconds"] = (float, connector.default_min_interval_seconds)
    schema.update(connector.options)
    return schema


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """Type-check one value; strings from env/CLI are converted to the expected type."""
    bad = ConfigError(f"config key '{key}': got {value!r} ({type(value).__name__}); expected {_TYPE_NAMES[kind]}")
    if isinstance(value, str) and kind not in (str, "pairs", "year_or_latest"):
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise bad
                return text.lower() in ("true", "1", "yes")
            if kind is int:
                return int(text)
            if kind is float:
                return float(text)
            if kind is list:
                return [p.strip() for p in text.split(",") if p.strip()]
        except ValueError:
            raise bad from None
    if kind is bool and not isinstance(value, bool):
        raise bad
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if kind is str and not isinstance(value, str):
        raise bad
    if kind is list and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise bad
    if kind == "year_or_latest":
        if value == "latest":
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    if kind == "pairs":
        if isinstance(value, str) and value != "all":
            value = [p.strip() for p in value.split(",") if p.strip()]
        if value != "all" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise bad
    return value


def _check_keys(where: str, given: dict[str, Any], allowed: dict[str, Any]) -> None:
    for key in given:
        if key in allowed:
            continue
        full = f"{where}.{key}" if where else key
        if any(word in key.lower() for word in _SECRET_WORDS):
            raise ConfigError(
                f"config key '{full}': API keys and secrets are never read from the config file; "
                f"set the source's api_key_env variable (or a Prefect Secret block named by api_key_secret_block)")
        raise ConfigError(f"unknown config key '{full}'; allowed keys: {', '.join(sorted(allowed))}")


def _set_path(tree: dict[str, Any], dotted: str, value: Any, origin: str) -> None:
    parts = [p for p in dotted.split(".") if p]
    if not parts:
        raise ConfigError(f"{origin}: empty config key")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{origin}: '{dotted}' goes below a value that is not a table")
    node[parts[-1]] = value


def _env_overrides(environ: dict[str, str]) -> list[tuple[str, str, str]]:
    out = []
    for name, value in sorted(environ.items()):
        if name.startswith(ENV_PREFIX):
            dotted = ".".join(name[len(ENV_PREFIX):].lower().split("__"))
            out.append((dotted, value, f"environment variable {name}"))
    return out


def _validate_country(key: str, code: str) -> str:
    code = code.strip().upper()
    known = countries()
    if code not in known:
        examples = ", ".join(c for c in ("CAN", "CHN", "USA", "MEX", "JPN", "KOR", "DEU", "FRA", "GBR") if c in known)
        raise ConfigError(
            f"config key '{key}': unknown country code {code!r}; allowed: ISO3 codes of UN Comtrade reporters "
            f"({len(known)} known, e.g. {examples}; full list in flows/reference/comtrade/Reporters.json)")
    return code


def load_config(path: Path | str | None = None, overrides: list[str] | None = None,
                environ: dict[str, str] | None = None) -> Config:
    """Read, override and validate the configuration. Raises ConfigError before any work is done."""
    environ = dict(os.environ if environ is None else environ)
    cfg_path = Path(path or environ.get("BILATERAL_CONFIG") or DEFAULT_CONFIG).resolve()
    if not cfg_path.is_file():
        raise ConfigError(f"config file {cfg_path} not found; pass --config PATH or set BILATERAL_CONFIG")
    try:
        tree = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {cfg_path} is not valid TOML: {exc}") from None

    for dotted, value, origin in _env_overrides(environ):
        _set_path(tree, dotted, value, origin)
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        dotted, value = item.split("=", 1)
        _set_path(tree, dotted.strip(), value, f"--set {item}")

    from flows.connectors import CONNECTORS

    _check_keys("", tree, {**_TOP_SCHEMA, "sources": None})
    values: dict[str, dict[str, Any]] = {}
    for section, schema in _TOP_SCHEMA.items():
        given = tree.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"config key '{section}' must be a table")
        _check_keys(section, given, schema)
        values[section] = {k: _coerce(f"{section}.{k}", given.get(k, d), t) for k, (t, d) in schema.items()}

    focus = tuple(dict.fromkeys(_validate_country("countries.focus", c) for c in values["countries"]["focus"]))
    if len(focus) < 2:
        raise ConfigError(f"config key 'countries.focus': got {list(focus)}; at least two countries are needed for a pair")
    pairs_value = values["countries"]["pairs"]
    if pairs_value == "all":
        pairs = tuple(itertools.combinations(focus, 2))
    else:
        pairs_list = []
        for p in pairs_value:
            bits = p.replace("–", "-").split("-")
            if len(bits) != 2:
                raise ConfigError(f"config key 'countries.pairs': {p!r} is not of the form 'AAA-BBB'")
            a, b = (_validate_country("countries.pairs", x) for x in bits)
            if a == b:
                raise ConfigError(f"config key 'countries.pairs': {p!r} pairs a country with itself")
            for c in (a, b):
                if c not in focus:
                    raise ConfigError(f"config key 'countries.pairs': {c} in {p!r} is not in countries.focus {list(focus)}")
            pairs_list.append((a, b))
        pairs = tuple(dict.fromkeys(pairs_list))

    start = values["years"]["start"]
    end = values["years"]["end"]
    end_year = date.today().year if end == "latest" else end
    if not 1990 <= start <= end_year:
        raise ConfigError(f"config keys 'years.start'={start} / 'years.end'={end}: need 1990 <= start <= end")

    given_sources = tree.get("sources", {})
    if not isinstance(given_sources, dict):
        raise ConfigError("config key 'sources' must be a table of [sources.<name>] tables")
    _check_keys("sources", given_sources, CONNECTORS)
    sources: dict[str, SourceConfig] = {}
    for name in CONNECTORS:
        given = given_sources.get(name, {})
        if not isinstance(given, dict):
            raise ConfigError(f"config key 'sources.{name}' must be a table")
        schema = _source_schema(name)
        _check_keys(f"sources.{name}", given, schema)
        v = {k: _coerce(f"sources.{name}.{k}", given.get(k, d), t) for k, (t, d) in schema.items()}
        if not str(v["base_url"]).startswith(("http://", "https://")):
            raise ConfigError(f"config key 'sources.{name}.base_url': got {v['base_url']!r}; expected an http(s) URL")
        if v["timeout_seconds"] <= 0 or v["max_retries"] < 0 or v["backoff_seconds"] < 0 or v["min_interval_seconds"] < 0:
            raise ConfigError(f"config keys 'sources.{name}.*': timeout must be > 0, retries/backoff/interval >= 0")
        common = {k: v.pop(k) for k in list(_SOURCE_COMMON)}
        sources[name] = SourceConfig(name=name, options=v, **common)

    wh_dir = Path(values["warehouse"]["dir"])
    if not wh_dir.is_absolute():
        wh_dir = (PROJECT_ROOT / wh_dir).resolve()
    return Config(
        path=cfg_path, countries=focus, pairs=pairs, start_year=start, end_year=end_year, sources=sources,
        warehouse_dir=wh_dir, publish_on_source_failure=values["warehouse"]["publish_on_source_failure"],
        schedule_cron=values["schedule"]["cron"], schedule_timezone=values["schedule"]["timezone"],
        dbt_task_per_node=values["dbt"]["task_per_node"])
