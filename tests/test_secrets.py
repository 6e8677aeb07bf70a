"""Secrets never leak: whole nights, run as subprocesses of the real CLI with a dummy Comtrade key,
in both auth modes (``header`` and ``query``), through every way a night meets the key:

- success: a local gateway answers every request with the Comtrade sample's answers;
- quarantine (same night): one answer carries a bad record whose description echoes the request
  URL and the key;
- HTTP errors (the next night, one period each, side by side): 401, 403 and 500 bodies that echo
  the request URL and the key, as some gateways do;
- connection failures (same night): the gateway drops the connection without an answer (reset), or
  hands the request on to a backend that is gone (a redirect to a port nobody listens on: refused);
- replay misses: ``--replay DIR`` with a recording lacking tonight's requests.

Then every output is scanned for the key: the console (stdout, stderr) of every night, every file
under the warehouse (landing bodies and manifests, the working and published DuckDB files, Parquet,
GX results and Data Docs, dbt's target and logs) as bytes, every table of every DuckDB file and
every Parquet file dumped to text, and Prefect's home (its own folder per auth mode, served by a
Prefect server of the test's own: see ``prefect_server``) with every table of its SQLite database
dumped (logs, flow and task runs and their states, events, artifacts) and its result storage.
Base64 blobs (Prefect persists results as base64 pickles) are decoded and scanned too.
The key is looked for raw, URL-encoded (upper and lower case), form-encoded, and as any 12
consecutive characters of its random part (a truncated key is still a leak). The scanner's own
test plants the key in each kind of output and must find it.
"""
from __future__ import annotations

import base64
import binascii
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, quote, quote_plus, unquote, urlsplit

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, sample_context, serving, write_config_file

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

RUN_DATE = date(2025, 6, 15)
AUTH_MODES = ("header", "query")
SCENARIOS = ("success", "http_errors", "connection_failures", "replay_misses", "quarantine")
OTHER_SOURCES = ("worldbank", "wits", "gdelt_events", "gdelt_doc")
FRAGMENT = 12  # consecutive characters of the key's random part that count as a leak
NIGHT_TIMEOUT = 300
#: the answer of the success night that carries a bad record: Canada's 2024 chapters and products
BAD_ANSWER = {"reporterCode": "124", "period": "2024", "group": "products"}
ECHO = b"<the request as the gateway saw it>"  # replaced by the request URL and key when served
#: the fault night: one period (one Prefect task, run alongside the others) per fault. "reset": the
#: connection is dropped without an answer; "refused": the gateway hands the request on (a redirect)
#: to a backend that is gone, nobody listens on its port
FAULT_BY_PERIOD = {"2020": 403, "2021": 500, "2022": "reset", "2023": "refused", "2024": 401}


def dummy_key() -> tuple[str, str]:
    """A distinctive key whose random part never occurs by chance; the ``+/=`` tail makes its
    URL-encoded forms differ from the raw one (``%2B%2F%3D``)."""
    core = secrets.token_hex(16)
    return f"sk-TEST-{core}+/=", core


# --- the scanner ------------------------------------------------------------------------------------
@dataclass
class Hit:
    output: str
    form: str
    context: str


