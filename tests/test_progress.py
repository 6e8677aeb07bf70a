"""Progress views: the steps' events become plain lines (not a terminal) or a rich live view."""
from __future__ import annotations

import io
import re

import pytest

from flows import progress


@pytest.fixture
def attached():
    views = []

    def attach(view):
        views.append(progress.attach(view))
        return view

    yield attach
    for view in views:
        progress.detach(view)


def _night() -> None:
    progress.event("note", text="starting the nightly run")
    progress.event("step", step="extract", state="started")
    progress.event("planned", step="extract", source="comtrade", unit="periods", total=3)
    for n in range(3):
        progress.event("done", step="extract", source="comtrade", files=2, records=1000 + n)
    progress.event("step", step="extract", state="ok", seconds=1.25)
    progress.event("step", step="dbt", state="started")
    progress.event("done", step="dbt", unit="nodes", n=0, total=4)
    for _ in range(4):
        progress.event("done", step="dbt", unit="nodes")
    progress.event("step", step="dbt", state="failed", seconds=2.0)


def test_lines_name_the_step_the_counts_and_the_outcome(attached):
    out = io.StringIO()
    attached(progress.LineView(out, every=0.0))
    _night()
    lines = [re.sub(r"^\[\d+:\d\d\] ", "", line) for line in out.getvalue().splitlines()]
    assert lines[0] == "starting the nightly run" and lines[1] == "extract ..."
    assert "extract comtrade: 3/3 periods, 6 files, 3,003 records" in lines
    assert any(re.fullmatch(r"extract comtrade: 1/3 periods, 2 files, 1,000 records \(ETA \d+:\d\d\)", ln) for ln in lines), lines
    assert "extract ok in 1.2s" in lines or "extract ok in 1.3s" in lines
    assert "dbt: 4/4 nodes" in lines and lines[-1] == "dbt failed in 2.0s"


def test_lines_are_throttled_but_a_finished_counter_is_always_shown(attached):
    out = io.StringIO()
    attached(progress.LineView(out, every=3600.0))
    progress.event("planned", step="load", unit="partitions", total=50)
    for _ in range(50):
        progress.event("done", step="load", files=1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].endswith("load: 50/50 partitions, 50 files"), lines


def test_the_live_view_draws_a_bar_per_counter_on_a_terminal(attached):
    from rich.console import Console

    screen = io.StringIO()
    view = attached(progress.LiveView(Console(file=screen, force_terminal=True, width=140)))
    _night()
    progress.detach(view)  # the live view stops, leaving its last state on screen
    progress.detach(progress.LiveView())  # detaching a view that was never attached is harmless
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "extract comtrade" in text and "3/3" in text and "dbt" in text and "4/4" in text
    assert "━" in text  # the bar


def test_nothing_is_emitted_without_a_view():
    assert not any(isinstance(h, progress.LineView | progress.LiveView) for h in progress.LOGGER.handlers)
    assert not progress.LOGGER.isEnabledFor(20)
    progress.event("done", step="load")  # no handler, no output, no error


def test_the_cli_picks_the_view_by_terminal_and_flags(monkeypatch, attached):
    from flows import cli

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    for choice, verbose, kind in (("auto", False, progress.LiveView), ("auto", True, progress.LineView),
                                  ("lines", False, progress.LineView), ("off", False, type(None))):
        view = cli._progress_view(choice, verbose)
        assert isinstance(view, kind), (choice, verbose)
        if view is not None:
            progress.detach(view)
