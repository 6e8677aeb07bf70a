"""The site's one script, ``assets/vega.js``: Vega, Vega-Lite and vega-embed bundled by vl-convert.

The bundle defines ``vegaEmbed``, ``vegaLite`` and ``vega`` on ``window`` and needs nothing from the
network. It is made for the Vega-Lite version Altair writes its specs for. Bundling takes seconds
(tens on a busy machine), so a bundle made by the same versions is reused: the previous site's (its
versions are in its ``site.json``), else the project's cache ``<project>/.cache/report/`` (git-ignored),
written atomically after a bundle is made.
"""
from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

VEGA_JS = "assets/vega.js"


def vegalite_version() -> str:
    """Altair's Vega-Lite schema version as vl-convert names it, e.g. ``v6.4.1`` -> ``6.4``."""
    import altair as alt

    major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def bundle_versions() -> dict[str, str]:
    return {"vl_convert": version("vl-convert-python"), "vega_lite": vegalite_version()}


@lru_cache(maxsize=1)
def vega_bundle() -> str:
    import vl_convert

    return vl_convert.javascript_bundle(vl_version=vegalite_version())


def _reusable(previous_site: Path | None) -> Path | None:
    if previous_site is None:
        return None
    try:
        manifest = json.loads((Path(previous_site) / "site.json").read_text())
    except (OSError, ValueError):
        return None
    bundle = Path(previous_site) / VEGA_JS
    return bundle if manifest.get("bundle") == bundle_versions() and bundle.is_file() else None


def _cache_file(cache_dir: Path) -> Path:
    v = bundle_versions()
    return Path(cache_dir) / f"vega-bundle-vlconvert{v['vl_convert']}-vegalite{v['vega_lite']}.js"


def _looks_whole(path: Path) -> bool:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return len(text) > 100_000 and "vegaEmbed" in text


def _cached(cache_dir: Path | None) -> Path | None:
    if cache_dir is None:
        return None
    path = _cache_file(cache_dir)
    if path.is_file() and _looks_whole(path):
        return path
    text = vega_bundle()
    try:  # a cache that cannot be written is only slower
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def write_assets(site_dir: Path, previous_site: Path | None = None, cache_dir: Path | None = None) -> Path:
    path = Path(site_dir) / VEGA_JS
    path.parent.mkdir(parents=True, exist_ok=True)
    reusable = _reusable(previous_site) or _cached(cache_dir)
    if reusable is not None:
        shutil.copyfile(reusable, path)
    else:
        path.write_text(vega_bundle())
    return path
