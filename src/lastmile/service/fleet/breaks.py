"""Shift breaks: the rules a break must meet, and how breaks are stored.

A break starts inside its window (``window_start`` .. ``window_end``, both
within the shift) and lasts ``duration_s``; it must end by the end of the
shift. Stored on the shift row as JSON: ``{"id", "window_start",
"window_end", "duration_s"}`` with ISO 8601 UTC date-times, by window start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.fleet.schemas import BreakIn


def _clock(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def break_problems(
    start_at: dt.datetime, end_at: dt.datetime, breaks: Sequence[BreakIn], *, field: str = "breaks"
) -> list[tuple[str, str]]:
    """Every way ``breaks`` do not fit the shift ``[start_at, end_at]``: (field, reason)."""
    problems: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, b in enumerate(breaks):
        where = f"{field}[{i}]"
        name = b.id or f"break-{i + 1}"
        if name in seen:
            problems.append((f"{where}.id", f"{name!r} is also break {seen[name] + 1}"))
        seen.setdefault(name, i)
        if b.window_end < b.window_start:
            problems.append(
                (
                    f"{where}.window_end",
                    f"{_clock(b.window_end)} is before window_start {_clock(b.window_start)}",
                )
            )
            continue
        if b.window_start < start_at:
            problems.append(
                (
                    f"{where}.window_start",
                    f"{_clock(b.window_start)} is before the shift starts ({_clock(start_at)})",
                )
            )
        if b.window_start + dt.timedelta(seconds=b.duration_s) > end_at:
            problems.append(
                (
                    f"{where}.duration_s",
                    f"a {b.duration_s}s break starting at {_clock(b.window_start)} ends after "
                    f"the shift ({_clock(end_at)})",
                )
            )
        elif b.window_end > end_at:
            problems.append(
                (
                    f"{where}.window_end",
                    f"{_clock(b.window_end)} is after the shift ends ({_clock(end_at)})",
                )
            )
    return problems


def check_breaks(start_at: dt.datetime, end_at: dt.datetime, breaks: Sequence[BreakIn]) -> None:
    """Raise :class:`Unprocessable` listing every break that does not fit the shift."""
    problems = break_problems(start_at, end_at, breaks)
    if problems:
        raise Unprocessable(
            "the shift's breaks do not fit it",
            [FieldError(reason=reason, column=column) for column, reason in problems],
        )


def stored(breaks: Sequence[BreakIn]) -> list[dict[str, Any]]:
    """``breaks`` as the shift row keeps them (ids filled in, by window start)."""
    rows = [
        {
            "id": b.id or f"break-{i + 1}",
            "window_start": _clock(b.window_start),
            "window_end": _clock(b.window_end),
            "duration_s": b.duration_s,
        }
        for i, b in enumerate(breaks)
    ]
    return sorted(rows, key=lambda r: (r["window_start"], r["id"]))


def windows(raw: Sequence[dict[str, Any]]) -> list[tuple[str, dt.datetime, dt.datetime, int]]:
    """Stored breaks as ``(id, window_start, window_end, duration_s)``, aware UTC."""
    out = []
    for r in raw:
        start = dt.datetime.fromisoformat(str(r["window_start"]).replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(str(r["window_end"]).replace("Z", "+00:00"))
        out.append((str(r["id"]), start, end, int(r["duration_s"])))
    return out
