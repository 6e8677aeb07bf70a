"""Named points in a run where the reliability tests stop the process.

When ``BILATERAL_PAUSE_AT`` names a marker, the process writes the file named by
``BILATERAL_PAUSE_FILE`` (the marker's name) when it reaches that point and waits there, so a test
can SIGKILL it at exactly that step (landing, load, dbt, validation, each stage of publishing)
instead of guessing with sleeps. With ``BILATERAL_PAUSE_RESUME=1`` it goes on once the test has
removed the file (e.g. after filling the disk or making a folder read-only), and does not pause
again. Without ``BILATERAL_PAUSE_AT`` a marker does nothing.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "BILATERAL_PAUSE_AT"
PAUSE_FILE = "BILATERAL_PAUSE_FILE"
PAUSE_RESUME = "BILATERAL_PAUSE_RESUME"

#: every marker the code passes, in run order
MARKERS = ("extract:landed", "load:partition", "dbt:node", "validate:suite", "publish:writing",
           "publish:release_written", "publish:switched", "publish:pruning")
#: markers of the backfill flow only: after each chunk is loaded and recorded
BACKFILL_MARKERS = ("backfill:chunk",)


def marker(name: str) -> None:
    if os.environ.get(PAUSE_AT) != name:
        return
    pause = Path(os.environ.get(PAUSE_FILE) or f"/tmp/bilateral-paused-{os.getpid()}")
    resume = os.environ.get(PAUSE_RESUME) == "1"
    if resume:
        os.environ.pop(PAUSE_AT, None)  # once per process
    pause.write_text(name)
    while not resume or pause.exists():  # without resume, the test kills the process group here
        time.sleep(0.1)
