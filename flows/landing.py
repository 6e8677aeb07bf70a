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
from dataclasses import asdict, dataclass
from pathlib import Path

from flows.http import HttpResponse
from flows.recording import extension_for


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


_SEQ_LOCK = threading.Lock()
_SEQ: dict[Path, int] = {}  # landing dir -> last sequence number used (tasks of one run share a dir)


class Lander:
    def __init__(self, landing_dir: Path, source: str, run_date: str, run_id: str) -> None:
        self.source, self.run_id = source, run_id
        self.dir = Path(landing_dir) / source / run_date / run_id
        self.files: list[LandedFile] = []

    def _next_path(self, slug: str, ext: str) -> Path:
        """A fresh file name: several tasks (source x period, retries) land into one run's folder."""
        with _SEQ_LOCK:
            n = _SEQ.get(self.dir, 0) + 1
            _SEQ[self.dir] = n
        return self.dir / f"{n:06d}_{slug}.{ext}"

    def land(self, resp: HttpResponse, kind: str) -> LandedFile:
        self.dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", kind or "response")[:60]
        path = self._next_path(slug, extension_for(resp.content_type, resp.key))
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(resp.body)
        os.chmod(tmp, 0o444)
        os.replace(tmp, path)
        landed = LandedFile(run_id=self.run_id, source=self.source, kind=kind, path=str(path),
                            request_url=resp.redacted_url, http_status=resp.status, bytes=len(resp.body),
                            sha256=hashlib.sha256(resp.body).hexdigest(), fetched_at=resp.fetched_at,
                            origin=resp.origin, synthetic=resp.synthetic)
        self.files.append(landed)
        self._append_manifest(landed)
        return landed

    def reject(self, landed: LandedFile, problem: str) -> None:
        """Mark a landed file as not loadable (error body, malformed payload); it stays for inspection."""
        landed.status, landed.problem = "rejected", problem
        self._append_manifest(landed)

    def _append_manifest(self, landed: LandedFile) -> None:
        with (self.dir / "manifest.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(landed), sort_keys=True) + "\n")
