"""Fault injection per source: one table of upstream faults, every source driven through its real
connector against a real HTTP server on 127.0.0.1, then its real loader into a real DuckDB file.

Each case scripts what the server does to the requests of the source's first partition (``script``:
a timeout, a reset, a 429, a burst of 5xx, a cut transfer, an error body...) or how the records that
partition publishes differ (``change``: renamed, missing, extra and retyped fields, a renamed or
missing SDMX dimension or attribute, duplicated and out-of-order records). The other partitions are
answered correctly. The test then runs extraction
and loading as the nightly flow does (``flows.extract.extract_period``, ``flows.loading.load_results``
and the same bookkeeping of errors and notes, without Prefect) and asserts

- the outcome: ``succeeded`` (every partition extracted, every file loaded), ``refused`` (a file
  refused whole at load), ``failed`` (a partition failed with a SourceError subclass) or
  ``tripped`` (the source's circuit stopped it for tonight), and the exception class raised;
- the rows in ``raw.<table>``, and that every one of them is a row of the fault-free answers, never
  a coerced one (none comes from a rejected landed file either: nothing unusable reaches raw, so
  nothing unusable can be published);
- the records in ``quarantine.<table>`` with their rule (and the problem, where it matters);
- the message: the source, where, and what to do, as the run summary shows it;
- the waits between attempts (Retry-After honoured, backoff otherwise), and that a stopped source
  sends no request after the fault.

Faults that do not apply (so they have no row):

- quota exhaustion: only Comtrade has a call quota (403 "Out of call volume quota"). World Bank,
  WITS and the GDELT files have none; GDELT DOC throttles instead (429 and its HTTP 200
  "Please limit requests" text, both in the table).
- invalid JSON for gdelt_events: its files are zipped CSV, so the row is an invalid ZIP.
- renamed field for gdelt_events: the export CSV has no header; a field is known by its position
  only, so a rename cannot happen (a moved field is a retyped or malformed one).

Timeouts are real (the server sleeps past ``timeout_seconds``); waits between retries are recorded,
not slept, so that Retry-After can be asserted without waiting for it.
"""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import duckdb
import pytest

from flows import extract, loading
from flows.config import Config, load_config
from flows.errors import ApiErrorBody, MalformedResponse, QuotaExhausted, SourceError, SourceUnavailable
from flows.http import HttpClient
from flows.run import RunContext
from flows.sources import load_specs
from flows.sources.comtrade.sample import _record as comtrade_record
from flows.sources.gdelt_events.sample import _zip as gdelt_zip
from flows.sources.wits.connector import wits_codes
from flows.sources.wits.sample import NO_DATA_BODY
from flows.sources.wits.sample import _message as wits_message
from flows.sources.wits.sample import _template as wits_template
from flows.warehouse import RAW_META_COLUMNS, ensure_schemas
from tests.conftest import ScriptedServer, serving, write_config_file
from tests.test_gdelt_events import event_row

RUN_DATE = date(2026, 11, 28)
RETRIES = 2
ATTEMPTS = RETRIES + 1
TIMEOUT = 0.25  # seconds the client waits for an answer
SLOW = 0.6  # seconds a slow server takes: past TIMEOUT
BAD_SHARE = 0.3  # one bad record of an answer's 4 is quarantined; more refuse the file as drift
JSON = {"Content-Type": "application/json; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
XML = {"Content-Type": "application/xml"}
Reply = tuple[int, dict, bytes]


# --- the sources, as a fault-free server answers them ------------------------------------------------
def _query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query, keep_blank_values=True).items()}


class Kit:
    """How to drive one source: small settings, a valid answer to any of its requests, and which
    requests belong to its first partition (the one faults hit)."""

    name: str
    table: str  # the raw table of its records
    rows: int  # rows in raw.<table> when nothing goes wrong
    config: dict[str, object] = {}  # countries and years
    options: dict[str, object] = {}  # [sources.<name>] besides the common small settings
    environ: dict[str, str] = {}
    volatile: tuple[str, ...] = ()  # raw columns that encode a position in the answer, not data

    def answer(self, path: str, change: Callable | None) -> Reply:
        """A valid answer to ``path``; the records of the answer ``hits(path, "records")`` edited by ``change``."""
        raise NotImplementedError

    def hits(self, path: str, target: str) -> bool:
        """Whether ``path`` is one the fault hits: ``data``, a request of the first partition; ``records``,
        the answer whose records ``change`` edits; ``manifest`` (GDELT events), the master file list."""
        raise NotImplementedError

    def overrides(self, base_url: str) -> dict[str, object]:
        """The configuration of a small, fast run against ``base_url``: short timeouts, two retries."""
        common = {"base_url": base_url, "max_retries": RETRIES, "timeout_seconds": TIMEOUT, "backoff_seconds": 1.0,
                  "min_interval_seconds": 0.0, "max_bad_record_share": BAD_SHARE}
        return {**self.config, **{f"sources.{self.name}.{k}": v for k, v in {**common, **self.options}.items()}}


