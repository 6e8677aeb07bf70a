"""Sample GDELT events export recording (generated, marked synthetic): 2018-01 to 2026-01 for the
configured pairs.

Events export: one 61-field export zip per half month (batch time 23:45 UTC on the window's last day,
events dated on the days of that window, ~1% referring back a year, as real rows do), listed in a
sample ``lastupdate.txt`` / ``masterfilelist.txt`` (recorded as a server that ignores Range would
answer: the whole list, HTTP 200) with the zips' real sizes and MD5s. A connector with no
watermark takes every listed batch, so the sample replays the same way for any run date.

Event volume and mood per pair follow the dated relations events of docs/sources/tariffs.md
("Where each dated measure comes from"): for CAN-CHN the Meng Wanzhou arrest and the two
Michaels (conflict from 2018-12), the 2019-03 canola halt, the 2021-09-24 releases (cooperation),
the 2024-08 surtaxes and 2025-03 / 2025-08 retaliation (conflict), the 2025-10-31 APEC meeting and
the 2026-01-14..17 Carney visit (cooperation); for CAN-USA and CHN-USA the 2018-2019 and 2025
tariff steps and truces. Event codes and Goldstein values are real CAMEO ones
(the dbt seed ``cameo_event_codes``); actors, counts, tones and URLs are invented
(``https://example.com/...``). Non-configured and regional pseudo-code actors (EUR, AFR) and one
syndicated single story (150 copies of one URL) are mixed in so the filter and the index's spike
robustness have something to do.
"""
from __future__ import annotations

import hashlib
import io
import random
import zipfile
from datetime import date, timedelta

from flows.http import request_key
from flows.sources.base import SampleContext
from flows.sources.gdelt_events.manifest import STREAMS

FIRST_DAY, LAST_DAY = date(2018, 1, 1), date(2026, 1, 31)
RECORDED_AT = "2026-02-01T00:00:00+00:00"
HOST = "http://data.gdeltproject.org/gdeltv2/"

#: CAMEO code -> Goldstein (real values, as in the seed cameo_event_codes), by QuadClass
CODES = {
    1: [("036", 4.0), ("040", 1.0), ("042", 1.9), ("043", 2.8), ("046", 7.0), ("051", 3.4), ("057", 8.0), ("010", 0.0)],
    2: [("061", 6.4), ("064", 7.0), ("071", 7.4), ("081", 5.0), ("0841", 7.0), ("085", 7.0)],
    3: [("100", -5.0), ("111", -2.0), ("112", -2.0), ("1121", -2.0), ("125", -5.0), ("130", -4.4), ("1312", -5.8)],
    4: [("161", -4.0), ("163", -8.0), ("164", -7.0), ("172", -5.0), ("173", -5.0), ("174", -5.0)],
}
NAMES = {"CAN": ("CANADA", "Canada", "CA", 60.0, -95.0), "CHN": ("CHINA", "China", "CH", 35.0, 105.0),
         "USA": ("UNITED STATES", "United States", "US", 39.8, -98.6), "MEX": ("MEXICO", "Mexico", "MX", 23.0, -102.0),
         "JPN": ("JAPAN", "Japan", "JA", 36.0, 138.0), "KOR": ("SOUTH KOREA", "South Korea", "KS", 37.0, 127.5),
         "DEU": ("GERMANY", "Germany", "GM", 51.0, 9.0), "FRA": ("FRANCE", "France", "FR", 46.0, 2.0),
         "GBR": ("UNITED KINGDOM", "United Kingdom", "UK", 54.0, -2.0)}
