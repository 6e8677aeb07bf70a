"""How the loader splits a night's landed files so that memory is bounded by a batch, not by the night.

- A *window* is a run of consecutive partitions (extract results, in their order) whose files to load
  total at most ``limit`` landed bytes; a partition larger than ``limit`` is a window of its own.
  The loader parses and checks a window's files, stores its partitions in one transaction (each
  partition whole or not at all), and drops everything of the window before it starts the next one.
- Inside a window, files of one kind and one set of load parameters form a *group*; a group is
  parsed in *chunks* of at most ``limit`` bytes (a file is never split: one file above the limit is a
  chunk of its own). Only an oversized partition has groups of several chunks.

``limit`` is ``warehouse.load_batch_mb`` (default 256 MB of landed input).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from flows.landing import LandedFile

DEFAULT_BATCH_MB = 256
MB = 1 << 20

T = TypeVar("T")


def windows(sizes: list[tuple[T, int]], limit: int) -> Iterator[list[T]]:
    """``sizes``: (partition, bytes to load) in order -> consecutive runs of at most ``limit`` bytes
    (one partition above ``limit`` alone); every partition is in exactly one run, in order."""
    run: list[T] = []
    total = 0
    for item, n in sizes:
        if run and total + n > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += n
    if run:
        yield run


def chunks(files: list[LandedFile], limit: int) -> list[list[LandedFile]]:
    """``files`` in order, cut into runs of at most ``limit`` bytes (a file above ``limit`` alone)."""
    return list(windows([(f, max(f.bytes or 0, 0)) for f in files], limit))
