"""Named points in a run where the reliability tests stop the process.

When ``BILATERAL_PAUSE_AT`` names a marker, the process writes the file named by
``BILATERAL_PAUSE_FILE`` (the marker's name) when it reaches that point and waits there, so a test
can SIGKILL it at exactly that step (landing, load, dbt, validation, each stage of publishing)
instead of guessing with sleeps. Without the variable a marker does nothing.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_AT = "BILATERAL_PAUSE_AT"
PAUSE_FILE = "BILATERAL_PAUSE_FILE"

#: every marker the code passes, in run order
MARKERS = ("extract:landed", "load:partition", "dbt:node", "validate:suite", "publish:release_written",
           "publish:switched", "publish:pruning")


def marker(name: str) -> None:
    if os.environ.get(PAUSE_AT) != name:
        return
    Path(os.environ.get(PAUSE_FILE) or f"/tmp/bilateral-paused-{os.getpid()}").write_text(name)
    while True:  # the test kills the process group here
        time.sleep(60)
