"""Where the current publication's report site is, and opening it (``bilateral report path|open``)."""
from __future__ import annotations

import os
import webbrowser
from pathlib import Path

from flows.publish import SITE, current_release


class NoSite(Exception):
    """Nothing to show: no publication yet, or the current one has no site."""


def site_index(published_dir: Path) -> Path:
    """``published/site/index.html`` (the stable path) of the current publication; raises NoSite."""
    published = Path(published_dir)
    release = current_release(published)
    if release is None:
        raise NoSite(f"nothing is published yet in {published}: run `bilateral run` (or `bilateral run --sample`) "
                     "first; its publication holds the report site")
    if not (release / SITE / "index.html").is_file():
        raise NoSite(f"the current publication {release.name} has no report site (it was published before sites "
                     "existed); the next `bilateral run` writes one")
    stable = published / SITE / "index.html"
    return stable if stable.is_file() else release / SITE / "index.html"


def has_display() -> bool:
    return bool(os.environ.get("BROWSER") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_site(index: Path) -> bool:
    """Open the site in a browser; False when there is none to open it with (no display, no browser)."""
    if not has_display():
        return False
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return bool(browser.open(index.resolve().as_uri()))


def how_to_view(index: Path) -> str:
    folder = index.parent
    return (f"no browser to open it here; view it elsewhere: open file://{index} in a browser on this machine, "
            f"or copy the folder {folder} (self-contained, no network needed) and open its index.html, or serve it: "
            f"python3 -m http.server --bind 127.0.0.1 --directory {folder} 8000  (then http://127.0.0.1:8000/)")
