"""GDELT 2.0 file manifests: ``lastupdate.txt`` and ``masterfilelist.txt`` (README.md, "Manifests").

Each line is ``<size_bytes> <md5_hex> <url>``; lines are selected by URL suffix, never by position.
A byte-range tail of the master list can start mid-line (dropped), and a line can be cut (the
file was being written, or a transfer broke): such lines are reported, not guessed at.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: stream name -> (lastupdate file, master list, suffix of the events export files)
STREAMS: dict[str, tuple[str, str, str]] = {
    "export": ("lastupdate.txt", "masterfilelist.txt", ".export.CSV.zip"),
    "translation": ("lastupdate-translation.txt", "masterfilelist-translation.txt", ".translation.export.CSV.zip"),
}
_LINE = re.compile(r"^(\d+) ([0-9a-fA-F]{32}) (\S+/(\d{14})\.(?:translation\.)?(?:export|mentions)\.CSV\.zip|\S+/\d{14}\.(?:translation\.)?gkg\.csv\.zip)$")
_TS_ANY = re.compile(r"(?<!\d)(\d{14})(?!\d)")


@dataclass(frozen=True)
class ManifestEntry:
    ts: str  # YYYYMMDDHHMMSS (UTC batch time)
    size: int
    md5: str
    url: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass
class ManifestView:
    entries: list[ManifestEntry]  # export files of the stream, oldest first, unique by ts
    bad_lines: list[tuple[str | None, str]]  # (ts if recognisable, the line) for cut/malformed lines
    earliest_ts: str | None  # earliest batch time of any well-formed line (coverage of a tail)


def parse_manifest(text: str, suffix: str, partial_first_line: bool = False) -> ManifestView:
    """Parse manifest text; keep export lines of the stream whose suffix is ``suffix``."""
    lines = text.split("\n")
    if partial_first_line and lines:
        lines = lines[1:]
    entries: dict[str, ManifestEntry] = {}
    bad: list[tuple[str | None, str]] = []
    earliest: str | None = None
    translation = suffix.startswith(".translation")
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            ts_match = _TS_ANY.search(line)
            other_kind = "mentions" in line or "gkg" in line
            other_stream = (".translation" in line) != translation and ts_match is not None
            if not other_kind and not other_stream:
                bad.append((ts_match.group(1) if ts_match else None, line[:200]))
            continue
        url = m.group(3)
        ts_all = _TS_ANY.search(url.rsplit("/", 1)[-1])
        if ts_all and (earliest is None or ts_all.group(1) < earliest):
            earliest = ts_all.group(1)
        if not url.endswith(suffix) or (not translation and ".translation." in url):
            continue
        entries[m.group(4)] = ManifestEntry(ts=m.group(4), size=int(m.group(1)), md5=m.group(2).lower(), url=url)
    return ManifestView([entries[k] for k in sorted(entries)], bad, earliest)


def content_range_start(value: str | None) -> int | None:
    """First byte of a ``Content-Range: bytes a-b/n`` header, None when absent or unparseable."""
    m = re.match(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)", value or "")
    return int(m.group(1)) if m else None