_BASE64_RUN = re.compile(rb"(?:[A-Za-z0-9+/]{4}[\r\n]*){10,}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


class KeyScanner:
    """Counts the outputs it is shown and every place the key occurs in them."""

    def __init__(self, key: str, core: str) -> None:
        lower_encoded = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(key, safe=""))
        self.forms = {"raw key": key, "URL-encoded key": quote(key, safe=""), "form-encoded key": quote_plus(key),
                      "URL-encoded key (lower case)": lower_encoded, "key prefix": key[:len("sk-TEST-") + 4]}
        # every full form contains the whole random part, so these needles find every form, and a cut key
        windows = sorted({core[i:i + FRAGMENT] for i in range(len(core) - FRAGMENT + 1)})
        self.needles = [self.forms["key prefix"], *windows]
        self._sql_pattern = "|".join(re.escape(n) for n in self.needles)
        self.outputs: Counter[str] = Counter()
        self.hits: list[Hit] = []

    def _form(self, around: bytes) -> str:
        for name, form in self.forms.items():
            if form.encode() in around:
                return name
        return f"{FRAGMENT}+ characters of the key"

    def scan(self, kind: str, label: str, data: bytes | str, base64_blobs: bool = True) -> None:
        """One output: its bytes, and (``base64_blobs``) the bytes of every base64 blob in it."""
        self.outputs[kind] += 1
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
        self._find(label, raw)
        if not base64_blobs:
            return
        for blob in _BASE64_RUN.finditer(raw):
            packed = re.sub(rb"[\r\n]", b"", blob.group(0))
            try:
                decoded = base64.b64decode(packed + b"=" * (-len(packed) % 4))
            except (binascii.Error, ValueError):
                continue
            self._find(f"{label} (base64-decoded)", decoded)

    def _find(self, label: str, data: bytes) -> None:
        found = []
        for needle in self.needles:
            n, at = needle.encode(), data.find(needle.encode())
            while at >= 0:
                found.append(at)
                at = data.find(n, at + 1)
        last = -10**9
        for at in sorted(found):
            if at - last > 80:  # one hit per occurrence, not one per window of it
                around = data[max(0, at - 80):at + 120]
                self.hits.append(Hit(label, self._form(around), around.decode("utf-8", "replace")))
            last = at

    # --- what a night leaves behind --------------------------------------------------------------
    def scan_tree(self, root: Path, area: str, classify=lambda rel: "files") -> None:
        """Every regular file below ``root`` as bytes; DuckDB, Parquet and SQLite files also dumped."""
        for dirpath, _dirs, files in os.walk(root):
            for name in sorted(files):
                path = Path(dirpath) / name
                if path.is_symlink():  # published/current etc.: the target is scanned where it lives
                    continue
                rel = path.relative_to(root)
                data = path.read_bytes()
                database = data.startswith(b"SQLite format 3\x00") or path.suffix in (".duckdb", ".parquet")
                self.scan(f"{area}: {classify(rel)}", f"{area}/{rel}", data, base64_blobs=not database)
                if data.startswith(b"SQLite format 3\x00"):
                    self.dump_sqlite(path, f"{area}/{rel}", f"{area}: database tables (dumped)")
                elif path.suffix == ".duckdb":
                    self.dump_duckdb(path, f"{area}/{rel}")
                elif path.suffix == ".parquet":
                    self.dump_parquet(path, f"{area}/{rel}")

    def _search_sql(self, con, kind: str, label: str, relation: str, params: list | None = None) -> None:
        """Every row of ``relation`` as text (the row cast to VARCHAR), searched inside DuckDB."""
        self.outputs[kind] += 1
        rows = con.execute(f"select r::varchar from {relation} r where regexp_matches(r::varchar, ?)",
                           [*(params or []), self._sql_pattern]).fetchall()
        for (line,) in rows:
            self._find(label, line.encode())

    def dump_duckdb(self, path: Path, label: str) -> None:
        con = duckdb.connect(str(path), read_only=True)
        try:
            for name in ("duckdb_tables()", "duckdb_views()", "duckdb_columns()"):
                self._search_sql(con, "DuckDB catalogs (dumped)", f"{label} {name}", name)
            for schema, table in con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall():
                self._search_sql(con, "DuckDB tables (dumped)", f"{label} {schema}.{table}", f'"{schema}"."{table}"')
        finally:
            con.close()

    def dump_parquet(self, path: Path, label: str) -> None:
        con = duckdb.connect()
        try:
            self._search_sql(con, "Parquet files (dumped)", f"{label} rows", "read_parquet(?)", [str(path)])
            self._search_sql(con, "Parquet files (dumped)", f"{label} metadata", "parquet_kv_metadata(?)", [str(path)])
        finally:
            con.close()

    def dump_sqlite(self, path: Path, label: str, kind: str) -> None:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / path.name
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                target = sqlite3.connect(copy)
                con.backup(target)  # a consistent copy, write-ahead log included
                target.close()
            finally:
                con.close()
            con = sqlite3.connect(copy)
            try:
                tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table' order by name")]
                for table in tables:
                    lines = ("\t".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                             for row in con.execute(f'select * from "{table}"'))
                    self.scan(kind, f"{label} table {table}", "\n".join(lines))
            finally:
                con.close()


