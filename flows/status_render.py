"""The status document as text: a table per section for people, or ONE CSV table for programs."""
from __future__ import annotations

import csv
import io

#: the columns each section shows in the table view (the JSON and CSV carry every field)
TABLE_COLUMNS = {
    "runs": ["run_id", "mode", "run_date", "outcome", "started", "duration_seconds", "published", "message"],
    "sources": ["source", "state", "last_success_at", "last_success_run", "last_attempt_outcome",
                "consecutive_failures", "watermark", "quarantined_open", "last_error", "notes"],
    "validations": ["suite", "outcome", "evaluated", "failed", "warnings", "rows_checked"],
}
#: every field of a section, in order: the CSV's header (stable even when a section is empty)
CSV_COLUMNS = {
    "runs": ["run_id", "mode", "run_date", "outcome", "started", "duration_seconds", "published", "message",
             "current_step", "pid", "host"],
    "sources": ["source", "enabled", "state", "last_success_at", "last_success_run", "last_attempt_at",
                "last_attempt_run", "last_attempt_outcome", "consecutive_failures", "hours_since_success",
                "stale_after_hours", "watermark", "quarantined_open", "last_error", "notes", "cadence"],
    "validations": ["run_id", "suite", "outcome", "evaluated", "failed", "warnings", "rows_checked", "validated_at"],
}
CELL_WIDTH = 80


def _cell(value, width: int | None = CELL_WIDTH) -> str:
    text = "" if value is None else str(value).replace("\n", " ")
    return text if width is None or len(text) <= width else text[: width - 3] + "..."


def _table(rows: list[dict], columns: list[str]) -> list[str]:
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return lines


def render_table(doc: dict) -> str:
    lines = []
    if doc.get("message"):
        lines += [doc["message"], ""]
    where = doc.get("read_from")
    if where and where["kind"] != "working" and doc.get("in_progress"):  # else the message says it
        lines += [f"read from the {where['kind']} {where['path']}" + (f" ({where['why']})" if where.get("why") else ""), ""]
    lines += [f"== runs (last {len(doc['runs'])})"] + (_table(doc["runs"], TABLE_COLUMNS["runs"]) if doc["runs"] else ["(none)"])
    lines += ["", "== sources"] + _table(doc["sources"], [c for c in TABLE_COLUMNS["sources"]
                                                         if any(c in r for r in doc["sources"])])
    checked = doc["validations"]
    lines += ["", f"== validations (run {checked[0]['run_id']})" if checked else "== validations"]
    lines += _table(checked, TABLE_COLUMNS["validations"]) if checked else ["(no run validated yet)"]
    lines += ["", "== files"] + [f"{k}: {v}" for k, v in doc["published"].items() if v]
    return "\n".join(lines)


def render_csv(doc: dict, table: str) -> str:
    """ONE table of the document (runs, sources or validations) as CSV: its header once, then its rows."""
    rows, columns = doc[table], CSV_COLUMNS[table]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow(["" if r.get(c) is None else r.get(c) for c in columns])
    return out.getvalue()