#: per pair: base events per day and base mood (-1 conflict .. +1 cooperation)
BASE = {"CAN-CHN": (2.0, 0.35), "CAN-USA": (3.0, 0.55), "CHN-USA": (5.0, 0.05)}
#: (pair, first day, last day, mood, volume multiplier, preferred codes): the dated events of the story
EPISODES = [
    ("CAN-CHN", "2018-12-01", "2018-12-31", -0.85, 6.0, ["173", "1121", "111", "163"]),
    ("CAN-CHN", "2019-01-01", "2019-02-28", -0.45, 2.5, ["112", "111", "173"]),
    ("CAN-CHN", "2019-03-01", "2019-06-30", -0.55, 2.5, ["163", "1312", "111"]),
    ("CAN-CHN", "2019-07-01", "2021-08-31", -0.15, 1.0, []),
    ("CAN-CHN", "2021-09-24", "2021-09-30", 0.95, 10.0, ["0841", "084", "051", "042"]),
    ("CAN-CHN", "2021-09-01", "2021-09-23", 0.30, 1.5, ["036", "040"]),
    ("CAN-CHN", "2024-08-26", "2024-10-31", -0.55, 3.0, ["163", "111", "1312"]),
    ("CAN-CHN", "2025-03-08", "2025-03-31", -0.80, 5.0, ["163", "1312", "111"]),
    ("CAN-CHN", "2025-08-12", "2025-08-31", -0.70, 4.0, ["163", "172", "111"]),
    ("CAN-CHN", "2025-10-31", "2025-11-03", 0.75, 4.0, ["040", "042", "046", "057"]),
    ("CAN-CHN", "2026-01-14", "2026-01-17", 0.95, 12.0, ["042", "043", "057", "061", "085"]),
    ("CAN-CHN", "2026-01-01", "2026-01-13", 0.45, 1.5, ["036", "046"]),
    ("CAN-CHN", "2026-01-18", "2026-01-31", 0.55, 2.0, ["057", "061"]),
    ("CAN-USA", "2025-02-01", "2025-04-30", -0.60, 3.0, ["163", "1312", "111"]),
    ("CAN-USA", "2025-08-01", "2025-08-31", -0.50, 2.0, ["163", "111"]),
    ("CAN-USA", "2025-09-01", "2025-09-30", 0.25, 1.5, ["085", "046"]),
    ("CHN-USA", "2018-03-22", "2018-12-31", -0.45, 2.0, ["163", "1312", "112"]),
    ("CHN-USA", "2019-05-05", "2019-08-31", -0.55, 2.0, ["163", "1312"]),
    ("CHN-USA", "2020-01-15", "2020-01-31", 0.60, 2.5, ["057", "061"]),
    ("CHN-USA", "2025-02-01", "2025-04-30", -0.80, 3.0, ["163", "1312", "111"]),
    ("CHN-USA", "2025-05-12", "2025-05-31", 0.50, 2.0, ["046", "085", "057"]),
    ("CHN-USA", "2025-10-30", "2025-11-10", 0.60, 2.0, ["040", "057", "085"]),
]
#: one story syndicated 150 times on one day (same URL, same code): the index must not jump on it
SYNDICATED = ("CHN-USA", date(2022, 6, 15), "112", 150)
BACKGROUND_ACTORS = ["FRA", "DEU", "GBR", "JPN", "MEX", "KOR", "EUR", "AFR", "ASA"]
GOLDSTEIN = {code: g for quad in CODES.values() for code, g in quad}
QUAD_OF = {code: q for q, quad in CODES.items() for code, _ in quad}


def rng_for(*parts: object) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big"))


def pair_day(pair: str, day: date) -> tuple[float, float, list[str]]:
    rate, mood = BASE.get(pair, (1.5, 0.2))
    codes: list[str] = []
    for p, lo, hi, m, mult, c in EPISODES:
        if p == pair and date.fromisoformat(lo) <= day <= date.fromisoformat(hi):
            rate, mood, codes = BASE.get(pair, (1.5, 0.2))[0] * mult, m, c
            break
    return rate, mood, codes


def _geo(iso3: str) -> list[str]:
    name, full, fips, lat, lon = NAMES.get(iso3, (iso3, iso3, iso3[:2], 0.0, 0.0))
    return ["1", full, fips, fips, "", f"{lat:g}", f"{lon:g}", fips]


