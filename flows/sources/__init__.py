"""The sources bilateral knows, found by discovery rather than a registry.

- every package ``flows/sources/<name>/`` whose ``__init__.py`` exports ``SOURCE`` (a
  :class:`flows.sources.base.Source` named like its package);
- every installed distribution that declares an entry point in the ``bilateral.sources`` group,
  e.g. in its ``pyproject.toml``::

      [project.entry-points."bilateral.sources"]
      my_source = "my_package:SOURCE"

Adding a source is therefore one package (``bilateral new-source NAME`` writes the skeleton) plus
its dbt staging folder and its GX suite; nothing else is edited.
"""
from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

from flows.errors import BilateralError
from flows.sources.base import Source
from flows.sources.loadspec import LoadSpec

ENTRY_POINT_GROUP = "bilateral.sources"
PACKAGE_DIR = Path(__file__).resolve().parent


class SourceDiscoveryError(BilateralError):
    """A source package or entry point does not export a usable ``SOURCE``."""


def _checked(obj: object, origin: str, package_dir: Path | None, expected_name: str | None = None) -> Source:
    if not isinstance(obj, Source):
        raise SourceDiscoveryError(f"{origin}: SOURCE must be a flows.sources.base.Source, got {type(obj).__name__}")
    if expected_name is not None and obj.name != expected_name:
        raise SourceDiscoveryError(f"{origin}: SOURCE.name is {obj.name!r}; a source package is named after its "
                                   f"source, expected {expected_name!r}")
    if not obj.name.isidentifier() or obj.name != obj.name.lower():
        raise SourceDiscoveryError(f"{origin}: source name {obj.name!r} must be a lower-case identifier")
    if obj.package_dir is None and package_dir is not None:
        object.__setattr__(obj, "package_dir", package_dir)
    return obj


def _builtin() -> list[Source]:
    found = []
    for info in sorted(pkgutil.iter_modules([str(PACKAGE_DIR)]), key=lambda i: i.name):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if not hasattr(module, "SOURCE"):
            raise SourceDiscoveryError(f"flows/sources/{info.name}/__init__.py does not export SOURCE")
        found.append(_checked(module.SOURCE, f"flows/sources/{info.name}", PACKAGE_DIR / info.name, info.name))
    return found


def _plugins() -> list[Source]:
    found = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plug-in is named, not a traceback
            raise SourceDiscoveryError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) failed to load: "
                                       f"{type(exc).__name__}: {exc}") from exc
        module = importlib.import_module(ep.module)
        package_dir = Path(module.__file__).resolve().parent if getattr(module, "__file__", None) else None
        found.append(_checked(obj, f"entry point {ep.name} = {ep.value}", package_dir, ep.name))
    return found


def discover_sources() -> dict[str, Source]:
    """Every known source by name: bilateral's own packages first (alphabetical), then plug-ins."""
    out: dict[str, Source] = {}
    for source in [*_builtin(), *_plugins()]:
        if source.name in out:
            raise SourceDiscoveryError(f"two sources are named {source.name!r} "
                                       f"({out[source.name].package_dir} and {source.package_dir})")
        out[source.name] = source
    return out


def load_specs(sources: dict[str, Source] | None = None) -> dict[str, LoadSpec]:
    """Every loadable kind of every source, by kind."""
    out: dict[str, LoadSpec] = {}
    for source in (sources or discover_sources()).values():
        for spec in source.load_specs:
            if spec.kind in out:
                raise SourceDiscoveryError(f"source {source.name}: landed kind {spec.kind!r} is declared twice")
            out[spec.kind] = spec
    return out


__all__ = ["ENTRY_POINT_GROUP", "LoadSpec", "Source", "SourceDiscoveryError", "discover_sources", "load_specs"]