class Comtrade(Kit):
    """Keyed mode; reporters CAN and CHN for 2024: two partitions (one period), two calls each (TOTAL
    and the products), four records per call."""

    name, table, rows = "comtrade", "comtrade_record", 16
    config = {"countries.focus": ["CAN", "CHN"], "years.start": 2024, "years.end": 2024}
    environ = {"COMTRADE_API_KEY": "fault-injection-key"}
    options = {"freqs": ["A"], "flows": ["M", "X"], "products": ["120510"], "transit_partners": []}

    def records(self, path: str) -> list[dict]:
        q = _query(path)
        reporter = {"124": "CAN", "156": "CHN"}[q["reporterCode"]]
        partners, flows, cmds = (q[k].split(",") for k in ("partnerCode", "flowCode", "cmdCode"))
        return [comtrade_record(reporter, int(p), f, c, int(q["period"]), None, 1000.0 + 10 * i + j)
                for i, (p, c) in enumerate((p, c) for p in partners for c in cmds[:2]) for j, f in enumerate(flows)]

    def answer(self, path: str, change: Callable | None) -> Reply:
        rows = self.records(path)
        if change and self.hits(path, "records"):
            rows = change(rows)
        return 200, JSON, json.dumps({"elapsedTime": "0.1 secs", "count": len(rows), "data": rows, "error": ""}).encode()

    def hits(self, path: str, target: str) -> bool:
        q = _query(path)
        return q.get("reporterCode") == "124" and (target != "records" or q.get("cmdCode") == "TOTAL")


class WorldBank(Kit):
    """Two indicators (two partitions, one period), one page of four records each."""

    name, table, rows = "worldbank", "worldbank_indicator", 8
    config = {"countries.focus": ["CAN", "CHN"], "years.start": 2022, "years.end": 2023}
    options = {"indicators": ["TM.TAX.MRCH.WM.AR.ZS", "NY.GDP.MKTP.CD"], "per_page": 100}

    def answer(self, path: str, change: Callable | None) -> Reply:
        indicator = urlsplit(path).path.rsplit("/", 1)[-1]
        rows = [{"indicator": {"id": indicator, "value": indicator}, "country": {"id": iso3[:2], "value": iso3},
                 "countryiso3code": iso3, "date": str(year), "value": round(1.5 + i + year % 10 / 10, 2), "unit": "",
                 "obs_status": "", "decimal": 2}
                for i, (iso3, year) in enumerate((c, y) for c in ("CAN", "CHN") for y in (2023, 2022))]
        if change and self.hits(path, "records"):
            rows = change(rows)
        meta = {"page": 1, "pages": 1, "per_page": 100, "total": len(rows), "sourceid": "2", "lastupdated": "2026-07-01"}
        return 200, JSON, json.dumps([meta, rows]).encode()

    def hits(self, path: str, target: str) -> bool:
        return "/indicator/TM.TAX.MRCH.WM.AR.ZS" in path


@lru_cache(maxsize=1)
def _trn_template() -> dict:
    return wits_template()


class Wits(Kit):
    """MFN answers of CAN and CHN for 2021 (two partitions, one period), four HS6 lines each, in the
    SDMX-JSON shape of the real recording."""

    name, table, rows = "wits", "wits_trn_tariff", 8
    config = {"countries.focus": ["CAN", "CHN"], "years.start": 2021, "years.end": 2021}
    options = {"preferential": False}
    volatile = ("series_key",)  # SDMX indexes into the code lists
    codes = ["010121", "010129", "010130", "010190"]

    def answer(self, path: str, change: Callable | None) -> Reply:
        reporter = {v: k for k, v in wits_codes().items()}[path.split("/reporter/")[1].split("/")[0]]
        body = wits_message(_trn_template(), reporter, None, 2021, self.codes)
        if change and self.hits(path, "records"):
            changed = change(json.loads(body))
            if isinstance(changed, tuple):  # a whole other answer (e.g. an error document)
                return changed
            body = json.dumps(changed).encode()
        return 200, JSON, body

    def hits(self, path: str, target: str) -> bool:
        return "/reporter/124/" in path


class GdeltEvents(Kit):
    """Two 15-minute batches listed by the manifests, four CAN-CHN events each (one partition, the
    export stream). Faults hit the first batch's zip (``target="data"``) or the master list
    (``target="manifest"``); ``change`` edits the first batch's lines (lists of fields) before it
    is zipped, or returns the bytes published instead of a zip. The manifests always describe what
    is published, as GDELT's do."""

    name, table, rows = "gdelt_events", "gdelt_event", 8
    config = {"countries.focus": ["CAN", "CHN"]}
    batches = ("20250312141500", "20250312143000")

    def lines(self, ts: str) -> list[list[str]]:
        first = 100 if ts == self.batches[0] else 200
        return [event_row(first + i, ("CAN", "CHN")[i % 2], ("CHN", "CAN")[i % 2], ts).split("\t") for i in range(4)]

    def published(self, ts: str, change: Callable | None) -> bytes:
        lines = self.lines(ts)
        if change and ts == self.batches[0]:
            lines = change(lines)
            if isinstance(lines, bytes):
                return lines
        return gdelt_zip(f"{ts}.export.CSV", "".join("\t".join(line) + "\n" for line in lines))

    def manifest_line(self, ts: str, change: Callable | None) -> str:
        body = self.published(ts, change)
        return f"{len(body)} {hashlib.md5(body).hexdigest()} http://data.gdeltproject.org/gdeltv2/{ts}.export.CSV.zip"

    def answer(self, path: str, change: Callable | None) -> Reply:
        name = urlsplit(path).path.rsplit("/", 1)[-1]
        if name == "lastupdate.txt":
            return 200, TEXT, (self.manifest_line(self.batches[-1], change) + "\n").encode()
        if name == "masterfilelist.txt":  # the whole list: a server that ignores Range, which works too
            return 200, TEXT, "".join(self.manifest_line(ts, change) + "\n" for ts in self.batches).encode()
        ts = name[:14]
        if ts in self.batches:
            return 200, {"Content-Type": "application/zip"}, self.published(ts, change)
        return 404, HTML, b"<html>404 Not Found</html>"

    def hits(self, path: str, target: str) -> bool:
        if target == "manifest":
            return path.endswith("/masterfilelist.txt")
        return path.endswith(f"/{self.batches[0]}.export.CSV.zip")


