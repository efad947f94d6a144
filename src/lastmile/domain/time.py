"""Time windows. Times are integer seconds since the plan's epoch."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from lastmile.domain._check import is_int
from lastmile.exceptions import InputError

#: An effectively unbounded time, used when a window has no end.
HORIZON = 2**40


@dataclass(frozen=True, slots=True, order=True)
class TimeWindow:
    """Closed interval ``[start, end]`` in seconds since the plan's epoch."""

    start: int = 0
    end: int = HORIZON

    def __post_init__(self) -> None:
        is_int(self.start, "time_window.start")
        is_int(self.end, "time_window.end")
        if self.start > self.end:
            raise InputError(f"start {self.start} is after end {self.end}", where="time_window")

    def contains(self, t: int) -> bool:
        return self.start <= t <= self.end

    @property
    def is_bounded(self) -> bool:
        return self.start > 0 or self.end < HORIZON


def normalise_windows(windows: Iterable[TimeWindow], field: str) -> tuple[TimeWindow, ...]:
    """Sort windows and reject overlapping ones (they would be ambiguous)."""
    ordered = tuple(sorted(windows))
    for prev, nxt in itertools.pairwise(ordered):
        if nxt.start <= prev.end:
            raise InputError(
                f"time windows {prev.start}-{prev.end} and {nxt.start}-{nxt.end} overlap",
                where=field,
            )
    return ordered


def earliest_start(windows: tuple[TimeWindow, ...], t: int) -> int | None:
    """The earliest time >= ``t`` inside one of ``windows`` (sorted), or None."""
    if not windows:
        return t
    for w in windows:
        if t <= w.end:
            return max(t, w.start)
    return None


def format_clock(t: int, *, scale: int = 1) -> str:
    """``t`` seconds since the epoch as ``HH:MM`` (days beyond the first as ``+Nd``)."""
    if scale != 1:
        return f"{t / scale:g}"
    days, rem = divmod(int(t), 86_400)
    hh, rem = divmod(rem, 3600)
    mm = rem // 60
    return f"{hh:02d}:{mm:02d}" + (f"+{days}d" if days else "")
