"""Recorded responses: the layout ``bilateral record`` writes, the sample generators write, and
``--replay DIR`` / ``--sample`` read back.

Layout of a recording directory::

    DIR/
      <source>/
        index.jsonl          one JSON object per recorded request, in recording order:
                             {"key": "<path below base URL>?<sorted query without secrets>",
                              "status": 200, "headers": {"content-type": "..."},
                              "body_file": "responses/000001.json",
                              "synthetic": false, "recorded_at": "2026-11-28T02:00:00+00:00"}
        responses/000001.json  the body, byte for byte as the server sent it

``key`` is what HttpClient computes for a request (flows.http.request_key), so a recording made
against one host replays under any base_url. ``synthetic: true`` marks generated sample data;
it is carried into every landed file, raw row and mart row that comes from it. When a key is
recorded twice, the last entry wins.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from flows.errors import ReplayMissing
from flows.http import HttpResponse, LiveTransport

_EXT_BY_TYPE = {"application/json": "json", "text/plain": "txt", "text/html": "html", "text/csv": "csv",
                "application/zip": "zip", "application/x-zip-compressed": "zip"}


def extension_for(content_type: str, key: str = "") -> str:
    path = key.split("?", 1)[0].lower()
    for ext in (".csv.zip", ".zip", ".txt", ".json", ".csv"):
        if path.endswith(ext):
            return ext.lstrip(".")
    return _EXT_BY_TYPE.get(content_type, "bin")


class RecordingWriter:
    """Appends responses to ``DIR/<source>/``."""

    def __init__(self, directory: Path, source: str) -> None:
        self.dir = Path(directory) / source
        (self.dir / "responses").mkdir(parents=True, exist_ok=True)
        self.index = self.dir / "index.jsonl"
        self._count = sum(1 for _ in self.index.open(encoding="utf-8")) if self.index.exists() else 0

    def add(self, key: str, body: bytes, *, status: int = 200, content_type: str = "application/json",
            headers: dict[str, str] | None = None, synthetic: bool = False, recorded_at: str | None = None) -> Path:
        self._count += 1
        name = f"responses/{self._count:06d}.{extension_for(content_type, key)}"
        (self.dir / name).write_bytes(body)
        entry = {"key": key, "status": status, "headers": {"content-type": content_type, **(headers or {})},
                 "body_file": name, "synthetic": synthetic,
                 "recorded_at": recorded_at or datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with self.index.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        return self.dir / name


class ReplayTransport:
    """Serves recorded responses by request key. A request the recording lacks is an error
    that names the key and the directory, never a silent empty answer."""

    origin = "replay"

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        if not self.dir.is_dir():
            raise FileNotFoundError(f"replay directory {self.dir} does not exist")
        self._indexes: dict[str, dict[str, dict]] = {}

    def _index(self, source: str) -> dict[str, dict]:
        if source not in self._indexes:
            entries: dict[str, dict] = {}
            path = self.dir / source / "index.jsonl"
            if path.exists():
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        entry = json.loads(line)
                        entries[entry["key"]] = entry
            self._indexes[source] = entries
        return self._indexes[source]

    def has(self, source: str, key: str) -> bool:
        return key in self._index(source)

    def recorded_keys(self, source: str) -> list[str] | None:
        return list(self._index(source))

    def send(self, source: str, url: str, key: str, headers: dict[str, str], timeout: float) -> HttpResponse:
        entry = self._index(source).get(key)
        if entry is None:
            raise ReplayMissing(source, url, f"the recording {self.dir / source} holds no response for request {key!r}",
                                "record it with `bilateral record`, or run live")
        body = (self.dir / source / entry["body_file"]).read_bytes()
        return HttpResponse(url=url, redacted_url=url, key=key, status=int(entry["status"]),
                            headers={k.lower(): v for k, v in entry.get("headers", {}).items()}, body=body,
                            origin=self.origin, synthetic=bool(entry.get("synthetic", False)),
                            fetched_at=entry.get("recorded_at") or datetime.now(timezone.utc).isoformat(timespec="seconds"))


class RecordingTransport(LiveTransport):
    """Live requests, each answer also written to a recording directory (``bilateral record``). The
    HttpClient hands every answer to ``keep`` once it has scrubbed the request's secrets from it, so a
    gateway that echoes the key never puts it in a recording."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = Path(directory)
        self._writers: dict[str, RecordingWriter] = {}

    def keep(self, source: str, resp: HttpResponse) -> None:
        writer = self._writers.setdefault(source, RecordingWriter(self.directory, source))
        extra = {k: v for k, v in resp.headers.items() if k == "retry-after"}
        if "content-length" in resp.headers:  # of the body as kept
            extra["content-length"] = str(len(resp.body))
        writer.add(resp.key, resp.body, status=resp.status,
                   content_type=resp.content_type or "application/octet-stream", headers=extra)