# --- the gateway ------------------------------------------------------------------------------------
class GatewayHandler(http.server.BaseHTTPRequestHandler):
    server: "Gateway"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        q = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query, keep_blank_values=True).items()}
        sent = q.get("subscription-key") or self.headers.get("Ocp-Apim-Subscription-Key")
        status, headers, body = self.server.answer(self.path, q, sent)
        self.server.log(q, sent, status)
        if status == "reset":  # drop the connection without an answer
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@dataclass
class Seen:
    period: str
    reporter: str
    group: str
    key_sent: str | None
    answer: object  # HTTP status, or "reset"


class Gateway(http.server.ThreadingHTTPServer):
    """Comtrade as a local server. ``behaviour`` "data": the sample's answer for each request (one
    answer with a bad record that echoes the request); "faults": the fault of the request's period
    (FAULT_BY_PERIOD), every body echoing the key the request came with and its URL. The faults that stop the source for the
    night (401; 500s, resets and refusals that outlast the retries) wait until every period's first
    request has arrived, so every fault happens whatever order Prefect runs the tasks in."""

    daemon_threads = True

    def __init__(self, answers: dict[str, bytes], dead_port: int) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.answers, self.dead_port = answers, dead_port
        self.behaviour = "data"
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._started: set[str] = set()
        self.all_started = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def log(self, q: dict, sent: str | None, answer: object) -> None:
        with self._lock:
            self.seen.append(Seen(q.get("period", ""), q.get("reporterCode", ""), _group(q), sent, answer))

    def answer(self, path: str, q: dict, sent: str | None) -> tuple[object, dict[str, str], bytes]:
        # the key first (it survives any cut of the message), then the URL (which carries it again, auth = query)
        echo = f"subscription key {sent} for GET {self.base_url}{path}"
        if self.behaviour == "data":
            from flows.http import request_key
            from flows.sources.comtrade.connector import SECRET_PARAMS

            body = self.answers.get(request_key(self.base_url, self.base_url + path, SECRET_PARAMS))
            if body is None:
                return 404, {"Content-Type": "text/plain"}, b"not in the sample"
            return 200, {"Content-Type": "application/json"}, body.replace(ECHO, json.dumps(echo)[1:-1].encode())
        period = q.get("period", "")
        with self._lock:
            self._started.add(period)
            if set(FAULT_BY_PERIOD) <= self._started:
                self.all_started.set()
        fault = FAULT_BY_PERIOD.get(period, 404)
        if fault != 403:
            self.all_started.wait(30)
        if fault == 401:
            return 401, {"Content-Type": "application/json"}, json.dumps({"statusCode": 401, "message": (
                "Access denied due to invalid subscription key. Make sure to provide a valid key for an "
                f"active subscription. Request: {echo}")}).encode()
        if fault == 403:
            return 403, {"Content-Type": "application/json"}, json.dumps({"statusCode": 403, "message": f"Forbidden: {echo}"}).encode()
        if fault == 500:
            return 500, {"Content-Type": "text/html"}, (
                f"<html><body><h1>500 Internal Server Error</h1><p>upstream failed for {echo}</p></body></html>").encode()
        if fault == "refused":
            return 307, {"Location": f"http://127.0.0.1:{self.dead_port}{path}", "Content-Type": "text/plain"}, echo.encode()
        return fault, {"Content-Type": "text/plain"}, b""


NIGHTS = ("success and quarantine", "HTTP errors and connection failures", "replay misses")


def _group(q: dict) -> str:
    return "total" if q.get("cmdCode") == "TOTAL" else "products"


# --- the nights ---------------------------------------------------------------------------------------
@dataclass
class Night:
    name: str
    scenarios: tuple[str, ...]
    argv: list[str]
    returncode: int = -1
    stdout: bytes = b""
    stderr: bytes = b""
    seconds: float = 0.0

    @property
    def console(self) -> str:
        return (self.stdout + b"\n" + self.stderr).decode("utf-8", "replace")


@dataclass
class AuthRun:
    auth: str
    root: Path
    gateway: Gateway
    nights: dict[str, Night] = field(default_factory=dict)

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def prefect_home(self) -> Path:
        return self.root / "prefect-home"

    @property
    def server_console(self) -> Path:
        return self.root / "prefect-server.log"

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse / "bilateral.duckdb"), read_only=True) as con:
            return con.execute(sql).fetchall()