class GdeltDoc(Kit):
    """Pairs CAN-CHN and CAN-USA (two partitions, one period), artlist only, four articles each."""

    name, table, rows = "gdelt_doc", "gdelt_doc_article", 8
    config = {"countries.focus": ["CAN", "CHN", "USA"], "countries.pairs": ["CAN-CHN", "CAN-USA"]}
    options = {"modes": ["artlist"]}

    def answer(self, path: str, change: Callable | None) -> Reply:
        pair = "can-chn" if self.hits(path, "records") else "can-usa"
        articles = [{"url": f"https://example.com/{pair}/{i}", "url_mobile": "", "title": f"Tariff news {i} ({pair})",
                     "seendate": f"2026112{i}T0{i}1500Z", "socialimage": "", "domain": "example.com",
                     "language": "English", "sourcecountry": "Canada"} for i in range(4, 0, -1)]
        if change and self.hits(path, "records"):
            articles = change(articles)
        return 200, JSON, json.dumps({"articles": articles}).encode()

    def hits(self, path: str, target: str) -> bool:
        return "%22China%22" in path


KITS: dict[str, Kit] = {k.name: k for k in (Comtrade(), WorldBank(), Wits(), GdeltEvents(), GdeltDoc())}


# --- what the server does to the requests a fault hits ----------------------------------------------
Script = Callable[[Kit, str, "Callable | None"], Reply]


def status(code: int, body: bytes = b"", headers: dict | None = None) -> Script:
    return lambda kit, path, change: (code, headers or TEXT, body)


def slow(kit: Kit, path: str, change) -> Reply:
    """Answers correctly, but only after the client has given up."""
    time.sleep(SLOW)
    return kit.answer(path, change)


