"""Reading shifts from CSV or JSON: one shift per row (or item), every problem
reported with its row and column.

CSV columns (header names are case-insensitive; unknown columns are an error):

==================== ===========================================================
driver               required: the driver's id or name (names must be unique)
vehicle              the vehicle's id, name or registration (optional)
start_at, end_at     required: ISO 8601 date-time, or HH:MM on the import's date,
                     in the organisation's time zone unless an offset is given
break_start          when each break may start at the earliest (``;``-separated)
break_end            when each may start at the latest (``;``-separated)
break_min            how long each lasts, minutes (``;``-separated)
==================== ===========================================================

JSON: a list of objects (or ``{"shifts": [...]}``) with ``driver``,
``vehicle``, ``start_at``, ``end_at`` and ``breaks``: a list of
``{"id", "window_start", "window_end", "duration_s"}`` (or ``duration_min``).
Times as in CSV.

``row`` in errors is the spreadsheet row for CSV (the header is row 1) and the
1-based item number for JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from lastmile.service.errors import FieldError
from lastmile.service.fleet.schemas import BreakIn
from lastmile.service.schemas import utc_in_range

MAX_ROWS = 20_000
COLUMNS = (
    "driver",
    "vehicle",
    "start_at",
    "end_at",
    "break_start",
    "break_end",
    "break_min",
)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_JSON_KEYS = frozenset({"driver", "vehicle", "start_at", "end_at", "breaks"})
_JSON_BREAK_KEYS = frozenset({"id", "window_start", "window_end", "duration_s", "duration_min"})


@dataclass
class ParsedShift:
    """One row, parsed; references (driver, vehicle) are resolved by the service."""

    row: int
    driver: str
    vehicle: str
    start_at: dt.datetime
    end_at: dt.datetime
    breaks: list[BreakIn] = field(default_factory=list)


class _Row:
    """Typed access to one row; every failure is recorded, never raised."""

    def __init__(self, row: int, tz: ZoneInfo, date: dt.date | None) -> None:
        self.row = row
        self.tz = tz
        self.date = date
        self.errors: list[FieldError] = []

    def error(self, column: str, reason: str) -> None:
        self.errors.append(FieldError(reason=reason, column=column, row=self.row))

    def when(self, raw: object, column: str) -> dt.datetime | None:
        if not isinstance(raw, str) or not raw.strip():
            self.error(column, "missing: give an ISO 8601 date-time or HH:MM")
            return None
        text = raw.strip()
        clock = _CLOCK.match(text)
        if clock:
            if self.date is None:
                self.error(
                    column,
                    f"{text!r} is a time of day: give the import's date parameter, "
                    "or a full date and time",
                )
                return None
            hh, mm, ss = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if hh > 24 or mm > 59 or ss > 59 or (hh == 24 and (mm or ss)):
                self.error(column, f"{text!r} is not a time of day")
                return None
            midnight = dt.datetime.combine(self.date, dt.time(0), tzinfo=self.tz)
            value = midnight + dt.timedelta(hours=hh, minutes=mm, seconds=ss)
        else:
            try:
                value = dt.datetime.fromisoformat(text)
            except ValueError:
                self.error(column, f"{text!r} is not a date-time (ISO 8601) or HH:MM")
                return None
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.tz)
        try:
            return utc_in_range(value)
        except ValueError as exc:
            self.error(column, f"{text!r} is {exc}")
            return None

    def brk(
        self,
        column: str,
        *,
        name: str,
        window_start: object,
        window_end: object,
        duration_s: int | None,
        columns: tuple[str, str, str],
    ) -> BreakIn | None:
        start = self.when(window_start, columns[0])
        end = self.when(window_end, columns[1])
        if duration_s is None:
            return None
        if not 0 < duration_s <= 86_400:
            self.error(columns[2], f"{duration_s}s is not a break length (1 s to 24 h)")
            return None
        if start is None or end is None:
            return None
        try:
            return BreakIn(id=name, window_start=start, window_end=end, duration_s=duration_s)
        except ValidationError as exc:
            for e in exc.errors():
                self.error(column, str(e["msg"]))
            return None

    def shift(
        self, driver: object, vehicle: object, start_at: object, end_at: object
    ) -> tuple[str, str, dt.datetime, dt.datetime] | None:
        d = driver.strip() if isinstance(driver, str) else ""
        if not d:
            self.error("driver", "missing: give the driver's id or name")
        v = vehicle.strip() if isinstance(vehicle, str) else ""
        if vehicle is not None and not isinstance(vehicle, str):
            self.error("vehicle", "must be the vehicle's id, name or registration")
        start = self.when(start_at, "start_at")
        end = self.when(end_at, "end_at")
        if start is not None and end is not None and end <= start:
            self.error("end_at", "must be after start_at")
            return None
        if not d or start is None or end is None:
            return None
        return d, v, start, end


def parse_shifts(
    data: bytes, *, fmt: str, timezone: str = "UTC", date: dt.date | None = None
) -> tuple[list[ParsedShift], list[FieldError]]:
    """Parse a whole file (``fmt`` "csv" or "json"); the clean rows and every error."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [FieldError(reason=f"the file is not UTF-8 text ({exc.reason})")]
    tz = ZoneInfo(timezone)
    parsed, errors = _parse_json(text, tz, date) if fmt == "json" else _parse_csv(text, tz, date)
    if not parsed and not errors:
        errors.append(FieldError(reason="the file has no shifts"))
    return parsed, errors


