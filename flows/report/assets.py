"""The site's one script, ``assets/vega.js``: Vega, Vega-Lite and vega-embed bundled by vl-convert.

The bundle defines ``vegaEmbed``, ``vegaLite`` and ``vega`` on ``window`` and needs nothing from the
network. It is made for the Vega-Lite version Altair writes its specs for. Bundling takes seconds, so
a previous site's bundle made by the same versions is copied instead (its versions are in its
``site.json``).
"""
from __future__ import annotations

import json
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


def write_assets(site_dir: Path, previous_site: Path | None = None) -> Path:
    path = Path(site_dir) / VEGA_JS
    path.parent.mkdir(parents=True, exist_ok=True)
    reusable = _reusable(previous_site)
    if reusable is not None:
        shutil.copyfile(reusable, path)
    else:
        path.write_text(vega_bundle())
    return path