def cut_transfer(kit: Kit, path: str, change) -> Reply:
    """Announces the whole body (Content-Length) and sends half of it: the connection ends early."""
    code, headers, body = kit.answer(path, change)
    return code, {**headers, "Content-Length": str(len(body))}, body[: len(body) // 2]


def cut_body(kit: Kit, path: str, change) -> Reply:
    """A complete HTTP answer whose document is cut in the middle."""
    code, headers, body = kit.answer(path, change)
    return code, headers, body[: len(body) // 2]


RESET = status(-2)
DROPPED = status(-1)


# --- how the first partition's records differ ----------------------------------------------------------
def each(edit: Callable[[dict], None]) -> Callable[[list], list]:
    def change(records: list) -> list:
        records = copy.deepcopy(records)
        for r in records:
            edit(r)
        return records
    return change


def second(edit: Callable[[dict], None]) -> Callable[[list], list]:
    def change(records: list) -> list:
        records = copy.deepcopy(records)
        edit(records[1])
        return records
    return change


def renamed(old: str, new: str) -> Callable[[list], list]:
    return each(lambda r: r.update({new: r.pop(old)}))


def twice(records: list) -> list:
    return [r for r in records for _ in range(2)]


def reversed_order(records: list) -> list:
    return list(reversed(records))


def gdelt_field(i: int, value: str) -> Callable[[list], list]:
    return second(lambda fields: fields.__setitem__(i, value))


def wits_dimension_renamed(doc: dict) -> dict:
    next(d for d in doc["structure"]["dimensions"]["series"] if d["id"] == "PRODUCTCODE")["id"] = "PRODUCT"
    return doc


def wits_attribute_renamed(old: str, new: str) -> Callable[[dict], dict]:
    def change(doc: dict) -> dict:
        next(a for a in doc["structure"]["attributes"]["observation"] if a["id"] == old)["id"] = new
        return doc
    return change


def wits_attributes_dropped(*names: str) -> Callable[[dict], dict]:
    """Observation attributes gone from the structure, and their slots from every observation."""
    def change(doc: dict) -> dict:
        attrs = doc["structure"]["attributes"]["observation"]
        gone = [i for i, a in enumerate(attrs) if a["id"] in names]
        doc["structure"]["attributes"]["observation"] = [a for i, a in enumerate(attrs) if i not in gone]
        return wits_observations(lambda obs: [obs.pop(i + 1) for i in reversed(gone)], which=None)(doc)
    return change


def wits_observations(edit: Callable[[list], None], which: int | None = 1) -> Callable[[dict], dict]:
    """Edit the observation arrays ``[value, attribute indexes...]`` (of the second series, or all)."""
    def change(doc: dict) -> dict:
        for i, series in enumerate(doc["dataSets"][0]["series"].values()):
            if which is None or i == which:
                for obs in series["observations"].values():
                    edit(obs)
        return doc
    return change


def wits_extra_attribute(doc: dict) -> dict:
    """A new observation attribute, announced first: every other attribute moves one position."""
    doc["structure"]["attributes"]["observation"].insert(0, {"id": "NEW_FLAG", "name": "New flag",
                                                             "values": [{"id": "Y", "name": "yes"}]})
    return wits_observations(lambda obs: obs.insert(1, 0), which=None)(doc)


def wits_series_twice(doc: dict) -> dict:
    """Every HS6 line listed twice in the code list, each with its own series."""
    products = next(d for d in doc["structure"]["dimensions"]["series"] if d["id"] == "PRODUCTCODE")
    n = len(products["values"])
    products["values"] = products["values"] * 2
    series = doc["dataSets"][0]["series"]
    for key in list(series):
        k = key.split(":")
        series[":".join([*k[:2], str(int(k[2]) + n), *k[3:]])] = copy.deepcopy(series[key])
    return doc


def wits_series_reversed(doc: dict) -> dict:
    doc["dataSets"][0]["series"] = dict(reversed(list(doc["dataSets"][0]["series"].items())))
    return doc


def answer_instead(reply: Reply) -> Callable:
    return lambda doc: reply


def published_instead(body: bytes) -> Callable:
    return lambda lines: body


# --- the table -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    source: str
    fault: str
    outcome: str  # succeeded | refused | failed | tripped
    loaded: int  # rows in raw.<table> afterwards
    says: tuple[str, ...]  # fragments of the run's messages (errors, refusals, notes)
    script: tuple[Script, ...] = ()  # served, in order, to the requests the fault hits
    change: Callable | None = None  # how the first partition's published records differ
    error: type[SourceError] | None = None  # what the connector raised first
    quarantined: tuple[tuple[int | None, str], ...] = ()  # (record_no, rule) in quarantine.<table>
    waited: tuple[float, float] | None = None  # range of the first wait between attempts
    why: str = ""  # a fragment of the quarantined records' problem
    target: str = "data"

    @property
    def id(self) -> str:
        return f"{self.source}:{self.fault.replace(' ', '_')}"


WHERE = {"comtrade": "/data/v1/get/C/A/HS?", "worldbank": "/indicator/TM.TAX.MRCH.WM.AR.ZS?",
         "wits": "/reporter/124/partner/000/", "gdelt_events": "20250312141500.export.CSV.zip",
         "gdelt_doc": "CAN-CHN artlist"}
STRICT = ("comtrade", "worldbank", "wits")  # an unusable answer fails its partition (GDELT: a note)
RETRY_NEXT_NIGHT = "--sample or --replay DIR"
STALE = "news series not updated tonight (stale)"
SKIPPED = "a later run retries it"
QUOTA_BODY = b'{"statusCode": 403, "message": "Out of call volume quota. Quota will be replenished in 03:14:17."}'


def unavailable(source: str, last: str, script: tuple) -> Case:
    """What a fault that outlasts every retry does to each kind of source."""
    first = f"no usable answer after {ATTEMPTS} attempts; last: {last}"
    if source in STRICT:
        return Case(source, "", "tripped", 0, (f"[{source}]", WHERE[source], first, RETRY_NEXT_NIGHT), script,
                    error=SourceUnavailable)
    if source == "gdelt_events":
        return Case(source, "", "succeeded", 4, (f"[{source}]", WHERE[source], first, SKIPPED), script)
    return Case(source, "", "succeeded", 4, (f"[{source}]", WHERE[source], STALE, first), script)


def too_long(source: str) -> Case:
    """A Retry-After past 300 s is given up at once, with its own reason (and hint, where a partition fails)."""
    case = unavailable(source, "", (status(429, b"slow down", {"Retry-After": "3600"}),))
    kept = tuple(x for x in case.says if "attempts" not in x and x != RETRY_NEXT_NIGHT)
    hint = ("the next nightly run retries",) if source in STRICT else ()
    return replace(case, says=kept + ("server asks to wait 3600 s (Retry-After) which exceeds 300 s",) + hint)


def per_source(fault: str, make: Callable[[str], Case]) -> list[Case]:
    return [replace(make(source), source=source, fault=fault) for source in KITS]


def recovered(source: str, script: tuple, waited=None) -> Case:
    return Case(source, "", "succeeded", KITS[source].rows, (), script=script, waited=waited)


CASES: list[Case] = [
    # --- the network: retried by the shared HTTP client, then the source's own policy -------------
    *per_source("timeout", lambda s: recovered(s, (slow,))),
    *per_source("connection reset", lambda s: unavailable(
        s, "ConnectionError: ('Connection aborted.', ConnectionResetError(104", (RESET,) * ATTEMPTS)),
    *per_source("connection dropped", lambda s: recovered(s, (DROPPED,))),
    *per_source("truncated transfer", lambda s: recovered(s, (cut_transfer,))),
    *per_source("429 with Retry-After", lambda s: recovered(s, (status(429, b"Rate limit is exceeded", {"Retry-After": "7"}),),
                                                           waited=(7.0, 7.0))),
    *per_source("429 without Retry-After", lambda s: recovered(s, (status(429, b"Too Many Requests"),), waited=(0.5, 1.5))),
    *per_source("429 Retry-After too long", too_long),
    *per_source("5xx burst then success", lambda s: recovered(s, (status(503, b"busy"), status(502, b"bad gateway")),
                                                            waited=(0.5, 1.5))),
    *per_source("5xx beyond retries", lambda s: unavailable(
        s, "HTTP 500: 'Internal Server Error'", (status(500, b"Internal Server Error"),) * ATTEMPTS)),
    Case("gdelt_events", "5xx beyond retries on the master list", "tripped", 0,
         ("[gdelt_events]", "masterfilelist.txt", f"no usable answer after {ATTEMPTS} attempts; last: HTTP 503: 'busy'",
          RETRY_NEXT_NIGHT), script=(status(503, b"busy"),) * ATTEMPTS, error=SourceUnavailable, target="manifest"),
    Case("comtrade", "quota exhausted", "tripped", 0,
         ("[comtrade] HTTP 403, call quota exhausted", "03:14:17", "quota resets at", WHERE["comtrade"],
          "Comtrade is stopped for tonight; the next nightly run continues where this one stopped",
          "skipped: the source was stopped for tonight earlier in this run"),
         script=(status(403, QUOTA_BODY, JSON),), error=QuotaExhausted),

    # --- answers that arrive whole but are unusable ---------------------------------------------------
    Case("comtrade", "truncated body", "failed", 8,
         ("[comtrade] body is not valid JSON", WHERE["comtrade"], "next nightly run"),
         script=(cut_body,), error=MalformedResponse),
    Case("worldbank", "truncated body", "failed", 4,
         ("[worldbank] body is not valid JSON", WHERE["worldbank"], "next nightly run"),
         script=(cut_body,), error=MalformedResponse),
    Case("wits", "truncated body", "failed", 4, ("[wits] body is not valid JSON", WHERE["wits"], "next nightly run"),
         script=(cut_body,), error=MalformedResponse),
    Case("gdelt_events", "truncated body", "succeeded", 4,
         ("[gdelt_events]", WHERE["gdelt_events"], "bytes, manifest says", SKIPPED), script=(cut_body,)),
    Case("gdelt_doc", "truncated body", "succeeded", 4, ("[gdelt_doc]", WHERE["gdelt_doc"], STALE, "not valid JSON"),
         script=(cut_body,)),

    Case("comtrade", "invalid JSON", "failed", 8,
         ("[comtrade] body is not valid JSON", WHERE["comtrade"], "next nightly run"),
         script=(status(200, b'{"count": 1, "data": [{"period": 2024,}]}', JSON),), error=MalformedResponse),
    Case("worldbank", "invalid JSON", "failed", 4,
         ("[worldbank] body is not valid JSON", WHERE["worldbank"], "next nightly run"),
         script=(status(200, b'[{"page": 1}, [{"value": NaN-ish}]]', JSON),), error=MalformedResponse),
    Case("wits", "invalid JSON", "failed", 4, ("[wits] body is not valid JSON", WHERE["wits"], "next nightly run"),
         script=(status(200, b'{"header": {"id": "DF_WITS_Tariff_TRAINS"}, "dataSets": [}', JSON),),
         error=MalformedResponse),
    Case("gdelt_events", "invalid ZIP", "succeeded", 4,
         ("[gdelt_events]", WHERE["gdelt_events"], "truncated or corrupt zip", SKIPPED),
         change=published_instead(b"PK\x03\x04 this is not a zip archive")),
    Case("gdelt_doc", "invalid JSON", "succeeded", 4, ("[gdelt_doc]", WHERE["gdelt_doc"], STALE, "not valid JSON"),
         script=(status(200, b'{"articles": [{"url": "https://example.com/x", }', JSON),)),

    Case("comtrade", "HTTP 200 error body", "failed", 8,
         ("[comtrade] API error body with HTTP 200: 'invalid period'", WHERE["comtrade"], "check the request parameters"),
         script=(status(200, b'{"elapsedTime": "0.01 secs", "count": 0, "data": [], "error": "invalid period"}', JSON),),
         error=ApiErrorBody),
    Case("worldbank", "HTTP 200 error body", "failed", 4,
         ("[worldbank] API error body with HTTP 200: error 175", "The indicator was not found", WHERE["worldbank"],
          "fix or remove the indicator in sources.worldbank.indicators"),
         script=(status(200, b'[{"message": [{"id": "175", "key": "Invalid format", "value": "The indicator was not '
                             b'found. It may have been deleted or archived."}]}]', JSON),), error=ApiErrorBody),
    Case("wits", "HTTP 200 error body", "failed", 4,
         ("[wits] HTTP 200 error document: WITS error 110 (Invalid Reporter Code.)", WHERE["wits"],
          "check the reporter/partner codes"),
         script=(status(200, b'<?xml version="1.0" encoding="utf-8"?><wits:error xmlns:wits="http://wits.worldbank.org">'
                             b'<wits:message id="110" key="Invalid Reporter Code.">The provided Reporter code parameter '
                             b'value is not valid.</wits:message></wits:error>', XML),), error=ApiErrorBody),
    Case("gdelt_events", "HTTP 200 error body", "succeeded", 4,
         ("[gdelt_events]", WHERE["gdelt_events"], "manifest says", SKIPPED),
         script=(status(200, b"<html><body>Service temporarily overloaded</body></html>", HTML),)),
    Case("gdelt_doc", "HTTP 200 error body", "succeeded", 4,
         ("[gdelt_doc]", WHERE["gdelt_doc"], STALE, "the API refused the query", "The specified phrase is too short"),
         script=(status(200, b"The specified phrase is too short.", HTML),)),
    Case("gdelt_doc", "HTTP 200 throttling text", "succeeded", 4,
         ("[gdelt_doc]", WHERE["gdelt_doc"], STALE, f"no usable answer after {ATTEMPTS} attempts",
          "Please limit requests"),
         script=(status(200, b"Please limit requests to one every 5 seconds or contact the GDELT team."),) * ATTEMPTS),

    Case("comtrade", "empty answer", "succeeded", 12, ("[comtrade] A-2024-CAN: no data published yet", "HTTP 200, count 0"),
         change=lambda rows: []),
    Case("worldbank", "empty answer", "succeeded", 4, ("[worldbank] TM.TAX.MRCH.WM.AR.ZS: no data for CAN;CHN 2022:2023",),
         script=(status(200, b'[{"page":0,"pages":0,"per_page":0,"total":0,"sourceid":null,"lastupdated":null},null]',
                        JSON),)),
    Case("wits", "empty answer", "succeeded", 4, ("[wits] CAN MFN (partner World) 2021: no WITS data", "No Records Found"),
         change=answer_instead((200, XML, NO_DATA_BODY.encode()))),
    Case("gdelt_events", "empty answer", "succeeded", 4, (), change=lambda lines: []),
    Case("gdelt_doc", "empty answer", "succeeded", 4, ("[gdelt_doc] CAN-CHN artlist: no results",),
         script=(status(200, b"{}", JSON),)),

    # --- schema drift ----------------------------------------------------------------------------
    Case("comtrade", "renamed field", "refused", 12,
         ("[comtrade A-2024-CAN] refused to load", "4 of 4 records (100.0%) break the record contract",
          "field primaryValue: missing or null", "unknown fields: primaryvalue", "bilateral quarantine"),
         change=renamed("primaryValue", "primaryvalue"), quarantined=((None, "file_refused"),)),
    Case("worldbank", "renamed field", "refused", 4,
         ("[worldbank TM.TAX.MRCH.WM.AR.ZS] refused to load", "4 of 4 records", "countryiso3code",
          "unknown fields: countryIso3Code", "bilateral quarantine"),
         change=renamed("countryiso3code", "countryIso3Code"), quarantined=((None, "file_refused"),)),
    Case("wits", "renamed field", "refused", 4,
         ("[wits CAN-000-2021] refused to load", "changed format: the SDMX structure lacks the observation attribute(s) "
          "TARIFFTYPE that raw.wits_trn_tariff loads", "unknown fields: TARIFF_TYPE", "bilateral quarantine"),
         change=wits_attribute_renamed("TARIFFTYPE", "TARIFF_TYPE"), quarantined=((None, "file_refused"),)),
    Case("wits", "renamed dimension", "failed", 4,
         ("[wits] series dimensions missing: PRODUCTCODE", WHERE["wits"], "next nightly run",
          "flows/sources/wits/README.md"),
         change=wits_dimension_renamed, error=MalformedResponse),
    Case("gdelt_doc", "renamed field", "refused", 4,
         ("[gdelt_doc CAN-CHN] refused to load", "4 of 4 records", "article without url", "unknown fields: link",
          "bilateral quarantine"),
         change=renamed("url", "link"), quarantined=((None, "file_refused"),)),

    Case("comtrade", "missing field", "succeeded", 15, (), change=second(lambda r: r.pop("cmdCode")),
         quarantined=((2, "wrong_type"),)),
    Case("worldbank", "missing field", "succeeded", 7, (), change=second(lambda r: r.pop("date")),
         quarantined=((2, "missing_field"),)),
    Case("wits", "missing field", "succeeded", 7, (), change=wits_observations(lambda obs: obs.__setitem__(0, None)),
         quarantined=((2, "wrong_type"),)),
    Case("wits", "missing attribute", "refused", 4,
         ("[wits CAN-000-2021] refused to load", "lacks the observation attribute(s) MIN_RATE, TARIFFTYPE"),
         change=wits_attributes_dropped("TARIFFTYPE", "MIN_RATE"), quarantined=((None, "file_refused"),)),
    Case("gdelt_events", "missing field", "succeeded", 7, (), change=second(lambda fields: fields.pop(40)),
         quarantined=((2, "malformed_line"),)),
    Case("gdelt_doc", "missing field", "succeeded", 7, (), change=second(lambda r: r.pop("seendate")),
         quarantined=((2, "wrong_type"),)),

    Case("comtrade", "extra field", "succeeded", 16, ("[comtrade]", "unknown fields: netWgtUnit",),
         change=each(lambda r: r.update(netWgtUnit="kg"))),
    Case("worldbank", "extra field", "succeeded", 8, ("[worldbank]", "unknown fields: footnote"),
         change=each(lambda r: r.update(footnote="revised"))),
    Case("wits", "extra field", "succeeded", 8, ("[wits]", "unknown fields: NEW_FLAG"), change=wits_extra_attribute),
    Case("gdelt_events", "extra field", "refused", 4,
         ("[gdelt_events export] refused to load", "4 of 4 records (100.0%)", "expected 61 fields, found 62",
          "the format may have changed", "bilateral quarantine"),
         change=each(lambda fields: fields.append("new column")), quarantined=((None, "file_refused"),)),
    Case("gdelt_doc", "extra field", "succeeded", 8, ("[gdelt_doc]", "unknown fields: tone"),
         change=each(lambda r: r.update(tone=-2.5))),

    Case("comtrade", "retyped field", "succeeded", 15, (), change=second(lambda r: r.update(primaryValue="1,010.0")),
         quarantined=((2, "wrong_type"),)),
    Case("worldbank", "retyped field", "succeeded", 7, (), change=second(lambda r: r.update(value="2.5%")),
         quarantined=((2, "wrong_type"),)),
    Case("wits", "retyped field", "succeeded", 7, (), change=wits_observations(lambda obs: obs.__setitem__(0, "5.0")),
         quarantined=((2, "wrong_type"),)),
    Case("gdelt_events", "retyped field", "succeeded", 7, (), change=gdelt_field(30, "high"),
         quarantined=((2, "wrong_type"),)),
    Case("gdelt_doc", "retyped field", "succeeded", 7, (), change=second(lambda r: r.update(seendate=20261123)),
         quarantined=((2, "wrong_type"),)),

    Case("comtrade", "retyped optional field", "succeeded", 15, (), change=second(lambda r: r.update(aggrLevel="two")),
         quarantined=((2, "wrong_type"),), why='field aggrLevel: expected an integer or null, got VARCHAR "two"'),
    Case("worldbank", "retyped optional field", "succeeded", 7, (), change=second(lambda r: r.update(decimal="two")),
         quarantined=((2, "wrong_type"),), why='field decimal: expected an integer or null, got VARCHAR "two"'),
    Case("wits", "retyped optional field", "succeeded", 7, (),
         change=wits_observations(lambda obs: obs.__setitem__(3, "MFN")),
         quarantined=((2, "out_of_domain"),), why="attribute index outside its code list: TARIFFTYPE MFN"),
    Case("gdelt_events", "retyped optional field", "succeeded", 7, (), change=gdelt_field(33, "many"),
         quarantined=((2, "wrong_type"),), why="NumArticles many is not a count"),
    Case("gdelt_doc", "retyped optional field", "succeeded", 7, (), change=second(lambda r: r.update(title={"en": "x"})),
         quarantined=((2, "wrong_type"),), why='field title: expected a string or null, got OBJECT {"en":"x"}'),

    # --- records: duplicated and out of order -------------------------------------------------------
    Case("comtrade", "duplicated records", "succeeded", 20, ("[comtrade] 4 record(s) of raw.comtrade_record repeat a natural key",),
         change=twice),
    Case("worldbank", "duplicated records", "succeeded", 12, ("[worldbank] 4 record(s) of raw.worldbank_indicator repeat",),
         change=twice),
    Case("wits", "duplicated records", "succeeded", 12, ("[wits] 4 record(s) of raw.wits_trn_tariff repeat",),
         change=wits_series_twice),
    Case("gdelt_events", "duplicated records", "succeeded", 12, ("[gdelt_events] 4 record(s) of raw.gdelt_event repeat",),
         change=twice),
    Case("gdelt_doc", "duplicated records", "succeeded", 12, ("[gdelt_doc] 4 record(s) of raw.gdelt_doc_article repeat",),
         change=twice),
    *per_source("out-of-order records", lambda s: Case(
        s, "", "succeeded", KITS[s].rows, (), change=wits_series_reversed if s == "wits" else reversed_order)),
]


# --- running a case --------------------------------------------------------------------------------
class Router:
    """The server's script: the requests a fault hits get the scripted replies first; everything
    else is answered correctly (with the case's changed records where they apply)."""

    def __init__(self, kit: Kit, case: Case | None) -> None:
        self.kit, self.case = kit, case
        self.script: deque = deque(case.script if case else ())
        self.paths: list[str] = []
        self.after_script = 0  # requests after the last scripted reply

    def __call__(self, path: str) -> Reply:
        self.paths.append(path)
        change = self.case.change if self.case else None
        if self.script and self.kit.hits(path, self.case.target):
            return self.script.popleft()(self.kit, path, change)
        self.after_script += not self.script
        return self.kit.answer(path, change)


class FaultRun(RunContext):
    """A live run whose HTTP clients record their waits instead of sleeping, and which keeps what
    each connector raised (the run itself keeps only the message)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.waits: list[float] = []
        self.raised: list[SourceError] = []

    def connector(self, name: str, state: dict[str, str]):
        conn = super().connector(name, state)
        conn.client = HttpClient(conn.client.source, conn.client.transport, secret_params=conn.client.secret_params,
                                 sleep=self.waits.append)
        fetch = conn.extract

        def extract_recording(partition, lander):
            try:
                return fetch(partition, lander)
            except SourceError as exc:
                self.raised.append(exc)
                raise
        conn.extract = extract_recording
        return conn


@dataclass
class Outcome:
    status: str
    raised: list[SourceError]
    waits: list[float]
    messages: list[str]
    rows: list[tuple]
    quarantined: list[tuple[int | None, str, str]]
    from_rejected_files: int
    requests_after_script: int


def extract_and_load(run: FaultRun, source: str, specs: dict) -> tuple[list, loading.LoadReport]:
    """What the nightly flow's extract and load steps do for one source, without Prefect (and so
    without its task retries): a failed unit of work is reported and the other units go on."""
    results = []
    for period, partitions in extract.plan(run, source).items():
        try:
            results.extend(extract.extract_period(run, source, period, partitions))
        except SourceError as exc:
            results.extend(run.completed_in(source, period))
            run.source_failed(source, str(exc))
    extract.record_outcomes(run, results)
    shares = {source: run.config.sources[source].max_bad_record_share}
    report = loading.load_results(run.db, run.run_id, results, specs, run_date=run.run_date,
                                  max_bad_share=shares)
    run.summary.notes.extend(report.notes)
    for failure in report.failures:
        run.source_failed(failure.source, failure.message)
    return results, report


def status_of(run: FaultRun, source: str, results: list, report: loading.LoadReport) -> str:
    if run.circuits[source].tripped is not None:
        return "tripped"
    if any(not r.ok for r in results):
        return "failed"
    return "refused" if report.failures else "succeeded"


def stored(db: Path, kit: Kit) -> tuple[list[tuple], list[tuple], int]:
    """Raw rows (without their position and load metadata), quarantined (record_no, rule, problem), and raw
    rows that came from a landed file marked rejected."""
    table = kit.table
    hidden = ", ".join(["record_no", *RAW_META_COLUMNS, *kit.volatile])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"select * exclude ({hidden}) from raw.{table} order by all").fetchall()
        quarantined = con.execute(f"select record_no, rule, problem from quarantine.{table} "
                                  "order by record_no nulls first").fetchall()
        rejected = con.execute(f"select count(*) from raw.{table} as r join audit.landed_files as l "
                               "on l.path = r._landed_file where l.status = 'rejected'").fetchone()[0]
    return rows, quarantined, rejected


@dataclass
class Bench:
    """What every case shares: one local HTTP server, an empty warehouse file to copy, the load specs,
    each source's configuration and its fault-free rows (made once)."""

    server: ScriptedServer
    root: Path
    specs: dict
    configs: dict[str, Config] = field(default_factory=dict)
    fault_free: dict[str, list[tuple]] = field(default_factory=dict)

    @property
    def empty_db(self) -> Path:
        return self.root / "empty.duckdb"

    def config(self, kit: Kit, workdir: Path) -> Config:
        if kit.name not in self.configs:
            path = write_config_file(self.root / f"{kit.name}.toml", self.root / "unused",
                                     kit.overrides(self.server.base_url))
            self.configs[kit.name] = load_config(path, environ={})
        return replace(self.configs[kit.name], warehouse_dir=workdir / "warehouse")


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    root = tmp_path_factory.mktemp("faults")
    ensure_schemas(root / "empty.duckdb")
    with serving(ScriptedServer()) as server:
        yield Bench(server, root, load_specs())


def drive(bench: Bench, kit: Kit, case: Case | None, workdir: Path, monkeypatch) -> Outcome:
    """One source's night up to the load, against the server playing ``case`` (None: no fault)."""
    for name, value in kit.environ.items():
        monkeypatch.setenv(name, value)
    router = Router(kit, case)
    bench.server.script.clear()
    bench.server.respond(router, repeat_last=True)
    run = FaultRun(bench.config(kit, workdir), "live", RUN_DATE, sources=[kit.name])
    run.db.parent.mkdir(parents=True)
    shutil.copyfile(bench.empty_db, run.db)
    results, report = extract_and_load(run, kit.name, bench.specs)
    rows, quarantined, rejected = stored(run.db, kit)
    messages = [*run.summary.source_errors.get(kit.name, []), *run.summary.notes]
    assert not router.script, f"the server never served {len(router.script)} scripted replies: {router.paths}"
    return Outcome(status_of(run, kit.name, results, report), run.raised, run.waits, messages, rows, quarantined,
                   rejected, router.after_script)


def fault_free_rows(bench: Bench, kit: Kit, tmp_path: Path, monkeypatch) -> list[tuple]:
    """The raw rows of the source's fault-free answers (made once per source)."""
    if kit.name not in bench.fault_free:
        outcome = drive(bench, kit, None, tmp_path / "fault-free", monkeypatch)
        assert outcome.status == "succeeded" and len(outcome.rows) == kit.rows and not outcome.quarantined, outcome
        bench.fault_free[kit.name] = outcome.rows
    return bench.fault_free[kit.name]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_upstream_fault(case: Case, bench, tmp_path, monkeypatch):
    kit = KITS[case.source]
    clean = fault_free_rows(bench, kit, tmp_path, monkeypatch)
    got = drive(bench, kit, case, tmp_path / "faulty", monkeypatch)
    said = "\n".join(got.messages)

    assert got.status == case.outcome, said
    assert [type(e) for e in got.raised[:1]] == ([case.error] if case.error else []), said
    assert len(got.rows) == case.loaded, said
    assert [q[:2] for q in got.quarantined] == list(case.quarantined), said
    assert case.why in " | ".join(q[2] for q in got.quarantined), got.quarantined
    for fragment in case.says:
        assert fragment in said, f"{fragment!r} not in the run's messages:\n{said}"
    assert "Traceback" not in said
    if case.outcome == "tripped":
        assert got.requests_after_script == 0, "a stopped source asks nothing more tonight"
    if case.waited:
        low, high = case.waited
        assert got.waits and low <= got.waits[0] <= high, got.waits
    # nothing unusable reaches raw, nothing is coerced: every row is one of the fault-free answers'
    assert got.from_rejected_files == 0
    assert not Counter(set(got.rows)) - Counter(clean), "a row that no fault-free answer holds was loaded"
    if case.outcome == "succeeded" and case.loaded == kit.rows:
        assert got.rows == clean, "the same rows as the fault-free answers"


def test_the_table_covers_every_source_and_fault(capsys):
    """Every source has its row for every fault that applies to it; the closing note prints the counts."""
    faults = sorted({c.fault for c in CASES})
    by = Counter((c.fault, c.source) for c in CASES)
    not_applicable = {("quota exhausted", s) for s in KITS if s != "comtrade"} | {("renamed field", "gdelt_events")}
    for fault in ("timeout", "connection reset", "429 with Retry-After", "429 without Retry-After", "5xx burst then success",
                  "5xx beyond retries", "truncated body", "HTTP 200 error body", "renamed field", "missing field",
                  "extra field", "retyped field", "duplicated records", "out-of-order records"):
        for source in KITS:
            assert by[(fault, source)] == 1 or (fault, source) in not_applicable, (fault, source)
    assert by[("quota exhausted", "comtrade")] == 1
    assert all(by[("invalid JSON", s)] == 1 for s in KITS if s != "gdelt_events") and by[("invalid ZIP", "gdelt_events")] == 1
    assert len({c.id for c in CASES}) == len(CASES), "one row per source and fault"
    with capsys.disabled():
        width = max(map(len, faults))
        print("\n" + "fault".ljust(width) + " | " + " | ".join(KITS))
        for fault in faults:
            print(fault.ljust(width) + " | " + " | ".join(str(by[(fault, s)]).center(len(s)) for s in KITS))
        print("cases per source: " + ", ".join(f"{s} {sum(by[(f, s)] for f in faults)}" for s in KITS)
              + f"; {len(CASES)} in all")
