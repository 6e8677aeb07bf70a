"""GDELT 2.0 events connector against a real HTTP server on 127.0.0.1: manifests (Range tail, a server
that ignores Range), MD5/size checks, stream-unzip, the pair filter in DuckDB, and every per-file
fault (404, MD5 mismatch, truncated zip, 58-column row, manifest line cut mid-line) skipped with a
reason, kept in state and retried by the next run."""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

SUITES_DIR = PROJECT_ROOT / "expectations" / "suites"

from flows.config import load_config
from flows.sources.gdelt_events.connector import GdeltEventsConnector
from flows.sources.gdelt_events.manifest import parse_manifest
from flows.http import HttpClient, LiveTransport
from flows.landing import Lander
from flows.loading import load_results
from flows.warehouse import ensure_schemas, source_state
from tests.conftest import serving

# A real GDELT 2.0 export row (61 fields, USA -> USA: domestic, never loaded).
REAL_ROW = "\t".join([
    "1233702893", "20240322", "202403", "2024", "2024.2247", "USAGOV", "UNITED STATES", "USA", "", "", "", "", "GOV", "",
    "", "USA", "UNITED STATES", "USA", "", "", "", "", "", "", "", "0", "050", "050", "05", "1", "3.5", "2", "1", "2",
    "-3.71155885471898", "2", "Washington, United States", "US", "USWA", "", "47.3917", "-121.571", "WA", "2",
    "Washington, United States", "US", "USWA", "", "47.3917", "-121.571", "WA", "2", "Washington, United States",
    "US", "USWA", "", "47.3917", "-121.571", "WA", "20250322180000",
    "https://www.yakimaherald.com/news/northwest/wa-state-workers-slam-furloughs-other-pay-cut-plans-claiming-they-are-a-tax-on/article_e49c4f10-11a1-5b7a-b947-c49482ea1ae0.html"])
assert len(REAL_ROW.split("\t")) == 61


def event_row(event_id: int, a1: str, a2: str, added: str, code: str = "163", fields: int = 61) -> str:
    """A synthetic 61-field export row in the codebook's column order (flows/sources/gdelt_events/README.md)."""
    row = [str(event_id), added[:8], added[:6], added[:4], f"{added[:4]}.1945", a1 + "GOV", a1, a1, "", "", "", "", "GOV",
           "", "", a2, a2, a2, "", "", "", "", "", "", "", "1", code, code[:3], code[:2], "4", "-8.0", "10", "2", "10",
           "-5.12", "1", "China", "CH", "CH", "", "35", "105", "CH", "1", "Canada", "CA", "CA", "", "60", "-95", "CA", "1",
           "China", "CH", "CH", "", "35", "105", "CH", added, f"https://example.com/news/{event_id}"]
    assert len(row) == 61
    if fields == 58:  # GDELT 1.0 daily layout: no ADM2 columns
        row = [v for i, v in enumerate(row) if i not in (39, 47, 55)]
    return "\t".join(row)


def make_zip(ts: str, rows: list[str], suffix: str = ".export.CSV") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{ts}{suffix}", "\n".join(rows) + "\n")
    return buf.getvalue()


def manifest_line(ts: str, body: bytes, md5: str | None = None, size: int | None = None) -> str:
    return f"{size if size is not None else len(body)} {md5 or hashlib.md5(body).hexdigest()} http://data.gdeltproject.org/gdeltv2/{ts}.export.CSV.zip"


