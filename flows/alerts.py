"""Whether a finished run alerts, and why; then sending through flows/alert_channels.py and
recording each delivery in ``audit.alerts``.

Reasons (``alerts.on``):
- ``failed``: the run ended failed;
- ``source_failing``: a source failed ``alerts.consecutive_failures`` nights in a row (tonight included;
  a night is a run date, the latest run of each date counts);
- ``stale``: an enabled source whose last successful load is older than its cadence allows
  (``SOURCE.cadence``): the ``stale`` state ``bilateral status`` shows;
- ``quarantine``: more than ``alerts.quarantine_rows`` records were quarantined tonight.

Nothing here changes a run's outcome or exit code: a failing channel prints one line and is
recorded with ok = false.
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from flows import warehouse
from flows.alert_channels import Delivery, Notification, Reason, send_all
from flows.config import Config

#: a reason is read in a chat message or a mail subject's body: long run messages are cut
MAX_MESSAGE = 600


def _short(text: str, limit: int = MAX_MESSAGE) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + " ... (cut; `bilateral status` and audit.runs hold all of it)"


def failing_streaks(db: Path, run_id: str, run_date: str, tonight: Mapping[str, str]) -> dict[str, int]:
    """Nights in a row each source failed, ending tonight (0 when it did not fail tonight)."""
    failed = [s for s, status in tonight.items() if status == "failed"]
    streaks = {s: 1 for s in failed}
    if not failed or not db.exists():
        return streaks
    with warehouse.connect(db) as con:
        rows = con.execute("""
            select s.source, r.run_date, s.status from audit.run_steps s join audit.runs r using (run_id)
            where s.step = 'extract' and s.source is not null and s.run_id <> ? and r.run_date < ?::date
            qualify row_number() over (partition by s.source, r.run_date order by s.started_at desc) = 1
            order by s.source, r.run_date desc""", [run_id, run_date]).fetchall()
    stopped: set[str] = set()
    for source, _, status in rows:
        if source not in streaks or source in stopped:
            continue
        if status == "failed":
            streaks[source] += 1
        else:
            stopped.add(source)
    return streaks


def decide(config: Config, summary, sources: list[str]) -> list[Reason]:
    """The reasons tonight's run alerts, in the order of flows.alerts_config.REASONS."""
    section, reasons = config.alerts, []
    if "failed" in section.on and summary.status == "failed":
        reasons.append(Reason("failed", "the run failed: " + _short(summary.message or "see `bilateral status`")))
    if "source_failing" in section.on:
        streaks = failing_streaks(config.duckdb_path, summary.run_id, summary.run_date, summary.source_status)
        for source, nights in streaks.items():
            if nights >= section.consecutive_failures:
                error = _short((summary.source_errors.get(source) or [""])[0], 300)
                reasons.append(Reason("source_failing", f"{source} failed {nights} nights in a row "
                                      f"(alerts.consecutive_failures = {section.consecutive_failures})"
                                      + (f": {error}" if error else "")))
    if "stale" in section.on and config.duckdb_path.exists():
        from flows import status

        with warehouse.connect(config.duckdb_path) as con:
            found = status.sources(con, config, datetime.now(timezone.utc))
        for f in found:
            if f["source"] in sources and f["state"] == "stale":
                reasons.append(Reason("stale", f"{f['source']}: last successful load {f['hours_since_success']:.0f} h ago "
                                      f"({f['last_success_at']}), stale after {f['stale_after_hours']:.0f} h "
                                      f"({f['cadence']}); `bilateral status` shows why"))
    if "quarantine" in section.on:
        n = sum(summary.quarantined.values())
        if n > section.quarantine_rows:
            by_source = ", ".join(f"{s} {c}" for s, c in sorted(summary.quarantined.items()) if c)
            reasons.append(Reason("quarantine", f"{n} records were quarantined tonight ({by_source}), more than "
                                  f"alerts.quarantine_rows = {section.quarantine_rows}; `bilateral quarantine` "
                                  "lists them"))
    return reasons


def notification(config: Config, summary, reasons: list[Reason], test: bool = False) -> Notification:
    published = config.published_dir / "bilateral.duckdb"
    return Notification(run_id=summary.run_id, outcome=summary.status, run_date=summary.run_date, mode=summary.mode,
                        reasons=reasons, warehouse=str(config.warehouse_dir),
                        published=str(published) if summary.published else "", test=test)


def report_failures(deliveries: list[Delivery], out=None) -> None:
    """One line per failed channel, on standard error."""
    for d in deliveries:
        if not d.ok:
            print(f"bilateral: alert via {d.channel} to {d.target} failed: {d.error}; the run's outcome is unchanged",
                  file=out or sys.stderr)


def audit_rows(run_id: str, note: Notification, deliveries: list[Delivery]) -> list[dict]:
    sent_at = datetime.now(timezone.utc)
    return [{"run_id": run_id, "channel": d.channel, "reason": f"{r.reason}: {r.message}"[:4000], "sent_at": sent_at,
             "ok": d.ok, "error": d.error or None, "target": d.target}
            for d in deliveries for r in note.reasons]


def alert_run(config: Config, summary, sources: list[str], record, scrub=str,
              environ: Mapping[str, str] | None = None) -> list[Delivery]:
    """Decide, send and record (``record(rows)`` writes audit.alerts). Never raises: a problem here is
    one line on standard error, and the run's outcome is what it was."""
    if not config.alerts.active:
        return []
    try:
        reasons = [Reason(r.reason, scrub(r.message)) for r in decide(config, summary, sources)]
        if not reasons:
            return []
        note = notification(config, summary, reasons)
        deliveries = send_all(config.alerts, note, environ)
        report_failures(deliveries)
        rows = audit_rows(summary.run_id, note, deliveries)
        if rows:
            record(rows)
        return deliveries
    except Exception as exc:  # noqa: BLE001 - alerts never change the run's outcome
        print(f"bilateral: alerts could not be sent: {scrub(f'{type(exc).__name__}: {exc}')}; "
              "the run's outcome is unchanged", file=sys.stderr)
        return []


def send_test(config: Config, environ: Mapping[str, str] | None = None) -> list[Delivery]:
    """``bilateral alerts test``: a test notification through each configured channel (not recorded)."""
    from types import SimpleNamespace

    now = datetime.now(timezone.utc)
    summary = SimpleNamespace(run_id=f"test-{now:%Y%m%dT%H%M%SZ}", status="test", run_date=now.date().isoformat(),
                              mode="test", published=False)
    note = notification(config, summary, [Reason("test", "a test notification sent by `bilateral alerts test`; "
                                                         "no run is concerned")], test=True)
    return send_all(config.alerts, note, environ)