def _config(root: Path, base_url: str) -> Path:
    return write_config_file(root / "bilateral.toml", root / "warehouse", {
        "countries.focus": ["CAN", "CHN"], "years.start": 2023, "years.end": 2024,
        "sources.comtrade.base_url": base_url, "sources.comtrade.freqs": ["A"],
        "sources.comtrade.max_retries": 1, "sources.comtrade.backoff_seconds": 0.0,
        "sources.comtrade.timeout_seconds": 10.0, "sources.comtrade.min_interval_seconds": 0.0,
        **{f"sources.{name}.enabled": False for name in OTHER_SOURCES}})


def _sample_answers(config_path: Path, out: Path) -> Path:
    """The Comtrade sample for this configuration as a recording; the gateway serves its answers."""
    from flows.config import load_config
    from flows.paths import Project
    from flows.sources.comtrade import sample as comtrade_sample

    config = load_config(config_path, environ={}, project=Project(PROJECT_ROOT))
    comtrade_sample.generate(sample_context(config, "comtrade", out, run_date=RUN_DATE))
    return out / "comtrade"


def _answers_with_a_bad_record(recording: Path) -> dict[str, bytes]:
    answers = {}
    for entry in map(json.loads, (recording / "index.jsonl").read_text().splitlines()):
        body = (recording / entry["body_file"]).read_bytes()
        q = {k: v[0] for k, v in parse_qs(urlsplit(entry["key"]).query).items()}
        if (q["reporterCode"], q["period"], _group(q)) == tuple(BAD_ANSWER.values()):
            doc = json.loads(body)
            # not a number: quarantined at load, with a description echoing the request and its key
            bad = {**doc["data"][0], "primaryValue": "6.1e9 USD", "cmdDesc": ECHO.decode()}
            doc["data"].append(bad)
            doc["count"] = len(doc["data"])
            body = json.dumps(doc).encode()
        answers[entry["key"]] = body
    return answers


def _replay_lacking_tonight(recording: Path, target: Path) -> Path:
    """A recording of another night (2023's answers only): every request for 2024 misses."""
    (target / "comtrade" / "responses").mkdir(parents=True)
    kept = []
    for line in (recording / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if "period=2023&" in entry["key"]:
            shutil.copy(recording / entry["body_file"], target / "comtrade" / entry["body_file"])
            kept.append(line)
    (target / "comtrade" / "index.jsonl").write_text("\n".join(kept) + "\n")
    return target


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "BILATERAL", "COMTRADE_", "DBT_", "GX_"))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def prefect_server(home: Path, console: Path) -> Iterator[str]:
    """A Prefect server of our own, its database in ``home``. (A night left to itself starts a
    temporary server on a random port in 8000-8999 that it checks before the server binds it: two
    Prefect processes starting at once on one machine can end up on the same server, and one's run
    history in the other's database. On a port the system hands out, that cannot happen.)"""
    port = _free_port()
    env = {**_clean_environ(), "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false", "DO_NOT_TRACK": "1"}
    home.mkdir(parents=True, exist_ok=True)
    with console.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port), "--no-ui", "--analytics-off"],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                assert proc.poll() is None, f"the Prefect server stopped: {console.read_text()[-2000:]}"
                assert time.monotonic() < deadline, "the Prefect server did not start in 180 s"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                        if r.status == 200 and (home / "prefect.db").exists():
                            break
                except OSError:
                    pass
                time.sleep(0.5)
            yield f"http://127.0.0.1:{port}/api"
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _env(auth: str, key: str, prefect_home: Path, api_url: str) -> dict[str, str]:
    env = _clean_environ()
    env.update({"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                "PREFECT_HOME": str(prefect_home), "PREFECT_API_URL": api_url,
                "PREFECT_LOGGING_LEVEL": "INFO",  # more log rows to scan than the default WARNING
                "COMTRADE_API_KEY": key, "BILATERAL__sources__comtrade__auth": auth})
    return env


