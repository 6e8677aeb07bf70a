"""Great Expectations' Data Docs made to work with no network.

GX 1.24.1 writes pages whose scripts, styles and fonts come from public CDNs (Bootstrap, jQuery,
bootstrap-table, Font Awesome, Vega...); the index's table of validations is drawn by those scripts,
so offline the index shows an empty, unstyled page. :func:`localize_site` copies a Data Docs site and
points every such reference at the copies bilateral ships in ``flows/docs_assets/vendor/`` (the same
releases; see its README for versions and licences). A reference it has no copy for is reported,
never left to fail quietly in a browser. Links a person clicks (``<a href>``) are left as they are.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent / "docs_assets"
#: where the shipped files go inside a localized site
SITE_VENDOR = Path("static") / "bilateral-vendor"

#: (the end of the URL GX references, the shipped file under vendor/, or under the site for GX's own images)
ASSETS: list[tuple[str, str]] = [
    (r"/jquery-3\.7\.1\.min\.js", "vendor/jquery@3.7.1/jquery.min.js"),
    (r"/bootstrap/4\.3\.1/css/bootstrap\.min\.css", "vendor/bootstrap@4.3.1/css/bootstrap.min.css"),
    (r"/bootstrap/4\.3\.1/js/bootstrap\.min\.js", "vendor/bootstrap@4.3.1/js/bootstrap.min.js"),
    (r"/popper\.js/1\.12\.9/umd/popper\.min\.js", "vendor/popper.js@1.12.9/umd/popper.min.js"),
    (r"/bootstrap-table@1\.19\.1/dist/bootstrap-table\.min\.css", "vendor/bootstrap-table@1.19.1/bootstrap-table.min.css"),
    (r"/bootstrap-table@1\.19\.1/dist/bootstrap-table\.min\.js", "vendor/bootstrap-table@1.19.1/bootstrap-table.min.js"),
    (r"/bootstrap-table@1\.19\.1/dist/extensions/filter-control/bootstrap-table-filter-control\.min\.js",
     "vendor/bootstrap-table@1.19.1/extensions/filter-control/bootstrap-table-filter-control.min.js"),
    (r"/bootstrap-table@1\.19\.0/dist/extensions/filter-control/bootstrap-table-filter-control\.min\.css",
     "vendor/bootstrap-table@1.19.0/extensions/filter-control/bootstrap-table-filter-control.min.css"),
    (r"/bootstrap-table@1\.19\.0/dist/extensions/filter-control/bootstrap-table-filter-control\.css",
     "vendor/bootstrap-table@1.19.0/extensions/filter-control/bootstrap-table-filter-control.css"),
    (r"/bootstrap-datepicker/1\.9\.0/css/bootstrap-datepicker\.min\.css",
     "vendor/bootstrap-datepicker@1.9.0/css/bootstrap-datepicker.min.css"),
    (r"/bootstrap-datepicker/1\.9\.0/js/bootstrap-datepicker\.min\.js",
     "vendor/bootstrap-datepicker@1.9.0/js/bootstrap-datepicker.min.js"),
    (r"/@forevolve/bootstrap-dark@1\.1\.0/dist/css/bootstrap-prefers-dark(\.min)?\.css",
     "vendor/bootstrap-dark@1.1.0/css/bootstrap-prefers-dark.min.css"),
    (r"/font-awesome/6\.6\.0/css/all\.min\.css", "vendor/fontawesome-free@6.6.0/css/all.min.css"),
    (r"/vega@5", "vendor/vega@5.33.1/vega.min.js"),
    (r"/vega-lite@5", "vendor/vega-lite@5.23.0/vega-lite.min.js"),
    (r"/vega-embed@6", "vendor/vega-embed@6.29.0/vega-embed.min.js"),
    # GX's logo from its web bucket (with a per-build query string): the copy GX ships in the site
    (r"/(full_logo_dark|logo-long)\.png(\?[^\"']*)?", "site:static/images/logo-long.png"),
]
_ASSETS = [(re.compile(r"^(?:https?:)?//[^\"'\s]*?" + pattern + "$"), target) for pattern, target in ASSETS]

#: a network reference that a page loads by itself: script/link/img/source src or href, CSS url()
_TAG_REF = re.compile(r"""(<(?:script|link|img|source|iframe|embed)\b[^>]*?\b(?:src|href)\s*=\s*)(["'])((?:https?:)?//[^"']+)\2""",
                      re.IGNORECASE)
_CSS_REF = re.compile(r"""(url\(\s*)(["']?)((?:https?:)?//[^"')\s]+)\2(\s*\))""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""(@import\s+)(["'])((?:https?:)?//[^"']+)\2""", re.IGNORECASE)
#: a reference to the site's own static/ folder; GX gets the depth wrong on validation pages
#: (their favicon link climbs one level too few), so each is rewritten relative to the page
_SITE_STATIC = re.compile(r"""(\b(?:src|href)\s*=\s*["'])(?:\./|(?:\.\./)*)static/""", re.IGNORECASE)


class UnknownAsset(Exception):
    """A page loads something from the network that bilateral has no local copy of."""


@dataclass
class LocalizedSite:
    index: Path
    pages: int = 0
    rewritten: int = 0
    unresolved: dict[str, list[str]] = field(default_factory=dict)  # page -> URLs left pointing at the network


def local_target(url: str) -> str | None:
    """The shipped file for a CDN URL (``vendor/...`` or ``site:...``), or None."""
    for pattern, target in _ASSETS:
        if pattern.match(url):
            return target
    return None


def network_references(html: str) -> list[str]:
    """Every URL a page would fetch by itself from another host (not the links a person clicks)."""
    found = [m.group(3) for m in _TAG_REF.finditer(html)]
    found += [m.group(3) for m in _CSS_REF.finditer(html)]
    found += [m.group(3) for m in _CSS_IMPORT.finditer(html)]
    return found


def rewrite_page(html: str, to_site_root: str) -> tuple[str, int, list[str]]:
    """``html`` with each known CDN reference replaced by a path relative to the page
    (``to_site_root`` is the page's way up to the site root, e.g. ``../../``); how many were
    replaced, and the network references left."""
    count = 0

    def local(url: str) -> str | None:
        target = local_target(url)
        if target is None:
            return None
        kind, _, rel = target.partition(":") if target.startswith("site:") else ("vendor", "", target)
        if kind == "site":
            return to_site_root + rel
        return to_site_root + SITE_VENDOR.as_posix() + "/" + rel.removeprefix("vendor/")

    def swap(match: re.Match) -> str:
        nonlocal count
        path = local(match.group(3))
        if path is None:
            return match.group(0)
        count += 1
        return match.group(0).replace(match.group(3), path, 1)

    for pattern in (_TAG_REF, _CSS_REF, _CSS_IMPORT):
        html = pattern.sub(swap, html)
    html, fixed = _SITE_STATIC.subn(lambda m: m.group(1) + to_site_root + "static/", html)
    return html, count + fixed, network_references(html)


def localize_site(source: Path, target: Path) -> LocalizedSite:
    """Copy the Data Docs site ``source`` (the folder holding index.html) to ``target`` with every
    CDN reference pointing at bilateral's shipped copies (in ``target/static/bilateral-vendor``).
    ``target`` is replaced as a whole. Pages with references left are listed in ``unresolved``."""
    source, target = Path(source), Path(target)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    shutil.copytree(VENDOR_DIR / "vendor", target / SITE_VENDOR)
    shutil.copytree(VENDOR_DIR / "licenses", target / SITE_VENDOR / "licenses")
    report = LocalizedSite(index=target / "index.html")
    for page in sorted(target.rglob("*.html")):
        if SITE_VENDOR.as_posix() in page.relative_to(target).as_posix():
            continue
        depth = len(page.relative_to(target).parts) - 1
        html, count, left = rewrite_page(page.read_text(encoding="utf-8"), "../" * depth)
        report.pages += 1
        report.rewritten += count
        if left:
            report.unresolved[page.relative_to(target).as_posix()] = sorted(set(left))
        if count:
            tmp = page.with_name(f".{page.name}.{os.getpid()}.tmp")
            tmp.write_text(html, encoding="utf-8")
            os.replace(tmp, page)
    return report
