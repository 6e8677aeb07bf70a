"""Landing zone: every response stored as an immutable file, with a manifest row per file.

Files go to ``<landing>/<source>/<run date>/<run id>/NNNNNN_<kind>.<ext>``; the directory's
``manifest.jsonl`` holds one row per file (source, redacted request URL, HTTP status, bytes,
sha256, fetched_at, run_id, kind, synthetic, status). The load step copies the rows into
``audit.landed_files``. Files are written once (to a temp name, then renamed) and never modified.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from flows.http import HttpResponse
from flows.recording import extension_for
from flows.storage import guarded, remove_quietly


@dataclass
class LandedFile:
    run_id: str
    source: str
    kind: str  # which raw table the file feeds ("" when the response is not loadable)
    path: str
    request_url: str
    http_status: int
    bytes: int
    sha256: str
    fetched_at: str
    origin: str  # live | replay
    synthetic: bool
    status: str = "landed"  # landed | rejected
    problem: str = ""
    #: values the load spec's SQL may use as {name} placeholders (e.g. the configured countries)
    load_params: dict[str, Any] = field(default_factory=dict)


class FileSequence:
    """Numbers the files of one run folder. Several tasks of a run (source x period, retries) land
    into the same folder, so they share one sequence; it starts after any file already there."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self._lock = threading.Lock()
        self._last: int | None = None

    def next(self) -> int:
        with self._lock:
            if self._last is None:
                taken = [int(p.name[:6]) for p in self.dir.glob("[0-9][0-9][0-9][0-9][0-9][0-9]_*")] \
                    if self.dir.is_dir() else []
                self._last = max(taken, default=0)
            self._last += 1
            return self._last


class Lander:
    def __init__(self, landing_dir: Path, source: str, run_date: str, run_id: str,
                 sequence: FileSequence | None = None, scrub: Callable[[str], str] = str) -> None:
        self.source, self.run_id, self.scrub = source, run_id, scrub
        self.dir = Path(landing_dir) / source / run_date / run_id
        self.sequence = sequence or FileSequence(self.dir)
        self.files: list[LandedFile] = []

    def _next_path(self, slug: str, ext: str) -> Path:
        """A fresh file name, never one another task of the run has used."""
        return self.dir / f"{self.sequence.next():06d}_{slug}.{ext}"

    def land(self, resp: HttpResponse, kind: str, load_params: dict[str, Any] | None = None) -> LandedFile:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind or "response")[:60]
        path = self._next_path(slug, extension_for(resp.content_type, resp.key))
        digest, size = self._write(path, (resp.body,))
        landed = LandedFile(run_id=self.run_id, source=self.source, kind=kind, path=str(path),
                            request_url=resp.redacted_url, http_status=resp.status, bytes=size,
                            sha256=digest, fetched_at=resp.fetched_at,
                            origin=resp.origin, synthetic=resp.synthetic, load_params=dict(load_params or {}))
        self.files.append(landed)
        self._append_manifest(landed)
        return landed

    def land_derived(self, parent: LandedFile, kind: str, ext: str, chunks: Iterable[bytes],
                     load_params: dict[str, Any] | None = None) -> LandedFile:
        """Land a file derived from a landed response (e.g. the CSV inside a landed zip), streamed
        chunk by chunk; it inherits the parent's URL, status, origin and synthetic flag. If ``chunks``
        raises, nothing is landed and the exception propagates."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind or "derived")[:60]
        path = self._next_path(slug, ext)
        digest, size = self._write(path, chunks)
        landed = LandedFile(run_id=self.run_id, source=self.source, kind=kind, path=str(path),
                            request_url=parent.request_url, http_status=parent.http_status, bytes=size,
                            sha256=digest, fetched_at=parent.fetched_at, origin=parent.origin,
                            synthetic=parent.synthetic, load_params=dict(load_params or {}))
        self.files.append(landed)
        self._append_manifest(landed)
        return landed

    def _write(self, path: Path, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Write ``path`` through ``<name>.part`` (renamed when complete, then read-only); returns its
        sha256 and size. On any failure the .part file is removed: a disk-full or read-only folder
        becomes a StorageError naming the path; other errors (e.g. a corrupt zip member) propagate."""
        tmp = path.with_name(path.name + ".part")
        digest, size = hashlib.sha256(), 0
        try:
            with guarded(path, "land a response as"):
                self.dir.mkdir(parents=True, exist_ok=True)
                with tmp.open("wb") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
                os.chmod(tmp, 0o444)
                os.replace(tmp, path)
        except BaseException:
            remove_quietly(tmp)
            raise
        return digest.hexdigest(), size

    def reject(self, landed: LandedFile, problem: str) -> None:
        """Mark a landed file as not loadable (error body, malformed payload); it stays for inspection."""
        landed.status, landed.problem = "rejected", self.scrub(problem)
        self._append_manifest(landed)

    def _append_manifest(self, landed: LandedFile) -> None:
        manifest = self.dir / "manifest.jsonl"
        with guarded(manifest, "append to the landing manifest"), manifest.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(landed), sort_keys=True) + "\n")
