"""What a killed run leaves behind, settled by the next run before it starts (holding the run lock).

A run killed by SIGKILL, a reboot or an OOM cannot clean up after itself. The next run, once it
holds the warehouse lock (so no other process can still be running one), settles it:

- its ``audit.runs`` row, still ``running``, becomes ``abandoned``, ending when it was last seen
  and naming the step it was in (``bilateral status`` shows it so);
- landed files of an abandoned run are **adopted** (kept, with their ``audit.landed_files`` row)
  when the run loaded them (``audit.loaded_files``: written in the same transaction as their
  records) or rejected them (an error body, a refused file: evidence ``bilateral quarantine``
  lists). Every other file of the run is **removed**, with its ``audit.landed_files`` row: nothing
  of it reached the warehouse, so it must not count as an observation either, and tonight fetches
  it again. Loading never stores a content hash twice, so nothing is ever loaded twice. A run
  folder left with no adopted file is removed whole;
- ``.part`` files anywhere in the landing zone (a write cut short) are removed;
- a half-written publication (temporary release folder, a release never switched to, trash,
  temporary links) is removed by :func:`flows.publish.recover`; the current publication is never
  touched. A run killed after its switch published completely: its row says ``published``.

Every removal is listed in the run's notes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from flows import publish, warehouse
from flows.config import Config

REASON = "its process ended without finishing (killed, crashed or the machine stopped)"


def settle_abandoned_runs(config: Config) -> list[str]:
    """Mark stale runs abandoned and remove what they left; returns notes for tonight's summary."""
    notes = []
    current = (publish.current_manifest(config.published_dir) or {}).get("run_id")
    for run in warehouse.abandon_stale_runs(config.duckdb_path, REASON):
        notes.append(f"[recovery] run {run['run_id']} was abandoned ({REASON}); last seen in step {run['step']}")
        if run["run_id"] == current:  # killed after its one switch: its publication is complete and current
            with warehouse.connect(config.duckdb_path) as con:
                con.execute("update audit.runs set published = true where run_id = ?", [run["run_id"]])
            notes.append(f"[recovery] run {run['run_id']} had switched readers to its publication before it stopped; "
                         "that publication is complete and stays current")
        removed = _tidy_landing(config.landing_dir, config.duckdb_path, run["run_id"])
        if removed:
            notes.append(f"[recovery] removed {removed} landed file(s) of run {run['run_id']} that were never loaded; "
                         "tonight fetches them again")
    parts = [p for p in config.landing_dir.rglob("*.part")] if config.landing_dir.exists() else []
    for part in parts:
        part.unlink(missing_ok=True)
    if parts:
        notes.append(f"[recovery] removed {len(parts)} half-written landing file(s) (*.part)")
    leftovers = publish.recover(config.published_dir) if config.published_dir.exists() else []
    if leftovers:
        notes.append(f"[recovery] removed {len(leftovers)} leftover(s) of an interrupted publish; "
                     "the current publication was not touched")
    return notes


def _tidy_landing(landing: Path, db: Path, run_id: str) -> int:
    """Remove the run's landed files it neither loaded nor rejected; returns how many."""
    folders = [p for p in landing.glob(f"*/*/{run_id}") if p.is_dir()] if landing.exists() else []
    with warehouse.connect(db) as con:
        adopted = {r[0] for r in con.execute(
            "select path from audit.loaded_files where run_id = ? union "
            "select path from audit.landed_files where run_id = ? and status = 'rejected'", [run_id, run_id]).fetchall()}
        con.execute("delete from audit.landed_files where run_id = ? and path not in (select unnest(?::varchar[]))",
                    [run_id, sorted(adopted)])
    removed = 0
    for folder in folders:
        files = [p for p in folder.iterdir() if p.is_file() and p.name != "manifest.jsonl"]
        orphans = [p for p in files if str(p) not in adopted]
        if len(orphans) == len(files):
            removed += len(orphans)
            shutil.rmtree(folder)
            continue
        for path in orphans:
            path.unlink()
            removed += 1
        _note_removed(folder / "manifest.jsonl", orphans)
    return removed


def _note_removed(manifest: Path, removed: list[Path]) -> None:
    """The manifest keeps what happened: one line per removed file (``status: removed``)."""
    if removed:
        with manifest.open("a", encoding="utf-8") as fh:
            for path in removed:
                fh.write(json.dumps({"path": str(path), "status": "removed", "problem": REASON}, sort_keys=True) + "\n")