def _row(event_id: int, day: date, added: str, a1: str, a2: str, code: str, mentions: int, tone: float,
         url: str, is_root: int, rng: random.Random) -> str:
    n1, n2 = NAMES.get(a1, (a1,))[0], NAMES.get(a2, (a2,))[0]
    t1, t2 = rng.choice(["GOV", "GOV", "BUS", ""]), rng.choice(["GOV", "GOV", "BUS", ""])
    quad = QUAD_OF.get(code, 1)
    frac = f"{day.year + (day.timetuple().tm_yday - 1) / 365:.4f}"
    sources = max(1, mentions // 3)
    fields = [str(event_id), day.strftime("%Y%m%d"), day.strftime("%Y%m"), str(day.year), frac,
              a1 + t1, n1, a1, "", "", "", "", t1, "", "",
              a2 + t2, n2, a2, "", "", "", "", t2, "", "",
              str(is_root), code, code[:3], code[:2], str(quad), f"{GOLDSTEIN.get(code, 0.0):.1f}",
              str(mentions), str(sources), str(mentions), f"{tone:.6f}",
              *_geo(a1), *_geo(a2), *_geo(rng.choice([a1, a2])), added, url]
    assert len(fields) == 61
    return "\t".join(fields)


def _events_for_window(pairs: list[str], days: list[date], added: str, next_id: list[int]) -> list[str]:
    rows: list[str] = []
    for day in days:
        for pair in pairs:
            rate, mood, preferred = pair_day(pair, day)
            rng = rng_for("gdelt", pair, day)
            n = int(rate) + (rng.random() < rate - int(rate))
            a, b = pair.split("-")
            for k in range(n):
                coop = rng.random() < (1 + mood) / 2
                material = rng.random() < 0.35
                quad = (2 if material else 1) if coop else (4 if material else 3)
                pref = [c for c in preferred if QUAD_OF.get(c) in ((1, 2) if coop else (3, 4))]
                code = rng.choice(pref) if pref and rng.random() < 0.7 else rng.choice(CODES[quad])[0]
                a1, a2 = (a, b) if rng.random() < 0.5 else (b, a)
                mentions = max(1, int(rng.paretovariate(1.6) * 2)) if rng.random() > 0.1 else 1
                mentions = min(mentions, 60)
                tone = (mood * 4.0) + rng.gauss(-1.5, 2.0)
                event_day = day - timedelta(days=365) if rng.random() < 0.01 else day
                url = f"https://example.com/sample/{pair.lower()}/{day:%Y/%m/%d}/story-{k}"
                rows.append(_row(next_id[0], event_day, added, a1, a2, code, mentions, tone, url, int(rng.random() < 0.6), rng))
                next_id[0] += 1
            if SYNDICATED[0] == pair and SYNDICATED[1] == day:
                a, b = pair.split("-")
                for _ in range(SYNDICATED[3]):
                    rows.append(_row(next_id[0], day, added, b, a, SYNDICATED[2], 2, -6.0,
                                     "https://example.com/sample/syndicated/one-story", 1, rng))
                    next_id[0] += 1
        # background: other actors and regional pseudo-codes, which the load must drop
        rng = rng_for("gdelt-bg", day)
        for _ in range(1 + int(rng.random() < 0.5)):
            a1 = rng.choice(BACKGROUND_ACTORS)
            a2 = rng.choice(BACKGROUND_ACTORS + list(pairs[0].split("-")))
            if a1 == a2:
                a2 = "EUR" if a1 != "EUR" else "AFR"
            code = rng.choice(CODES[rng.randint(1, 4)])[0]
            rows.append(_row(next_id[0], day, added, a1, a2, code, rng.randint(1, 8), rng.gauss(-1, 2),
                             f"https://example.com/sample/world/{day:%Y/%m/%d}/{next_id[0]}", 1, rng))
            next_id[0] += 1
    return rows


def _zip(member: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(member, date_time=(2026, 2, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def windows() -> list[tuple[str, list[date]]]:
    """Half-month windows (1st-15th, 16th-end): (batch time of the window's file, its days)."""
    out, day = [], FIRST_DAY
    while day <= LAST_DAY:
        end = day.replace(day=15) if day.day == 1 else (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        days = [day + timedelta(days=i) for i in range((min(end, LAST_DAY) - day).days + 1)]
        out.append((days[-1].strftime("%Y%m%d") + "234500", days))
        day = days[-1] + timedelta(days=1)
    return out


def generate(ctx: SampleContext) -> None:
    config, source, writer = ctx.config, ctx.settings, ctx.writer()
    pairs = sorted("-".join(sorted(p)) for p in config.pairs)
    streams = ["export", "translation"] if source.translingual else ["export"]
    for stream in streams:
        lastupdate_name, master_name, suffix = STREAMS[stream]
        next_id = [800_000_000 if stream == "export" else 900_000_000]
        master_lines: list[str] = []
        for ts, days in windows():
            if stream == "translation" and days[0].day != 1:
                continue  # the translingual sample is thinner: one batch a month
            rows = _events_for_window(pairs, days, ts, next_id)
            if stream == "translation":
                rows = rows[::3]
            filename = f"{ts}{suffix}"
            body = _zip(filename[:-4], "\n".join(rows) + "\n")
            writer.add(request_key(source.base_url, source.base_url.rstrip("/") + "/" + filename, ()), body,
                       content_type="application/zip", synthetic=True, recorded_at=RECORDED_AT)
            master_lines.append(f"{len(body)} {hashlib.md5(body).hexdigest()} {HOST}{filename}")
            for other in ("mentions.CSV.zip", "gkg.csv.zip"):  # listed like the real manifest, never fetched
                other_name = filename.replace("export.CSV.zip", other)
                fake = hashlib.md5(other_name.encode()).hexdigest()
                master_lines.append(f"{len(rows) * 3 + 1000} {fake} {HOST}{other_name}")
        master = ("\n".join(master_lines) + "\n").encode()
        last = ("\n".join(master_lines[-3:]) + "\n").encode()
        for name, body in ((master_name, master), (lastupdate_name, last)):
            writer.add(request_key(source.base_url, source.base_url.rstrip("/") + "/" + name, ()), body,
                       content_type="text/plain", synthetic=True, recorded_at=RECORDED_AT)