def _run_nights(auth: str, key: str, root: Path, success_first: bool = True) -> AuthRun:
    root.mkdir(parents=True)
    gateway = Gateway({}, dead_port=_free_port())
    run = AuthRun(auth, root, gateway)
    with serving(gateway), prefect_server(run.prefect_home, run.server_console) as api_url:
        cfg = _config(root, gateway.base_url)
        recording = _sample_answers(cfg, root / "sample-recording")
        gateway.answers = _answers_with_a_bad_record(recording)
        replay = _replay_lacking_tonight(recording, root / "replay-of-another-night")
        base = [sys.executable, "-m", "flows.cli", "run", "--project-dir", str(PROJECT_ROOT), "--config", str(cfg),
                "--date", RUN_DATE.isoformat(), "--verbose"]  # Prefect's own console lines too: more output to scan
        plan = [
            ("data", Night(NIGHTS[0], ("success", "quarantine"), base)),
            ("faults", Night(NIGHTS[1], ("http_errors", "connection_failures"),
                             [*base, "--set", f"years.start={min(FAULT_BY_PERIOD)}"])),
            ("faults", Night(NIGHTS[2], ("replay_misses",),
                             [*base, "--set", "years.start=2024", "--replay", str(replay)])),
        ]
        env = _env(auth, key, run.prefect_home, api_url)
        for behaviour, night in (plan if success_first else plan[1:] + plan[:1]):
            gateway.behaviour = behaviour
            started = time.perf_counter()
            proc = subprocess.run(night.argv, env=env, cwd=root, capture_output=True, timeout=NIGHT_TIMEOUT)
            night.returncode, night.stdout, night.stderr = proc.returncode, proc.stdout, proc.stderr
            night.seconds = round(time.perf_counter() - started, 1)
            run.nights[night.name] = night
    return run


@pytest.fixture(scope="module")
def key() -> tuple[str, str]:
    return dummy_key()


@pytest.fixture(scope="module")
def nights(key, tmp_path_factory) -> dict[str, AuthRun]:
    """Each auth mode its own gateway, warehouse and Prefect home, the two side by side; the second
    starts with its cheap nights so that the two dbt builds overlap less."""
    root = tmp_path_factory.mktemp("secrets")
    with ThreadPoolExecutor(len(AUTH_MODES)) as pool:
        futures = {auth: pool.submit(_run_nights, auth, key[0], root / auth, success_first=(i == 0))
                   for i, auth in enumerate(AUTH_MODES)}
        return {auth: f.result() for auth, f in futures.items()}


# --- the tests ----------------------------------------------------------------------------------------
def test_the_scanner_finds_a_planted_key_in_every_kind_of_output(tmp_path):
    key, core = dummy_key()
    scanner = KeyScanner(key, core)
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "log.txt").write_text("subscription-key=REDACTED and nothing else\n")
    scanner.scan_tree(clean, "clean")
    assert scanner.hits == [], "no false alarm on a clean folder"

    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "console.txt").write_text(f"GET /x?subscription-key={key}\n")
    (planted / "encoded.txt").write_text(f"GET /x?subscription-key={quote_plus(key)}\n")
    (planted / "truncated.json").write_text(json.dumps({"message": ("x" * 50 + key)[:50 + 8 + 14]}))
    (planted / "result.b64").write_bytes(base64.encodebytes(b"\x80\x05pickled " + key.encode() + b" state" * 20))
    with duckdb.connect(str(planted / "warehouse.duckdb")) as con:  # compressed in the file: only a dump shows it
        con.execute("create schema audit")
        con.execute("create table audit.runs as select 'run ' || i as message from range(20000) t(i)")
        con.execute("insert into audit.runs values (?)", [f"failed at /x?k={key}"])
        con.execute(f"copy (select * from audit.runs) to '{planted / 'runs.parquet'}' (format parquet, compression zstd)")
    sqlite = sqlite3.connect(planted / "prefect.db")
    sqlite.execute("create table log (message text)")
    sqlite.execute("insert into log values (?)", [f"state message {unquote(quote(key))}"])
    sqlite.commit()
    sqlite.close()
    scanner.scan_tree(planted, "planted")
    found = {h.output.split(" ")[0] for h in scanner.hits}
    assert found >= {"planted/console.txt", "planted/encoded.txt", "planted/truncated.json", "planted/result.b64",
                     "planted/prefect.db", "planted/runs.parquet"}, scanner.hits
    assert any(h.output == "planted/warehouse.duckdb audit.runs" for h in scanner.hits), "the DuckDB dump finds it"
    assert any(h.output == "planted/runs.parquet rows" for h in scanner.hits), "the Parquet dump finds it"
    assert any(h.output == "planted/prefect.db table log" for h in scanner.hits), "the SQLite dump finds it"
    assert any(h.output == "planted/encoded.txt" and h.form.endswith("encoded key") for h in scanner.hits)
    assert any(h.output == "planted/result.b64 (base64-decoded)" for h in scanner.hits)
    assert any(h.output == "planted/truncated.json" and h.form.startswith(("key prefix", f"{FRAGMENT}+"))
               for h in scanner.hits)