def _parse_csv(
    text: str, tz: ZoneInfo, date: dt.date | None
) -> tuple[list[ParsedShift], list[FieldError]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    if not reader.fieldnames:
        return [], [FieldError(reason="the file is empty: expected a header row")]
    header = [(name or "").strip().lower() for name in reader.fieldnames]
    reader.fieldnames = header
    errors: list[FieldError] = []
    for name in header:
        if name not in COLUMNS:
            errors.append(
                FieldError(
                    reason=f"unknown column; known columns: {', '.join(COLUMNS)}",
                    column=name,
                    row=1,
                )
            )
    for name in sorted({n for n in header if header.count(n) > 1}):
        errors.append(FieldError(reason="column appears more than once", column=name, row=1))
    for name in ("driver", "start_at", "end_at"):
        if name not in header:
            errors.append(FieldError(reason="missing column", column=name, row=1))
    if errors:
        return [], errors
    parsed: list[ParsedShift] = []
    for index, values in enumerate(_readable(reader, errors)):
        number = index + 2
        if index >= MAX_ROWS:
            errors.append(FieldError(reason=f"more than {MAX_ROWS} rows", row=number))
            break
        cells = {k: (v or "").strip() for k, v in values.items() if isinstance(v, str)}
        if not any(cells.values()):
            continue  # blank line
        row = _Row(number, tz, date)
        if values.get("\x00extra"):
            row.error("", "the row has more fields than the header")
        found = row.shift(cells.get("driver"), cells.get("vehicle"), *_times(cells))
        breaks = _csv_breaks(row, cells)
        errors.extend(row.errors)
        if found is not None and not row.errors:
            parsed.append(ParsedShift(number, *found, breaks=breaks))
    return parsed, errors


def _readable(reader: csv.DictReader[str], errors: list[FieldError]) -> Iterator[dict[str, Any]]:
    """The reader's rows up to one it cannot read (e.g. a field longer than the
    CSV reader's limit), which ends the file with an error naming that row."""
    number = 1
    try:
        for values in reader:
            number += 1
            yield values
    except csv.Error as exc:
        errors.append(
            FieldError(
                reason=f"unreadable CSV ({exc}); the rows after it were not read", row=number + 1
            )
        )


def _times(cells: dict[str, str]) -> tuple[str, str]:
    return cells.get("start_at", ""), cells.get("end_at", "")


def _csv_breaks(row: _Row, cells: dict[str, str]) -> list[BreakIn]:
    columns = ("break_start", "break_end", "break_min")
    lists = [
        [p.strip() for p in cells.get(c, "").split(";")] if cells.get(c) else [] for c in columns
    ]
    counts = {len(values) for values in lists}
    if counts == {0}:
        return []
    if len(counts) > 1:
        row.error(
            "break_min",
            "break_start, break_end and break_min must list the same number of breaks "
            f"(got {', '.join(str(len(v)) for v in lists)})",
        )
        return []
    out = []
    for i, (start, end, minutes) in enumerate(zip(*lists, strict=True)):
        try:
            duration = round(float(minutes) * 60)
        except ValueError:
            row.error("break_min", f"{minutes!r} is not a number of minutes")
            continue
        made = row.brk(
            "break_min",
            name=f"break-{i + 1}",
            window_start=start,
            window_end=end,
            duration_s=duration,
            columns=columns,
        )
        if made is not None:
            out.append(made)
    return out


def _parse_json(
    text: str, tz: ZoneInfo, date: dt.date | None
) -> tuple[list[ParsedShift], list[FieldError]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [FieldError(reason=f"not JSON: {exc.msg} at line {exc.lineno}")]
    if isinstance(data, dict) and set(data) == {"shifts"}:
        data = data["shifts"]
    if not isinstance(data, list):
        return [], [FieldError(reason='expected a list of shifts (or {"shifts": [...]})')]
    if len(data) > MAX_ROWS:
        return [], [FieldError(reason=f"more than {MAX_ROWS} shifts")]
    parsed: list[ParsedShift] = []
    errors: list[FieldError] = []
    for index, item in enumerate(data):
        row = _Row(index + 1, tz, date)
        if not isinstance(item, dict):
            row.error("", "each shift must be an object")
            errors.extend(row.errors)
            continue
        for key in sorted(set(item) - _JSON_KEYS):
            row.error(key, f"unknown field; known fields: {', '.join(sorted(_JSON_KEYS))}")
        found = row.shift(
            item.get("driver"), item.get("vehicle"), item.get("start_at"), item.get("end_at")
        )
        breaks = _json_breaks(row, item.get("breaks", []))
        errors.extend(row.errors)
        if found is not None and not row.errors:
            parsed.append(ParsedShift(row.row, *found, breaks=breaks))
    return parsed, errors


def _json_breaks(row: _Row, raw: Any) -> list[BreakIn]:
    if not isinstance(raw, list):
        row.error("breaks", "must be a list of breaks")
        return []
    out = []
    for i, b in enumerate(raw):
        where = f"breaks[{i}]"
        if not isinstance(b, dict):
            row.error(where, "each break must be an object")
            continue
        for key in sorted(set(b) - _JSON_BREAK_KEYS):
            row.error(f"{where}.{key}", "unknown field")
        duration: int | None = None
        for key, factor in (("duration_s", 1), ("duration_min", 60)):
            value = b.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                row.error(f"{where}.{key}", f"must be a number, got {value!r}")
            else:
                duration = round(value * factor)
        if duration is None and not any(f"{where}.duration" in e.column for e in row.errors):
            row.error(f"{where}.duration_s", "missing: give duration_s or duration_min")
        name = b.get("id", f"break-{i + 1}")
        if not isinstance(name, str) or not 0 < len(name) <= 64:
            row.error(f"{where}.id", "must be a name of 1 to 64 characters")
            continue
        made = row.brk(
            where,
            name=name,
            window_start=b.get("window_start"),
            window_end=b.get("window_end"),
            duration_s=duration,
            columns=(f"{where}.window_start", f"{where}.window_end", f"{where}.duration_s"),
        )
        if made is not None:
            out.append(made)
    return out
