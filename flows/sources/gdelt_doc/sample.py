"""Sample GDELT DOC 2.0 API answers (generated, marked synthetic), under the connector's own request
keys: per pair, ``artlist`` (a handful of articles) and 90 days of ``timelinevolraw`` /
``timelinetone`` ending 2026-01-31, whose volume and mood follow the same dated story as the events
sample (flows/sources/gdelt_events/sample.py).
"""
from __future__ import annotations

import json
from datetime import date, timedelta

from flows.http import request_key
from flows.sources.base import SampleContext
from flows.sources.gdelt_doc.connector import pairs, query_for, request_url
from flows.sources.gdelt_events.sample import LAST_DAY, RECORDED_AT, pair_day, rng_for


def _doc_points(pair: str, end: date, n_days: int, kind: str) -> list[dict]:
    points = []
    for i in range(n_days):
        day = end - timedelta(days=n_days - 1 - i)
        rate, mood, _ = pair_day(pair, day)
        rng = rng_for("doc", pair, day, kind)
        if kind == "vol":
            points.append({"date": day.strftime("%Y%m%dT000000Z"), "value": int(rate * 12 + rng.random() * 8),
                           "norm": 150000 + int(rng.random() * 40000)})
        else:
            points.append({"date": day.strftime("%Y%m%dT000000Z"), "value": round(mood * 3.5 - 1.2 + rng.gauss(0, 0.6), 4)})
    return points


def generate(ctx: SampleContext) -> None:
    config, source, writer = ctx.config, ctx.settings, ctx.writer()
    span = source.timeline_timespan
    n_days = int(span[:-1]) if span.endswith("d") and span[:-1].isdigit() else 90
    for pair in pairs(config):
        for mode in source.modes:
            if mode == "artlist":
                rng = rng_for("artlist", pair)
                doc = {"articles": [
                    {"url": f"https://example.com/sample/news/{pair.lower()}/{i}", "url_mobile": "",
                     "title": f"Sample headline {i + 1} on {pair} trade and tariffs (synthetic)",
                     "seendate": f"20260131T{(i * 37) % 24:02d}{(i * 15) % 60:02d}00Z",
                     "socialimage": "", "domain": "example.com",
                     "language": "English", "sourcecountry": rng.choice(["Canada", "China", "United States"])}
                    for i in range(12)]}
            elif mode == "timelinevolraw":
                doc = {"query_details": {"title": query_for(source, pair), "date_resolution": "day"},
                       "timeline": [{"series": "Article Count", "data": _doc_points(pair, LAST_DAY, n_days, "vol")}]}
            elif mode == "timelinetone":
                doc = {"query_details": {"title": query_for(source, pair), "date_resolution": "day"},
                       "timeline": [{"series": "Average Tone", "data": _doc_points(pair, LAST_DAY, n_days, "tone")}]}
            else:
                continue
            key = request_key(source.base_url, request_url(source, pair, mode), ())
            writer.add(key, json.dumps(doc, separators=(",", ":")).encode(), content_type="application/json",
                       synthetic=True, recorded_at=RECORDED_AT)
