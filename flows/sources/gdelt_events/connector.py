"""GDELT 2.0 Events export files, 15 minutes each (flows/sources/gdelt_events/README.md).

Incremental by file. ``lastupdate.txt`` names the newest batch; the tail of ``masterfilelist.txt``
(fetched with ``Range: bytes=-N``; a server that ignores Range sends the whole list, which works
too) lists every batch since the stream's watermark. Each selected ``YYYYMMDDHHMMSS.export.CSV.zip``
is downloaded, its size and MD5 checked against the manifest, and its single CSV member
stream-unzipped (1 MiB at a time) to a landed ``.CSV`` next to the zip, which stays landed as
received. DuckDB reads the CSV (61 tab-separated VARCHAR columns, no header, no quoting) and keeps
only events whose Actor1CountryCode and Actor2CountryCode (CAMEO actor codes, not FIPS geo codes)
form a configured pair; regional pseudo-codes (EUR, AFR, ...) never match one. A malformed line
(GDELT 1.0's 58 fields, a cut or garbage line) is quarantined by the loader; the file's other
events load.

Faults that concern the whole file (HTTP 404 or any other non-200, an MD5 or size mismatch, a
truncated or corrupt zip, a manifest line cut mid-line) skip that file with a reason: the landed
response is rejected, a note is added, and the file is kept in state as ``skipped:<stream>:<ts>`` (JSON with the reason) so that later runs retry it, up
to ``max_file_attempts``. The night goes on.

State per stream: ``watermark:<stream>`` = newest batch time processed. With no watermark, a first
run takes the batches the manifest tail lists (``tail_bytes``, about a week of live batches),
capped at ``max_files_per_run``; history is ``bilateral backfill --from --to``, which reads the
whole master list and takes the batches in that range without moving the watermark.

Per-file facts (batch, rows, bytes, MD5, status, reason) land as a small CSV (kind
``gdelt_export_file``): the total row count of every batch is what the relations marts normalise
event volume by.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from pydantic import Field

from flows.errors import MalformedResponse, SourceError, SourceUnavailable
from flows.http import HttpResponse
from flows.landing import LandedFile
from flows.sources.base import Connector, ExtractResult, Partition, SourceSettings
from flows.sources.gdelt_events.manifest import STREAMS, ManifestEntry, ManifestView, content_range_start, parse_manifest

if TYPE_CHECKING:
    from flows.landing import Lander

KIND_EVENT = "gdelt_event"
KIND_FILE = "gdelt_export_file"
KIND_PAIRS = "gdelt_configured_pair"  # the pairs this run was configured for (the marts cover exactly these)
KIND_MANIFEST = "gdelt_manifest"  # landed for the record, not loaded
KIND_ZIP = "gdelt_export_zip"  # landed as received, not loaded (its CSV is)
CHUNK = 1 << 20
FILE_COLUMNS = ["batch_ts", "stream", "filename", "manifest_bytes", "manifest_md5", "csv_rows", "csv_bytes",
                "status", "problem"]


@dataclass
class _FileOutcome:
    entry: ManifestEntry
    status: str  # loaded | skipped
    problem: str = ""
    rows: int = 0
    csv_bytes: int = 0
    files: list[LandedFile] = field(default_factory=list)


class GdeltEventsSettings(SourceSettings):
    base_url: str = "http://data.gdeltproject.org/gdeltv2"
    timeout_seconds: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0)
    translingual: bool = Field(False, description="also load the machine-translated stream (English-only coverage "
                                                  "under-represents Chinese sources)")
    tail_bytes: int = Field(262144, ge=1, description="bytes of masterfilelist.txt read from its end (~7 days)")
    max_tail_bytes: int = Field(16777216, ge=1, description="the tail grows x4 up to this when the watermark is older")
    max_files_per_run: int = Field(3000, ge=1, description="oldest batches after the watermark first")
    max_file_attempts: int = Field(5, ge=1, description="a skipped file is retried by this many later runs")
    max_csv_bytes: int = Field(500_000_000, ge=1, description="guard against a corrupt or hostile zip")


class GdeltEventsConnector(Connector):
    source: GdeltEventsSettings

    _manifest_lock = threading.Lock()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._full_manifests: dict[str, ManifestView] = {}

    # --- partitions ----------------------------------------------------------------------------
    def streams(self) -> list[str]:
        return ["export", "translation"] if self.source.translingual else ["export"]

    def partitions(self) -> list[Partition]:
        if self.backfill:
            first, last = self.backfill
            parts = []
            month = date(first.year, first.month, 1)
            while month <= last:
                nxt = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
                lo, hi = max(first, month), min(last, nxt - timedelta(days=1))
                for stream in self.streams():
                    # one period: a single task walks the months, so the master list is fetched once
                    parts.append(Partition(self.name, f"{stream}:{lo:%Y%m%d}-{hi:%Y%m%d}", "backfill",
                                           {"stream": stream, "from": lo.isoformat(), "to": hi.isoformat()}))
                month = nxt
            return parts
        return [Partition(self.name, stream, "incremental", {"stream": stream}) for stream in self.streams()]

    # --- URLs ------------------------------------------------------------------------------------
    def file_url(self, filename: str) -> str:
        """Files are fetched under the configured base_url (a mirror works), by manifest file name."""
        return self.client.url(filename)

    def load_params(self, stream: str) -> dict:
        return {"stream": stream, "countries": list(self.config.countries),
                "pairs": sorted("-".join(sorted(p)) for p in self.config.pairs)}

    # --- extract ---------------------------------------------------------------------------------
    def extract(self, partition: Partition, lander: "Lander") -> ExtractResult:
        result = ExtractResult(self.name, partition.key, partition.period)
        stream = partition.params["stream"]
        pending = self._pending_skipped(stream)
        if "from" in partition.params:
            lo = partition.params["from"].replace("-", "") + "000000"
            hi = partition.params["to"].replace("-", "") + "235959"
            view = self._full_manifest(stream, lander, result)
            selected = [e for e in view.entries if lo <= e.ts <= hi]
            new_watermark = None
        else:
            selected, new_watermark = self._incremental_selection(stream, lander, result, pending)
        outcomes = [self._fetch_file(e, stream, lander, result) for e in selected]
        if "from" not in partition.params:  # a backfill month does not count attempts of other batches
            self._retry_unlisted(stream, pending, {e.ts for e in selected}, result)
        for o in outcomes:
            key = f"skipped:{stream}:{o.entry.ts}"
            if o.status == "loaded":
                result.records += o.rows
                if key in pending:
                    result.state_updates[key] = ""  # recovered
                    result.notes.append(f"{stream} {o.entry.filename}: loaded on retry")
            else:
                attempts = int(pending.get(key, {}).get("attempts", 0)) + 1
                given_up = attempts >= self.source.max_file_attempts
                result.state_updates[key] = json.dumps(
                    {"url": o.entry.url, "size": o.entry.size, "md5": o.entry.md5, "reason": o.problem,
                     "attempts": attempts, "given_up": given_up}, sort_keys=True)
                result.notes.append(f"{stream} {o.entry.filename} skipped ({o.problem}); "
                                    + ("given up after " f"{attempts} attempts" if given_up else "a later run retries it"))
        if outcomes:
            self._land_file_facts(stream, outcomes, lander, result)
        self._land_configured_pairs(lander, result)
        if new_watermark:
            result.state_updates[f"watermark:{stream}"] = new_watermark
        return result

    def _pending_skipped(self, stream: str) -> dict[str, dict]:
        out = {}
        for key, value in self.state.items():
            if key.startswith(f"skipped:{stream}:") and value:
                try:
                    info = json.loads(value)
                except ValueError:
                    continue
                if not info.get("given_up"):
                    out[key] = info
        return out

    def _retry_unlisted(self, stream: str, pending: dict[str, dict], done: set[str], result: ExtractResult) -> None:
        """Skipped entries the manifest view no longer lists and that carry no URL (cut lines): count the attempt."""
        for key, info in pending.items():
            ts = key.rsplit(":", 1)[-1]
            if ts in done or info.get("md5"):
                continue
            attempts = int(info.get("attempts", 0)) + 1
            given_up = attempts >= self.source.max_file_attempts
            result.state_updates[key] = json.dumps({**info, "attempts": attempts, "given_up": given_up}, sort_keys=True)
            result.notes.append(f"{stream} batch {ts}: still not readable from the manifest ({info.get('reason')})")

    # --- manifests -------------------------------------------------------------------------------
    def _get_text(self, name: str, lander: "Lander", result: ExtractResult,
                  headers: dict[str, str] | None = None) -> tuple[HttpResponse, LandedFile]:
        resp = self.client.get(self.client.url(name), headers=headers)
        landed = lander.land(resp, KIND_MANIFEST)
        result.files.append(landed)
        return resp, landed

    def _lastupdate(self, stream: str, lander: "Lander", result: ExtractResult) -> ManifestEntry | None:
        name, _, suffix = STREAMS[stream]
        try:
            resp, landed = self._get_text(name, lander, result)
        except SourceError as exc:
            result.notes.append(f"{name} unavailable ({exc.problem}); using the master list only")
            return None
        if resp.status != 200:
            lander.reject(landed, f"HTTP {resp.status}")
            result.notes.append(f"{name}: HTTP {resp.status}; using the master list only")
            return None
        view = parse_manifest(resp.text(), suffix)
        if view.bad_lines or not view.entries:
            problem = "cut or malformed line: " + repr(view.bad_lines[0][1]) if view.bad_lines else "no export line"
            lander.reject(landed, problem)
            result.notes.append(f"{name}: {problem}; using the master list only")
            return None
        return view.entries[-1]

    def _tail(self, stream: str, lander: "Lander", result: ExtractResult, covers: str | None) -> ManifestView:
        """The master list's tail, grown until it reaches back to ``covers`` (or max_tail_bytes)."""
        _, name, suffix = STREAMS[stream]
        size = self.source.tail_bytes
        while True:
            resp, landed = self._get_text(name, lander, result, {"Range": f"bytes=-{size}", "Accept-Encoding": "identity"})
            if resp.status == 416:  # range not satisfiable (e.g. an empty list): ask for all of it
                lander.reject(landed, "HTTP 416 to a tail range")
                resp, landed = self._get_text(name, lander, result, {"Accept-Encoding": "identity"})
            if resp.status not in (200, 206):
                lander.reject(landed, f"HTTP {resp.status}")
                raise SourceUnavailable(self.name, resp.redacted_url, f"{name}: HTTP {resp.status}",
                                        "the next nightly run retries; the watermark did not move")
            start = content_range_start(resp.headers.get("content-range")) if resp.status == 206 else 0
            partial = bool(start)  # a 206 from byte 0, or a 200 (server ignored Range), holds whole lines
            view = parse_manifest(resp.text(), suffix, partial_first_line=partial)
            if (not partial or covers is None or (view.earliest_ts is not None and view.earliest_ts <= covers)
                    or size >= self.source.max_tail_bytes):
                if partial and covers is not None and (view.earliest_ts is None or view.earliest_ts > covers):
                    result.notes.append(
                        f"{name}: the last {size} bytes reach back to {view.earliest_ts} only, not to the watermark "
                        f"{covers}; batches in between are not loaded: run `bilateral backfill --from --to` for them")
                return view
            size = min(size * 4, self.source.max_tail_bytes)

    def _full_manifest(self, stream: str, lander: "Lander", result: ExtractResult) -> ManifestView:
        """The whole master list (backfill), fetched once per connector instance."""
        with self._manifest_lock:
            if stream not in self._full_manifests:
                _, name, suffix = STREAMS[stream]
                resp, landed = self._get_text(name, lander, result, {"Accept-Encoding": "identity"})
                if resp.status != 200:
                    lander.reject(landed, f"HTTP {resp.status}")
                    raise SourceUnavailable(self.name, resp.redacted_url, f"{name}: HTTP {resp.status}",
                                            "retry the backfill later")
                self._full_manifests[stream] = parse_manifest(resp.text(), suffix)  # the parsed view, not the body
            view = self._full_manifests[stream]
        self._note_bad_lines(stream, view, result, None)
        return view

    def _note_bad_lines(self, stream: str, view: ManifestView, result: ExtractResult, after: str | None) -> None:
        for ts, line in view.bad_lines:
            result.notes.append(f"{STREAMS[stream][1]}: manifest line cut mid-line or malformed, skipped: {line!r}")
            if ts and (after is None or ts > after) and not any(e.ts == ts for e in view.entries):
                key = f"skipped:{stream}:{ts}"
                info = {"url": "", "size": 0, "md5": "", "reason": f"manifest line cut mid-line: {line[:120]!r}",
                        "attempts": 0, "given_up": False}
                prev = self.state.get(key)
                if prev:
                    try:
                        info["attempts"] = int(json.loads(prev).get("attempts", 0))
                    except ValueError:
                        pass
                result.state_updates.setdefault(key, json.dumps(info, sort_keys=True))

    def _incremental_selection(self, stream: str, lander: "Lander", result: ExtractResult,
                               pending: dict[str, dict]) -> tuple[list[ManifestEntry], str | None]:
        watermark = None if self.full_refresh else (self.state.get(f"watermark:{stream}") or None)
        latest = self._lastupdate(stream, lander, result)
        pending_ts = {k.rsplit(":", 1)[-1] for k in pending}
        if latest is not None and watermark is not None and latest.ts <= watermark and not pending_ts:
            result.notes.append(f"{stream}: up to date (watermark {watermark})")
            return [], None
        oldest_needed = min([watermark, *pending_ts]) if watermark or pending_ts else None
        if (latest is not None and watermark is not None and not pending_ts
                and _next_batch(watermark) == latest.ts):
            view = ManifestView([latest], [], latest.ts)  # exactly one new batch: lastupdate.txt suffices
        else:
            view = self._tail(stream, lander, result, oldest_needed)
        self._note_bad_lines(stream, view, result, watermark)
        new = [e for e in view.entries if watermark is None or e.ts > watermark]
        cap = self.source.max_files_per_run
        if len(new) > cap:
            result.notes.append(f"{stream}: {len(new)} new batches, loading the oldest {cap}; the next run continues")
            new = new[:cap]
        retries = [e for e in view.entries if e.ts in pending_ts and e not in new]
        # stored URL/size/MD5 for skipped files the view does not list any more
        listed = {e.ts for e in view.entries}
        for key, info in pending.items():
            ts = key.rsplit(":", 1)[-1]
            if ts not in listed and info.get("md5"):
                retries.append(ManifestEntry(ts=ts, size=int(info["size"]), md5=info["md5"], url=info["url"]))
        limit = new[-1].ts if len(new) == cap and new else None  # capped: do not jump past the files left for later
        candidates = [e.ts for e in new] + [ts for ts, _ in view.bad_lines
                                            if ts and (watermark is None or ts > watermark) and (limit is None or ts <= limit)]
        new_watermark = max(candidates) if candidates else None
        if new_watermark and watermark and new_watermark <= watermark:
            new_watermark = None
        return sorted(retries, key=lambda e: e.ts) + new, new_watermark

    # --- one export file -------------------------------------------------------------------------
    def _fetch_file(self, entry: ManifestEntry, stream: str, lander: "Lander", result: ExtractResult) -> _FileOutcome:
        url = self.file_url(entry.filename)
        try:
            resp = self.client.get(url, headers={"Accept-Encoding": "identity"})
        except SourceError as exc:  # retries exhausted, transport failure, or a replay that lacks the file
            return _FileOutcome(entry, "skipped", f"not fetched: {exc.problem}")
        zipped = lander.land(resp, KIND_ZIP)
        result.files.append(zipped)
        problem = self._check_download(entry, resp)
        if problem:
            lander.reject(zipped, problem)
            return _FileOutcome(entry, "skipped", problem)
        counts = {"lines": 0, "bytes": 0, "last": b"\n"}
        try:
            with zipfile.ZipFile(io.BytesIO(resp.body)) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1 or not members[0].filename.upper().endswith(".CSV"):
                    raise MalformedResponse(self.name, url, f"expected one .CSV member, found {[m.filename for m in members]}")
                if members[0].file_size > self.source.max_csv_bytes:
                    raise MalformedResponse(self.name, url, f"CSV member of {members[0].file_size} bytes exceeds max_csv_bytes")
                with zf.open(members[0]) as member:
                    csv = lander.land_derived(zipped, KIND_EVENT, "CSV", _counting_chunks(member, counts, self.source.max_csv_bytes),
                                              load_params=self.load_params(stream))
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:  # truncated, bad CRC, not a zip
            problem = f"truncated or corrupt zip: {exc}"
            lander.reject(zipped, problem)
            return _FileOutcome(entry, "skipped", problem)
        except MalformedResponse as exc:
            lander.reject(zipped, exc.problem)
            return _FileOutcome(entry, "skipped", exc.problem)
        rows = counts["lines"] + (counts["last"] != b"\n")
        result.files.append(csv)
        return _FileOutcome(entry, "loaded", rows=rows, csv_bytes=counts["bytes"], files=[csv])

    @staticmethod
    def _check_download(entry: ManifestEntry, resp: HttpResponse) -> str:
        if resp.status != 200:
            what = "not (yet) published or removed" if resp.status == 404 else resp.text()[:80].strip()
            return f"HTTP {resp.status} ({what})"
        if entry.size and len(resp.body) != entry.size:
            return f"size {len(resp.body)} bytes, manifest says {entry.size}"
        md5 = hashlib.md5(resp.body).hexdigest()
        if entry.md5 and md5 != entry.md5:
            return f"MD5 {md5} does not match the manifest's {entry.md5}"
        return ""

    def _parent(self, lander: "Lander") -> LandedFile:
        """The landed response derived files of this run hang off (a manifest when there is one)."""
        manifests = [f for f in lander.files if f.kind == KIND_MANIFEST and f.http_status in (200, 206)]
        if manifests or lander.files:
            return (manifests or lander.files)[-1]
        return LandedFile(lander.run_id, self.name, "", "", self.client.url(""), 200, 0, "",
                          datetime.now(timezone.utc).isoformat(timespec="seconds"), self.client.transport.origin, False)

    def _land_file_facts(self, stream: str, outcomes: list[_FileOutcome], lander: "Lander", result: ExtractResult) -> None:
        """One small CSV row per batch file handled tonight (loaded or skipped)."""
        def clean(v: object) -> str:
            return str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")
        lines = ["\t".join(FILE_COLUMNS)]
        for o in outcomes:
            lines.append("\t".join(clean(v) for v in (o.entry.ts, stream, o.entry.filename, o.entry.size, o.entry.md5,
                                                     o.rows, o.csv_bytes, o.status, o.problem)))
        body = ("\n".join(lines) + "\n").encode()
        result.files.append(lander.land_derived(self._parent(lander), KIND_FILE, "tsv", [body], load_params={"stream": stream}))

    def _land_configured_pairs(self, lander: "Lander", result: ExtractResult) -> None:
        """The configured pairs, once per run, tagged with the run date: a re-run of the same night
        lands identical bytes (loaded once), a later night's list loads and becomes the latest."""
        if any(f.kind == KIND_PAIRS for f in lander.files):
            return
        rows = ["pair\tcountry_a\tcountry_b\tconfigured_on"]
        for pair in self.load_params("export")["pairs"]:
            a, b = pair.split("-")
            rows.append(f"{pair}\t{a}\t{b}\t{self.run_date.isoformat() if self.run_date else ''}")
        body = ("\n".join(rows) + "\n").encode()
        result.files.append(lander.land_derived(self._parent(lander), KIND_PAIRS, "tsv", [body]))


def _counting_chunks(member, counts: dict, limit: int):
    """Yield the member's bytes in 1 MiB chunks, counting lines (C-level bytes.count)."""
    while True:
        chunk = member.read(CHUNK)
        if not chunk:
            return
        counts["lines"] += chunk.count(b"\n")
        counts["bytes"] += len(chunk)
        counts["last"] = chunk[-1:]
        if counts["bytes"] > limit:
            raise ValueError(f"CSV grows past max_csv_bytes ({limit})")
        yield chunk


def _next_batch(ts: str) -> str:
    return (datetime.strptime(ts, "%Y%m%d%H%M%S") + timedelta(minutes=15)).strftime("%Y%m%d%H%M%S")
