"""The named sizes ``bilateral bench --size`` generates data for."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    gdelt_files: int  # 15-minute export files (96 a day)
    gdelt_rows_per_file: int  # ~1,736: 2,880 files a month x 1,736 = 5M events, the full stream's volume
    comtrade_records: int
    dlt_dict: tuple[str, ...]  # sources measured on dlt's dict-row path (slow: 6 ms and ~0.1 MB a Comtrade record)
    night: bool  # the end-to-end sample night (about a minute)
    about: str


SIZES: dict[str, Size] = {s.name: s for s in (
    Size("tiny", 2, 1_000, 2_000, ("gdelt_events", "comtrade"), False, "2 GDELT files, ~2k Comtrade records: machinery check (tests)"),
    Size("small", 24, 1_736, 30_000, ("gdelt_events",), True,
         "6 hours of the full GDELT stream (41.7k events), 30k Comtrade records, the sample night"),
    Size("medium", 2_880, 1_736, 5_000_000, (), True,
         "one month of the full GDELT stream (5.0M events), 5M Comtrade records "
         "(opt in: ~7 GB on disk; bilateral's load peaks below 2 GB RSS)"),
    Size("large", 34_560, 1_736, 50_000_000, (), True,
         "12 months of the full GDELT stream (60M events), 50M Comtrade records (opt in: ~60 GB on disk)"),
)}


def size_named(name: str) -> Size:
    if name not in SIZES:
        raise KeyError(name)
    return SIZES[name]