def test_every_scenario_happened_in_every_auth_mode(nights, key):
    """The scan below cannot pass vacuously: each scenario really met the key, in each auth mode."""
    secret = key[0]
    for auth, run in nights.items():
        data, faults, replay = (run.nights[name] for name in NIGHTS)
        where = f"[{auth}]"
        seen = run.gateway.seen
        # the key really was sent, the way the auth mode sends it (the header, or the query)
        assert seen and all(s.key_sent == secret for s in seen), where
        # success: every request answered from the sample, the night published
        assert data.returncode == 0 and "SUCCESS: bilateral nightly" in data.console, (where, data.console[-3000:])
        assert (run.warehouse / "published" / "bilateral.duckdb").exists(), where
        # quarantine: the bad record, by rule
        assert run.query("select rule, count(*) from quarantine.comtrade_record group by 1") == [("wrong_type", 1)], where
        assert "quarantined: 1 record(s) tonight" in data.console, where
        [(raw_record,)] = run.query("select raw_record from quarantine.comtrade_record")
        assert f"subscription key REDACTED for GET {run.gateway.base_url}/data/v1/get/" in raw_record, where
        # HTTP errors and connection failures: every fault answered a keyed request...
        faults_met = {s.answer for s in seen if s.period in FAULT_BY_PERIOD}
        assert {401, 403, 500, "reset", 307} <= faults_met, (where, faults_met)
        # ... and reached the run's outputs (the console; the audit where it is the partition's last word)
        assert faults.returncode == 1 and replay.returncode == 1, where
        for text in ("HTTP 401", "HTTP 500", "RemoteDisconnected", "Connection refused", f"port={run.gateway.dead_port}"):
            assert text in faults.console, (where, text, faults.console[-3000:])
        steps = " ".join(m for (m,) in run.query("select message from audit.run_steps where message <> ''"))
        for text in ("HTTP 401 (subscription key missing or invalid)", "HTTP 403: 'Forbidden", "holds no response for request"):
            assert text in steps, (where, text)
        rejected = run.query("select http_status, count(*) from audit.landed_files where status = 'rejected' group by 1")
        assert {401, 403} <= {status for status, _ in rejected}, (where, rejected)
        # replay misses: the recording lacks tonight's requests
        assert "holds no response for request" in replay.console, where
        # every night's flow run is in this auth mode's own Prefect database
        con = sqlite3.connect(f"file:{run.prefect_home / 'prefect.db'}?mode=ro", uri=True)
        flow_runs = {name for (name,) in con.execute("select name from flow_run")}
        con.close()
        for night in run.nights.values():
            [name] = set(re.findall(r"Flow run '([a-z-]+)'", night.console))
            assert name in flow_runs, (where, night.name, name, flow_runs)
        # the scrubbed texts reached every store of Prefect's database: the scan there is not idle
        # (a failed task's state reaches task_run_state through the server's recorder, asynchronously: a
        # process that ends at once may leave it to the events table only; either one must hold it)
        stores = _prefect_tables_mentioning(run.prefect_home / "prefect.db", "REDACTED")
        assert {"log", "flow_run_state", "artifact"} <= stores and {"task_run_state", "events"} & stores, (where, stores)
        assert list((run.prefect_home / "storage").iterdir()), "Prefect persisted results (scanned base64-decoded)"
        urls = [u for (u,) in run.query("select request_url from audit.landed_files")]
        assert urls and all(("subscription-key=REDACTED" in u) == (auth == "query") for u in urls), where
    assert set(SCENARIOS) == {s for run in nights.values() for n in run.nights.values() for s in n.scenarios}


