"""Generated landed files for the load cases, written once per size into the work directory.

- GDELT: full-stream-like 15-minute export CSVs as the connector lands them (stream-unzipped: 61
  tab-separated fields, no header, no quoting), ~40 actor codes of which the configured CAN/CHN/USA
  pairs are a few percent, like the real stream (from the former benchmarks/bench_gdelt.py).
- Comtrade: records in the exact API format (9 reporters x 8 partners x M/X x 98 chapters + 13
  products, annual 1995.. then monthly 2002..), one answer file per reporter x year x frequency
  (from the former benchmarks/bench_trade.py).

Each set is described by a ``manifest.json`` (files, rows, bytes); a set whose manifest exists is reused.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

ACTORS = ["USA", "CHN", "CAN", "GBR", "RUS", "IND", "FRA", "DEU", "JPN", "ISR", "IRN", "UKR", "PAK", "AUS", "MEX",
          "BRA", "TUR", "KOR", "PRK", "SAU", "SYR", "AFG", "IRQ", "EGY", "NGA", "ZAF", "ITA", "ESP", "PHL", "IDN",
          "EUR", "AFR", "ASA", "MEA", "WSB", "GZS", "", "", "", ""]
GDELT_PAIRS = ["CAN-CHN", "CAN-USA", "CHN-USA"]
COMTRADE_COUNTRIES = ["CAN", "CHN", "USA", "MEX", "JPN", "KOR", "DEU", "FRA", "GBR"]


@dataclass
class FileSet:
    """Generated files of one source: paths with their sha256 and record counts."""

    source: str
    files: list[str]
    sha256: list[str]
    rows: int
    bytes: int

    @property
    def mb(self) -> float:
        return self.bytes / 1e6


def _cached(directory: Path, version: int = 1) -> FileSet | None:
    """The files generated earlier in ``directory`` (--keep-data), if complete and of this generator's
    ``version`` (a version file; none is version 1)."""
    manifest, stamp = directory / "manifest.json", directory / "generator-version"
    if manifest.exists() and int(stamp.read_text() if stamp.exists() else "1") == version:
        fs = FileSet(**json.loads(manifest.read_text()))
        if all(Path(p).exists() for p in fs.files):
            return fs
    return None


def _save(directory: Path, fs: FileSet, version: int = 1) -> FileSet:
    (directory / "generator-version").write_text(str(version))
    (directory / "manifest.json").write_text(json.dumps(asdict(fs)))
    return fs


#: 2: each reporter x partner x flow x period also has its TOTAL (the sum of its chapters), written
#: whole or not at all, so the trade tests hold on a generated history that overlaps the sample's
COMTRADE_VERSION = 2


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def gdelt_files(directory: Path, n_files: int, rows: int, start: datetime = datetime(2025, 3, 1),
                first_file: int = 0) -> FileSet:
    """``n_files`` landed export CSVs of ``rows`` events each; ``first_file`` > 0 continues a set of
    that many files (the next 15-minute files, new event ids)."""
    if (fs := _cached(directory)) is not None:
        return fs
    import duckdb

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("create table actors as select unnest(?::varchar[]) as code, generate_subscripts(?::varchar[], 1) - 1 as i",
                [ACTORS, ACTORS])
    n_act = len(ACTORS)
    paths, shas, total = [], [], 0
    for f in range(first_file, first_file + n_files):
        ts = (start + timedelta(minutes=15 * f)).strftime("%Y%m%d%H%M%S")
        base = 1_100_000_000 + f * rows
        path = directory / f"{ts}.export.CSV"
        con.execute(f"""
            copy (
              with r as (select range as n, hash(range + {base}) as h from range({rows})),
              a as (select r.n, r.h, (select code from actors where i = r.h % {n_act}) as a1,
                           (select code from actors where i = (r.h >> 8) % {n_act}) as a2 from r)
              select {base} + n, '{ts[:8]}', '{ts[:6]}', '{ts[:4]}', '{ts[:4]}.5000',
                     a1 || 'GOV', 'NAME ' || a1, a1, '', '', '', '', 'GOV', '', '',
                     a2 || 'BUS', 'NAME ' || a2, a2, '', '', '', '', 'BUS', '', '',
                     '1', lpad(((h >> 16) % 20 + 1)::varchar, 2, '0') || '0', lpad(((h >> 16) % 20 + 1)::varchar, 2, '0') || '0',
                     lpad(((h >> 16) % 20 + 1)::varchar, 2, '0'), ((h >> 24) % 4 + 1)::varchar, '-2.0',
                     ((h >> 28) % 20 + 1)::varchar, '1', '2', '-1.234567',
                     '1', 'Somewhere, Country', 'XX', 'XX', '', '10.5', '20.5', 'XX',
                     '1', 'Somewhere, Country', 'XX', 'XX', '', '10.5', '20.5', 'XX',
                     '4', 'A City, Some Region, Country', 'XX', 'XX01', '12345', '10.5', '20.5', '-123456',
                     '{ts}', 'https://news.example.com/2025/' || ({base} + n)::varchar || '/a-long-article-slug-about-events.html'
              from a order by n
            ) to '{path}' (delimiter '\t', header false, quote '', escape '')
        """)
        paths.append(str(path))
        shas.append(_sha256(path))
        total += rows
    con.close()
    return _save(directory, FileSet("gdelt_events", paths, shas, total, sum(Path(p).stat().st_size for p in paths)))


def comtrade_files(directory: Path, records: int) -> FileSet:
    """About ``records`` Comtrade records as answer files (one per reporter x year x frequency). Every
    reporter x partner x flow x period is written whole (its chapters, products and TOTAL, the sum of
    its chapters) or not at all, so the files may hold up to one such group more than ``records``."""
    if (fs := _cached(directory, COMTRADE_VERSION)) is not None:
        return fs
    from flows.countries import lookup
    from flows.sources.comtrade.connector import DEFAULT_PRODUCTS, HS_CHAPTERS
    from flows.sources.comtrade.sample import _noise, _record

    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    countries = COMTRADE_COUNTRIES
    cmds = [c for c in HS_CHAPTERS if c != "77"] + DEFAULT_PRODUCTS + ["TOTAL"]  # TOTAL last: the sum of the chapters before it
    per_period = len(countries) * (len(countries) - 1) * 2 * len(cmds)
    periods: list[tuple[int, int | None]] = [(y, None) for y in range(1995, 2026)]
    y, m = 2002, 1
    while len(periods) * per_period < records:
        periods.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    groups: dict[tuple, list[tuple[str, str]]] = {}  # (reporter, partner, flow) -> [(cmd, JSON template)]
    for rep in countries:
        for par in countries:
            if par == rep:
                continue
            for flow in ("M", "X"):
                for cmd in cmds:
                    r = _record(rep, lookup(par).comtrade_code, flow, cmd, 2000, None, 1.0)
                    r.update(freqCode="@F", refPeriodId=-111, refYear=-222, refMonth=-333, period="@P",
                             classificationCode="@C", primaryValue=-444.0)
                    r["cifvalue" if flow == "M" else "fobvalue"] = -444.0
                    groups.setdefault((rep, par, flow), []).append((cmd, json.dumps(r, separators=(",", ":"))))
    by_file: dict[tuple, list[tuple[int, int | None]]] = {}
    for (yy, mm) in periods:
        by_file.setdefault((yy, mm is None), []).append((yy, mm))
    paths, shas, written = [], [], 0
    for (yy, annual), plist in sorted(by_file.items()):
        for rep in countries:
            if written >= records:
                break
            parts = []
            for (py, pm) in plist:
                period = str(py) if pm is None else f"{py}{pm:02d}"
                cls = "H4" if py < 2017 else ("H5" if py < 2022 else "H6")
                for (r_, par, flow), group in groups.items():
                    if r_ != rep:
                        continue
                    if written + len(parts) >= records:
                        break
                    chapters = 0.0
                    for cmd, tpl in group:
                        if cmd == "TOTAL":
                            value = chapters
                        else:
                            chapter_value = 1e6 * (1 + 1000 * _noise(rep, par, flow, cmd[:2])) * (1 if pm is None else 1 / 12)
                            share = 1.0 if len(cmd) == 2 else 0.3 * _noise(rep, par, flow, cmd)
                            value = round(chapter_value * share, 0)
                            chapters += value if len(cmd) == 2 else 0.0
                        parts.append(tpl.replace('"@F"', '"A"' if pm is None else '"M"')
                                     .replace("-111", f"{py}{1 if pm is None else pm:02d}01").replace("-222", str(py))
                                     .replace("-333", "52" if pm is None else str(pm)).replace('"@P"', f'"{period}"')
                                     .replace('"@C"', f'"{cls}"').replace("-444.0", f"{value:.1f}"))
            if not parts:
                continue
            body = ('{"elapsedTime":"1.00 secs","count":%d,"data":[' % len(parts) + ",".join(parts) + '],"error":""}').encode()
            path = directory / f"{rep}_{yy}_{'A' if annual else 'M'}.json"
            path.write_bytes(body)
            paths.append(str(path))
            shas.append(hashlib.sha256(body).hexdigest())
            written += len(parts)
    return _save(directory, FileSet("comtrade", paths, shas, written, sum(Path(p).stat().st_size for p in paths)),
                 COMTRADE_VERSION)
