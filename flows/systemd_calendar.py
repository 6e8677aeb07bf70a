"""A five-field cron expression as systemd ``OnCalendar=`` values (systemd.time(7)), exactly.

Each field becomes the explicit set of values it names (ranges of three or more as ``a..b``), so
steps (``*/15``), ranges, lists and month/weekday names all convert. Cron's one irregularity is kept:
when both day-of-month and weekday are restricted, cron runs on days matching *either*; OnCalendar
matches both, so such an expression becomes two OnCalendar lines (a timer fires on their union).
``L``, ``W``, ``#`` and ``?`` have no OnCalendar equivalent and are refused. One difference remains:
a time the spring clock change skips (02:30 in America/Toronto) systemd skips that day, cron runs it
just after the change.
"""
from __future__ import annotations

import re

_MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                        "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_SYSTEMD_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]  # systemd order, Monday first
#: name, lowest, highest, names
_FIELDS = [("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}), ("month", 1, 12, _MONTHS),
           ("weekday", 0, 7, _DAYS)]


class NotConvertible(ValueError):
    """The cron expression has no exact OnCalendar equivalent."""


def _number(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise NotConvertible(f"{field} {text!r} is not a value from {low} to {high}")
    return value


def _values(text: str, field: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    if re.search(r"[LW#?]", text, re.IGNORECASE):
        raise NotConvertible(f"{field} {text!r} uses L, W, # or ?, which systemd OnCalendar cannot express")
    out: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step_text and (not step_text.isdigit() or step < 1):
            raise NotConvertible(f"{field} {item!r}: the step must be a positive number")
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, b = base.split("-", 1)
            first, last = _number(a, low, high, names, field), _number(b, low, high, names, field)
        else:
            first = _number(base, low, high, names, field)
            last = high if step_text else first
        if first > last:
            raise NotConvertible(f"{field} {item!r}: the range runs backwards")
        out.update(range(first, last + 1, step))
    return out


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _render(values: set[int], fmt) -> str:
    parts = []
    for a, b in _runs(sorted(values)):
        if b - a >= 2:
            parts.append(f"{fmt(a)}..{fmt(b)}")
        else:
            parts.extend(fmt(v) for v in range(a, b + 1))
    return ",".join(parts)


def on_calendar(cron: str, timezone: str = "UTC") -> list[str]:
    """OnCalendar values (one or two) that fire exactly when ``cron`` does, in ``timezone``."""
    fields = cron.split()
    if len(fields) != 5:
        raise NotConvertible(f"{cron!r} does not have 5 fields (minute hour day month weekday)")
    sets = [_values(text, name, low, high, names) for text, (name, low, high, names) in zip(fields, _FIELDS)]
    minute, hour, dom, month, dow = sets
    dow = {0 if d == 7 else d for d in dow}
    every = [set(range(low, high + 1)) for _, low, high, _ in _FIELDS]
    two = lambda v: f"{v:02d}"  # noqa: E731

    def field(values: set[int], i: int, fmt=two) -> str:
        return "*" if values >= every[i] else _render(values, fmt)

    time_part = f"{field(hour, 1)}:{field(minute, 0)}:00"
    month_part = field(month, 3)
    systemd_dow = {(d - 1) % 7 for d in dow}  # Sunday 0 -> 6, Monday 1 -> 0
    dow_part = "" if len(dow) == 7 else _render(systemd_dow, lambda i: _SYSTEMD_DAYS[i]) + " "
    dom_restricted, dow_restricted = not fields[2].startswith("*"), not fields[4].startswith("*")
    if dom_restricted and dow_restricted:  # cron: either day matches
        return [f"*-{month_part}-{field(dom, 2)} {time_part} {timezone}",
                f"{dow_part}*-{month_part}-* {time_part} {timezone}"]
    return [f"{dow_part}*-{month_part}-{field(dom, 2)} {time_part} {timezone}"]