def _prefect_tables_mentioning(db: Path, text: str) -> set[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found = set()
        for (table,) in con.execute("select name from sqlite_master where type = 'table'").fetchall():
            columns = [r[1] for r in con.execute(f'pragma table_info("{table}")')]
            if any(con.execute(f'select 1 from "{table}" where cast("{c}" as text) like ? limit 1', [f"%{text}%"]).fetchone()
                   for c in columns):
                found.add(table)
        return found
    finally:
        con.close()


def _warehouse_part(rel: Path) -> str:
    top = rel.parts[0] if len(rel.parts) > 1 else ""
    if top == "landing":
        return "landing manifests" if rel.name == "manifest.jsonl" else "landed answers"
    if top == "gx":
        return "GX Data Docs" if "data_docs" in rel.parts else "GX results" if "validations" in rel.parts else "GX project files"
    return {"published": "published files (DuckDB, Parquet, manifest)", "dbt": "dbt target and logs"}.get(
        top, "working files (DuckDB, lock)")


def _scan_everything(run: AuthRun, key: tuple[str, str]) -> KeyScanner:
    scanner = KeyScanner(*key)
    for night in run.nights.values():
        scanner.scan("console (stdout, stderr)", f"{run.auth} {night.name} stdout", night.stdout)
        scanner.scan("console (stdout, stderr)", f"{run.auth} {night.name} stderr", night.stderr)
    scanner.scan("console (stdout, stderr)", f"{run.auth} Prefect server console", run.server_console.read_bytes())
    scanner.scan_tree(run.warehouse, "warehouse", _warehouse_part)
    scanner.scan_tree(run.prefect_home, "Prefect home", lambda rel: "files (database, WAL, result storage)")
    return scanner


def test_the_key_is_nowhere(nights, key, record_property):
    lines = ["| auth | night | scenarios | exit | seconds |", "|---|---|---|---|---|"]
    with ThreadPoolExecutor(len(AUTH_MODES)) as pool:
        totals = dict(zip(nights, pool.map(lambda run: _scan_everything(run, key), nights.values())))
    for auth, run in nights.items():
        for night in run.nights.values():
            lines.append(f"| {auth} | {night.name} | {', '.join(night.scenarios)} | {night.returncode} | {night.seconds} |")
    for auth, run in nights.items():
        answers = Counter(str(s.answer) for s in run.gateway.seen)
        lines.append(f"gateway [{auth}]: {len(run.gateway.seen)} requests, {sum(s.key_sent == key[0] for s in run.gateway.seen)} "
                     "carrying the key; answers " + ", ".join(f"{a} x{n}" for a, n in sorted(answers.items())))
    kinds = sorted({k for s in totals.values() for k in s.outputs})
    lines += ["", "| output | " + " | ".join(AUTH_MODES) + " |", "|---|" + "---|" * len(AUTH_MODES)]
    lines += [f"| {k} | " + " | ".join(str(totals[a].outputs[k]) for a in AUTH_MODES) + " |" for k in kinds]
    lines.append("| **all outputs** | " + " | ".join(str(sum(totals[a].outputs.values())) for a in AUTH_MODES) + " |")
    lines.append("| **hits** | " + " | ".join(str(len(totals[a].hits)) for a in AUTH_MODES) + " |")
    report = "\n".join(lines)
    print("\n" + report)
    record_property("secret_scan", report)
    assert all(totals[a].outputs["Prefect home: database tables (dumped)"] > 10 for a in AUTH_MODES), "Prefect's database was dumped"
    assert all(totals[a].outputs[f"warehouse: {part}"] > 0 for a in AUTH_MODES for part in (
        "landed answers", "landing manifests", "GX results", "GX Data Docs", "published files (DuckDB, Parquet, manifest)")), \
        "every part of the warehouse was scanned"
    assert all(totals[a].outputs["DuckDB tables (dumped)"] > 20 for a in AUTH_MODES), "the warehouse was dumped"
    assert all(totals[a].outputs["Parquet files (dumped)"] > 0 for a in AUTH_MODES), "the published Parquet was dumped"
    hits = [(a, h) for a in AUTH_MODES for h in totals[a].hits]
    assert not hits, "the key leaked:\n" + "\n".join(f"[{a}] {h.output}: {h.form}: ...{h.context}..." for a, h in hits[:60])