class GdeltServer(http.server.ThreadingHTTPServer):
    """Serves ``files`` (name -> bytes) with or without honouring Range; records requests."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.honour_range = True
        self.requests: list[tuple[str, dict]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/gdeltv2"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: GdeltServer

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append((self.path, dict(self.headers)))
        name = self.path.split("?")[0].rsplit("/", 1)[-1]
        body = self.server.files.get(name)
        if body is None:
            self._send(404, b"<html>404 Not Found</html>", "text/html")
            return
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=-") and self.server.honour_range:
            n = int(rng[len("bytes=-"):])
            start = max(0, len(body) - n)
            self._send(206, body[start:], "text/plain", {"Content-Range": f"bytes {start}-{len(body) - 1}/{len(body)}"})
            return
        ctype = "application/zip" if name.endswith(".zip") else "text/plain"
        self._send(200, body, ctype)

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def gdelt_server():
    with serving(GdeltServer()) as server:
        yield server


@pytest.fixture
def env(tmp_path, gdelt_server, request):
    """Config pointing gdelt_events at the local server, a fresh warehouse, and a run helper
    (indirect parameter: extra [sources.gdelt_events] lines)."""
    cfg_path = tmp_path / "bilateral.toml"
    cfg_path.write_text(
        '[countries]\nfocus = ["CAN", "CHN", "USA"]\n[warehouse]\n'
        f'dir = "{tmp_path / "wh"}"\n'
        f'[sources.gdelt_events]\nbase_url = "{gdelt_server.base_url}"\n'
        'timeout_seconds = 2\nmax_retries = 0\nbackoff_seconds = 0\nmin_interval_seconds = 0\n'
        'tail_bytes = 400\nmax_file_attempts = 3\n' + getattr(request, "param", ""))
    config = load_config(cfg_path, environ={})
    db = tmp_path / "wh" / "bilateral.duckdb"
    ensure_schemas(db)
    runs = []

    def run(backfill=None):
        run_id = f"run{len(runs) + 1}"
        src = config.sources["gdelt_events"]
        connector = GdeltEventsConnector(config, src, HttpClient(src, LiveTransport()), date(2026, 11, 28),
                                         state=source_state(db, "gdelt_events"), backfill=backfill)
        lander = Lander(tmp_path / "landing", "gdelt_events", "2026-11-28", run_id)
        results = [connector.extract(p, lander) for p in connector.partitions()]
        report = load_results(db, run_id, results, max_bad_share={"gdelt_events": src.max_bad_record_share})
        runs.append(run_id)
        return results, report

    def query(sql):
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run, query, gdelt_server, db


PADDING = [f"{1000 + i} {'0' * 32} http://data.gdeltproject.org/gdeltv2/2025010100{i:02d}00.gkg.csv.zip" for i in range(0, 8)]


def test_tail_by_range_pair_filter_and_watermark(env):
    run, query, server, db = env
    ts1, ts2 = "20250312141500", "20250312143000"
    z1 = make_zip(ts1, [event_row(1, "CHN", "CAN", ts1), event_row(2, "FRA", "DEU", ts1), event_row(3, "EUR", "CHN", ts1),
                        event_row(4, "CAN", "CAN", ts1), REAL_ROW, event_row(5, "USA", "CHN", ts1, code="0311")])
    z2 = make_zip(ts2, [event_row(6, "CAN", "USA", ts2), event_row(7, "CAN", "MEX", ts2)])
    # the padding pushes the tail's start into the middle of a line: that partial line must be dropped
    master = "\n".join(PADDING + [manifest_line(ts1, z1), manifest_line(ts2, z2)]) + "\n"
    server.files = {"masterfilelist.txt": master.encode(), "lastupdate.txt": (manifest_line(ts2, z2) + "\n").encode(),
                    f"{ts1}.export.CSV.zip": z1, f"{ts2}.export.CSV.zip": z2}
    results, report = run()
    (result,) = results
    assert result.ok and report.failures == []
    ranges = [h.get("Range") for p, h in server.requests if p.endswith("masterfilelist.txt")]
    assert ranges == ["bytes=-400"]
    assert result.state_updates["watermark:export"] == ts2
    assert not any(k.startswith("skipped:") for k in result.state_updates)
    # only configured pairs (CAMEO actor codes), never domestic, regional pseudo-codes or other countries
    assert query("select GLOBALEVENTID, Actor1CountryCode, Actor2CountryCode from raw.gdelt_event order by 1") == [
        ("1", "CHN", "CAN"), ("5", "USA", "CHN"), ("6", "CAN", "USA")]
    # codes stay strings with leading zeros; both dates kept raw
    assert query("select EventCode, SQLDATE, DATEADDED from raw.gdelt_event where GLOBALEVENTID = '5'") == [
        ("0311", "20250312", ts1)]
    assert query("select count(*) from information_schema.columns where table_schema = 'raw' and table_name = 'gdelt_event' "
                 "and column_name not like '\\_%' escape '\\' and column_name not in ('source_stream', 'record_no')") == [(61,)]
    # the run records the pairs it was configured for (the marts cover exactly these)
    assert query("select pair, configured_on, _run_id from raw.gdelt_configured_pair order by 1") == [
        ("CAN-CHN", "2026-11-28", "run1"), ("CAN-USA", "2026-11-28", "run1"), ("CHN-USA", "2026-11-28", "run1")]
    # total rows per batch (before the filter) are recorded for volume normalisation
    assert query("select batch_ts, csv_rows, status from raw.gdelt_export_file order by 1") == [
        (ts1, 6, "loaded"), (ts2, 2, "loaded")]
    # the zip stays landed as received, next to the CSV that was loaded
    kinds = [f.kind for f in result.files]
    assert kinds.count("gdelt_export_zip") == 2 and kinds.count("gdelt_event") == 2
    zipped = next(f for f in result.files if f.kind == "gdelt_export_zip")
    assert Path(zipped.path).read_bytes() == z1

    # next run: nothing new -> nothing downloaded, nothing loaded twice
    n_before = len(server.requests)
    results, report = run()
    assert "up to date" in " ".join(results[0].notes)
    assert [p for p, _ in server.requests[n_before:]] == ["/gdeltv2/lastupdate.txt"]
    assert report.rows_loaded == 0  # the same night's configured pairs are identical bytes: not loaded again

    # one new batch right after the watermark: lastupdate.txt alone is enough
    ts3 = "20250312144500"
    z3 = make_zip(ts3, [event_row(8, "CHN", "USA", ts3)])
    server.files[f"{ts3}.export.CSV.zip"] = z3
    server.files["lastupdate.txt"] = (manifest_line(ts3, z3) + "\n").encode()
    n_before = len(server.requests)
    results, report = run()
    assert [p for p, _ in server.requests[n_before:]] == ["/gdeltv2/lastupdate.txt", f"/gdeltv2/{ts3}.export.CSV.zip"]
    assert results[0].state_updates["watermark:export"] == ts3
    assert query("select count(*) from raw.gdelt_event") == [(4,)]


def test_server_that_ignores_range_sends_the_whole_list(env):
    run, query, server, db = env
    server.honour_range = False
    ts = "20250312141500"
    z = make_zip(ts, [event_row(1, "CAN", "CHN", ts)])
    # first line is a complete, wanted line: with a 200 it must not be dropped as "partial"
    server.files = {"masterfilelist.txt": (manifest_line(ts, z) + "\n" + "\n".join(PADDING) + "\n").encode(),
                    "lastupdate.txt": b"", f"{ts}.export.CSV.zip": z}
    results, report = run()
    assert results[0].ok and report.failures == []
    assert query("select GLOBALEVENTID from raw.gdelt_event") == [("1",)]
    assert any("lastupdate.txt" in n for n in results[0].notes)  # empty lastupdate: noted, master list used


@pytest.mark.parametrize("env", ["max_bad_record_share = 0.5\n"], indirect=True)
def test_each_file_fault_is_skipped_with_a_reason_and_retried(env):
    run, query, server, db = env
    server.honour_range = False  # first run: the whole list (the cut line is its last line, as while GDELT writes it)
    ts = ["20250312140000", "20250312141500", "20250312143000", "20250312144500", "20250312150000", "20250312151500"]
    good = {t: make_zip(t, [event_row(int(t[-4:]) + i, "CAN", "CHN", t) for i in range(2)]) for t in ts}
    bad_58 = make_zip(ts[4], [event_row(90, "CAN", "CHN", ts[4]), event_row(91, "CAN", "CHN", ts[4], fields=58)])
    truncated = good[ts[3]][: len(good[ts[3]]) // 2]
    lines = [manifest_line(ts[0], good[ts[0]]),
             manifest_line(ts[1], good[ts[1]]),                      # 404 below
             manifest_line(ts[2], good[ts[2]], md5="0" * 32),        # MD5 mismatch
             manifest_line(ts[3], truncated),                        # manifest agrees with a truncated zip
             manifest_line(ts[4], bad_58),                           # a 58-column row inside
             manifest_line(ts[5], good[ts[5]])[:-10]]                # cut mid-line
    server.files = {"masterfilelist.txt": ("\n".join(lines) + "\n").encode(),
                    "lastupdate.txt": (manifest_line(ts[4], bad_58) + "\n").encode(),
                    f"{ts[0]}.export.CSV.zip": good[ts[0]], f"{ts[2]}.export.CSV.zip": good[ts[2]],
                    f"{ts[3]}.export.CSV.zip": truncated, f"{ts[4]}.export.CSV.zip": bad_58,
                    f"{ts[5]}.export.CSV.zip": good[ts[5]]}
    results, report = run()
    (result,) = results
    assert result.ok and report.failures == [], "one bad file must not fail the night"
    skipped = {k.rsplit(":", 1)[-1]: json.loads(v) for k, v in result.state_updates.items() if k.startswith("skipped:")}
    assert set(skipped) == {ts[1], ts[2], ts[3], ts[5]}, "a file with one malformed row is not skipped"
    assert skipped[ts[1]]["reason"].startswith("HTTP 404")
    assert "MD5" in skipped[ts[2]]["reason"]
    assert "truncated or corrupt zip" in skipped[ts[3]]["reason"]
    assert "cut mid-line" in skipped[ts[5]]["reason"]
    notes = " ".join(result.notes)
    for t in ts[1:4]:
        assert t in notes
    assert result.state_updates["watermark:export"] == ts[5]
    assert query("select batch_ts, status from raw.gdelt_export_file order by 1") == [
        (ts[0], "loaded"), (ts[1], "skipped"), (ts[2], "skipped"), (ts[3], "skipped"), (ts[4], "loaded")]
    # the 58-column row (GDELT 1.0 layout) is quarantined with its line; its file's other event loads
    assert query("select GLOBALEVENTID from raw.gdelt_event order by 1") == [("0",), ("1",), ("90",)]
    [(line, rule, problem, raw)] = query("select record_no, rule, problem, raw_record from quarantine.gdelt_event")
    assert (line, rule) == (2, "malformed_line") and "Expected Number of Columns: 61 Found: 58" in problem
    assert raw.split("\t")[0] == "91"
    rejected = query("select count(*) from audit.landed_files where status = 'rejected'")[0][0]
    assert rejected >= 3, "the 404, MD5 and truncated downloads stay landed as rejected"

    # the source repairs itself; the next run retries exactly the skipped files
    server.files[f"{ts[1]}.export.CSV.zip"] = good[ts[1]]
    server.files[f"{ts[3]}.export.CSV.zip"] = good[ts[3]]
    server.files[f"{ts[4]}.export.CSV.zip"] = good[ts[4]]
    fixed = [manifest_line(t, good[t]) for t in ts]
    server.files["masterfilelist.txt"] = ("\n".join(fixed) + "\n").encode()
    server.files["lastupdate.txt"] = (fixed[-1] + "\n").encode()
    server.honour_range = True  # the tail must grow until it reaches back to the oldest skipped file
    n_before = len(server.requests)
    results, report = run()
    (result,) = results
    fetched = sorted(p.rsplit("/", 1)[-1][:14] for p, _ in server.requests[n_before:] if p.endswith(".zip"))
    assert fetched == sorted([ts[1], ts[2], ts[3], ts[5]])
    assert all(result.state_updates[f"skipped:export:{t}"] == "" for t in (ts[1], ts[2], ts[3], ts[5]))
    assert query("select count(*) from raw.gdelt_event") == [(11,)]
    assert "loaded on retry" in " ".join(result.notes)
    state = source_state(db, "gdelt_events")
    assert not any(v for k, v in state.items() if k.startswith("skipped:"))


def test_a_file_that_stays_missing_is_given_up_after_max_attempts(env):
    run, query, server, db = env
    t0, t1 = "20250312140000", "20250312141500"
    z0 = make_zip(t0, [event_row(1, "CAN", "CHN", t0)])
    z1 = make_zip(t1, [event_row(2, "CAN", "CHN", t1)])
    lines = [manifest_line(t0, z0), manifest_line(t1, z1)]
    server.files = {"masterfilelist.txt": ("\n".join(lines) + "\n").encode(), "lastupdate.txt": (lines[1] + "\n").encode(),
                    f"{t0}.export.CSV.zip": z0}
    attempts = []
    for _ in range(4):
        results, _ = run()
        info = results[0].state_updates.get(f"skipped:export:{t1}")
        attempts.append(json.loads(info)["attempts"] if info else None)
    assert attempts == [1, 2, 3, None]  # max_file_attempts = 3: given up, then no more requests for it
    state = json.loads(source_state(db, "gdelt_events")[f"skipped:export:{t1}"])
    assert state["given_up"] is True and state["reason"].startswith("HTTP 404")


def test_backfill_walks_the_master_list_without_moving_the_watermark(env):
    run, query, server, db = env
    days = ["20240101000000", "20240215000000", "20240301000000"]
    zips = {t: make_zip(t, [event_row(int(t[4:8]), "CAN", "CHN", t)]) for t in days}
    server.files = {"masterfilelist.txt": ("\n".join(manifest_line(t, z) for t, z in zips.items()) + "\n").encode(),
                    **{f"{t}.export.CSV.zip": z for t, z in zips.items()}}
    results, report = run(backfill=(date(2024, 2, 1), date(2024, 3, 1)))
    assert [r.partition for r in results] == ["export:20240201-20240229", "export:20240301-20240301"]
    assert all(not any(k.startswith("watermark") for k in r.state_updates) for r in results)
    assert query("select DATEADDED from raw.gdelt_event order by 1") == [(days[1],), (days[2],)]
    ranges = [h.get("Range") for p, h in server.requests if p.endswith("masterfilelist.txt")]
    assert ranges == [None]  # the whole list, fetched once for the whole backfill


def test_manifest_parsing_selects_by_suffix_and_reports_cut_lines():
    text = ("17 7bf8faa47ede943fa1ba4b78950915cd http://x/gdeltv2/20161013141500.export.CSV.zip\n"
            "340347 04ede6e06c3c1949c433642799e20158 http://x/gdeltv2/20161013141500.mentions.CSV.zip\n"
            "16452276 5adbe936332ff09d29ae62430eb8eb3f http://x/gdeltv2/20161013141500.gkg.csv.zip\n"
            "9 7bf8faa47ede943fa1ba4b78950915cd http://x/gdeltv2/20161013143000.translation.export.CSV.zip\n"
            "175564 7bf8faa47ede943fa1ba4b7895\n")
    view = parse_manifest(text, ".export.CSV.zip")
    assert [(e.ts, e.size) for e in view.entries] == [("20161013141500", 17)]
    assert len(view.bad_lines) == 1 and view.bad_lines[0][0] is None
    tview = parse_manifest(text, ".translation.export.CSV.zip")
    assert [e.ts for e in tview.entries] == ["20161013143000"]
    partial = parse_manifest(text, ".export.CSV.zip", partial_first_line=True)
    assert partial.entries == []


@pytest.mark.parametrize("env", ["max_files_per_run = 2\n"], indirect=True)
def test_a_capped_run_leaves_the_rest_for_the_next_one(env):
    run, query, server, db = env
    ts = ["20250312140000", "20250312141500", "20250312143000"]
    zips = {t: make_zip(t, [event_row(int(t[-4:]), "CAN", "CHN", t)]) for t in ts}
    lines = [manifest_line(t, z) for t, z in zips.items()]
    server.files = {"masterfilelist.txt": ("\n".join(lines) + "\n").encode(), "lastupdate.txt": (lines[-1] + "\n").encode(),
                    **{f"{t}.export.CSV.zip": z for t, z in zips.items()}}
    results, _ = run()
    assert results[0].state_updates["watermark:export"] == ts[1]
    assert "loading the oldest 2" in " ".join(results[0].notes)
    results, _ = run()
    assert results[0].state_updates["watermark:export"] == ts[2]
    assert query("select DATEADDED from raw.gdelt_event order by 1") == [(t,) for t in ts]


@pytest.mark.parametrize("env", ["max_bad_record_share = 0.5\n"], indirect=True)
def test_raw_gx_suite_passes_good_batches_and_fails_broken_rows(env, tmp_path):
    from flows.validation import load_suites, validate

    run, query, server, db = env
    (suite,) = [s for s in load_suites(SUITES_DIR) if s.name == "raw_gdelt_events"]
    ts = "20250312141500"
    good = event_row(1, "CAN", "CHN", ts)
    broken = good.split("\t")
    broken[0], broken[28], broken[59] = "2", "21", "20250312141600"  # root code 21, DATEADDED off the batch slot
    refused = good.split("\t")
    refused[0], refused[29] = "3", "7"  # QuadClass 7 breaks the record contract: the loader keeps it out
    z = make_zip(ts, [good, "\t".join(broken), "\t".join(refused)] + [event_row(10 + i, "CAN", "CHN", ts) for i in range(3)])
    server.files = {"masterfilelist.txt": (manifest_line(ts, z) + "\n").encode(), "lastupdate.txt": b"",
                    f"{ts}.export.CSV.zip": z}
    run()
    report = validate(db, "run1", tmp_path / "gx", suites=[suite])
    (result,) = report.results if hasattr(report, "results") else report.suites
    assert not result.success
    failed = " ".join(str(f) for f in result.failures)
    assert "EventRootCode" in failed and "DATEADDED" in failed
    assert "GLOBALEVENTID" not in failed and "QuadClass" not in failed, "a quarantined record never reaches the suite"
    assert query("select record_no, rule from quarantine.gdelt_event") == [(3, "out_of_domain")]
