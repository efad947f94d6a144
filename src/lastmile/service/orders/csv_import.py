"""Reading orders from CSV: one order per row, every problem reported with its
row and column.

Columns (header names are case-insensitive; unknown columns are an error so
typos do not pass silently):

===================== ==========================================================
external_id           required; your reference, unique in the file
kind                  delivery (default), pickup or shipment
address, lon, lat     the customer stop (delivery address, or the pickup address
                      of a pickup order); lon/lat optional if the address can be
                      geocoded
window_start/_end     time window: ISO 8601 date-time, or HH:MM on the import's
                      date, in the organisation's time zone unless an offset is
                      given
service_min           minutes spent at the stop
pickup_*              shipments only: pickup_address, pickup_lon, pickup_lat,
                      pickup_window_start, pickup_window_end, pickup_service_min
<dimension names>     one column per organisation dimension (e.g. weight_kg), or
amount                all values separated by ``;``
skills                separated by ``;``
priority              0-100
customer_name, customer_phone, customer_email, instructions
language              the customer's language for messages (en, fi, ...); empty:
                      the organisation's
barcodes              separated by ``;`` (one item each)
compartment           compartment of the order's items
===================== ==========================================================

``row`` in errors is the spreadsheet row: the header is row 1. Errors about
the file as a whole (not UTF-8, no header, unknown or missing columns, too
many rows, a quote left open) raise :class:`CsvFileError` from
:func:`read_orders_csv`; errors of one data row come with the row, and a
partial import can leave that row out.

A quoted field may hold line breaks only in ``instructions`` and the address
columns, and at most :data:`MAX_FIELD_LINES` lines: anything else is a quote
left open that would swallow the rows after it into one field.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from lastmile.domain import OrderKind
from lastmile.service.errors import FieldError
from lastmile.service.orders.schemas import ContactIn, ItemIn, OrderIn, StopIn, TimeWindowIn
from lastmile.service.schemas import utc_in_range

MAX_ROWS = 100_000
_STOP_COLUMNS = ("address", "lon", "lat", "window_start", "window_end", "service_min")
_BASE_COLUMNS = (
    "external_id",
    "kind",
    *_STOP_COLUMNS,
    *(f"pickup_{c}" for c in _STOP_COLUMNS),
    "amount",
    "skills",
    "priority",
    "customer_name",
    "customer_phone",
    "customer_email",
    "instructions",
    "language",
    "barcodes",
    "compartment",
)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """A data row that parsed cleanly: its spreadsheet row number and the order."""

    row: int
    order: OrderIn


class _Row:
    """Typed access to one CSV row; every failure is recorded, never raised."""

    def __init__(
        self, row: int, values: dict[str, str], tz: ZoneInfo, date: dt.date | None
    ) -> None:
        self.row = row
        self.values = values
        self.tz = tz
        self.date = date
        self.errors: list[FieldError] = []

    def error(self, column: str, reason: str) -> None:
        self.errors.append(FieldError(reason=reason, column=column, row=self.row))

    def text(self, column: str) -> str:
        return self.values.get(column, "").strip()

    def number(self, column: str, *, low: float, high: float) -> float | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            self.error(column, f"{raw!r} is not a number")
            return None
        if not (math.isfinite(value) and low <= value <= high):
            self.error(column, f"{raw} is outside [{low:g}, {high:g}]")
            return None
        return value

    def integer(self, column: str, *, low: int, high: int) -> int | None:
        raw = self.text(column)
        if not raw:
            return None
        try:
            value = int(raw)
        except ValueError:
            self.error(column, f"{raw!r} is not a whole number")
            return None
        if not low <= value <= high:
            self.error(column, f"{value} is outside [{low}, {high}]")
            return None
        return value

    def when(self, column: str) -> dt.datetime | None:
        raw = self.text(column)
        if not raw:
            return None
        clock = _CLOCK.match(raw)
        if clock:
            if self.date is None:
                self.error(
                    column,
                    f"{raw!r} is a time of day: give the import's date parameter, "
                    "or a full date and time",
                )
                return None
            hh, mm, ss = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if hh > 24 or mm > 59 or ss > 59 or (hh == 24 and (mm or ss)):
                self.error(column, f"{raw!r} is not a time of day")
                return None
            midnight = dt.datetime.combine(self.date, dt.time(0), tzinfo=self.tz)
            value = midnight + dt.timedelta(hours=hh, minutes=mm, seconds=ss)
        else:
            try:
                value = dt.datetime.fromisoformat(raw)
            except ValueError:
                self.error(column, f"{raw!r} is not a date-time (ISO 8601) or HH:MM")
                return None
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.tz)
        try:
            utc_in_range(value)
        except ValueError as exc:
            self.error(column, f"{raw!r} is {exc}")
            return None
        return value

    def listed(self, column: str) -> list[str]:
        return [part.strip() for part in self.text(column).split(";") if part.strip()]

    def stop(self, prefix: str) -> StopIn | None:
        found = len(self.errors)
        address = self.text(f"{prefix}address")
        lon = self.number(f"{prefix}lon", low=-180, high=180)
        lat = self.number(f"{prefix}lat", low=-90, high=90)
        start = self.when(f"{prefix}window_start")
        end = self.when(f"{prefix}window_end")
        service = self.number(f"{prefix}service_min", low=0, high=24 * 60)
        ok = True
        if (self.text(f"{prefix}lon") == "") != (self.text(f"{prefix}lat") == ""):
            missing = f"{prefix}lat" if self.text(f"{prefix}lon") else f"{prefix}lon"
            self.error(missing, "give both lon and lat, or neither")
            ok = False
        if not address and not self.text(f"{prefix}lon") and not self.text(f"{prefix}lat"):
            self.error(f"{prefix}address", "give an address or lon and lat")
            ok = False
        windows: list[TimeWindowIn] = []
        if (self.text(f"{prefix}window_start") == "") != (self.text(f"{prefix}window_end") == ""):
            missing = (
                f"{prefix}window_end"
                if self.text(f"{prefix}window_start")
                else f"{prefix}window_start"
            )
            self.error(missing, "give both window_start and window_end, or neither")
            ok = False
        elif start is not None and end is not None:
            if end < start:
                self.error(f"{prefix}window_end", f"{end.isoformat()} is before window_start")
                ok = False
            else:
                windows.append(TimeWindowIn(start=start, end=end))
        if not ok or len(self.errors) > found:  # e.g. a lat that is not a number
            return None
        return StopIn(
            address=address,
            lon=lon,
            lat=lat,
            time_windows=windows,
            service_s=round((service or 0.0) * 60),
        )


class CsvFileError(Exception):
    """The file cannot be read (on): not UTF-8, bad header, a quote never closed,
    too many rows. ``errors`` name the row and column where known."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(e.reason for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class RowOutcome:
    """One data row read: its order, or what is wrong with it."""

    row: int
    external_id: str  # as written
    order: OrderIn | None  # None when ``errors``
    errors: list[FieldError]


def parse_orders_csv(
    data: bytes | str | BinaryIO,
    *,
    dimensions: Sequence[str],
    timezone: str = "UTC",
    date: dt.date | None = None,
    external_ids: dict[int, str] | None = None,
) -> tuple[list[ParsedRow], list[FieldError]]:
    """Parse a whole file; returns the clean rows and every error found (all rows
    are checked, not only up to the first error; an error that stops reading
    ends the list). ``external_ids``, when given, receives the external_id
    written on every data row, by row number."""
    parsed: list[ParsedRow] = []
    errors: list[FieldError] = []
    try:
        for outcome in read_orders_csv(data, dimensions=dimensions, timezone=timezone, date=date):
            if external_ids is not None:
                external_ids[outcome.row] = outcome.external_id
            errors.extend(outcome.errors)
            if outcome.order is not None:
                parsed.append(ParsedRow(outcome.row, outcome.order))
    except CsvFileError as exc:
        errors.extend(exc.errors)
    return parsed, errors


def read_orders_csv(
    data: bytes | str | BinaryIO,
    *,
    dimensions: Sequence[str],
    timezone: str = "UTC",
    date: dt.date | None = None,
) -> Generator[RowOutcome, None, None]:
    """The file's data rows one by one, as they are read (a file object is read
    in small pieces, never whole). Blank lines are skipped. Raises
    :class:`CsvFileError` before the first row when the header is wrong, and
    when reading cannot go on (the rows before were given)."""
    source = _text_lines(data)
    try:
        yield from _records(source, dimensions=dimensions, timezone=timezone, date=date)
    finally:
        source.close()


def _records(
    source: Iterator[str], *, dimensions: Sequence[str], timezone: str, date: dt.date | None
) -> Iterator[RowOutcome]:
    lines = _Lines(source)
    reader = csv.DictReader(lines, restkey=_EXTRA, strict=True)
    fieldnames = _read(reader, lines, [], 1)
    if not fieldnames:
        raise CsvFileError([FieldError(reason="the file is empty: expected a header row")])
    header = [(name or "").strip().lower() for name in fieldnames]
    reader.fieldnames = header
    dims = [d.lower() for d in dimensions]
    _check_header(header, dims)

    tz = ZoneInfo(timezone)
    seen: dict[str, int] = {}
    index = 0
    found = False
    while True:
        number = index + 2
        values = _read(reader, lines, header, number)
        if values is None:
            break
        index += 1
        if number - 2 >= MAX_ROWS:
            raise CsvFileError(
                [
                    FieldError(
                        reason=f"more than {MAX_ROWS} data rows (row {number} onwards); split it"
                    )
                ]
            )
        row = _Row(number, {k: v or "" for k, v in values.items() if isinstance(v, str)}, tz, date)
        if values.get(_EXTRA):
            row.error("", "the row has more fields than the header")
        if not any(row.text(c) for c in header):
            continue  # blank line
        found = True
        _check_line_breaks(row)
        order = _parse_row(row, dims, seen)
        ok = order is not None and not row.errors
        yield RowOutcome(number, row.text("external_id"), order if ok else None, row.errors)
    if not found:
        raise CsvFileError([FieldError(reason="the file has a header but no data rows")])


#: Key of the fields beyond the header's in a row.
_EXTRA = "\x00extra"
#: Free-text columns that may hold line breaks (a quoted field), and how many lines
#: they may span: more means a quote was most likely left open and swallowed rows.
_MULTILINE_COLUMNS = ("instructions", "address", "pickup_address")
MAX_FIELD_LINES = 10


def _text_lines(data: bytes | str | BinaryIO) -> Generator[str, None, None]:
    """The file's text, line by line (universal newlines kept for the csv module)."""
    if isinstance(data, str):
        yield from io.StringIO(data.removeprefix("\ufeff"), newline="")
        return
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        for line in text:  # noqa: UP028 (yield from would close the file when closed early)
            yield line
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            [FieldError(reason=f"the file is not UTF-8 text ({exc.reason})")]
        ) from None
    finally:
        if not stream.closed:
            text.detach()  # the caller's file stays open


class _Lines:
    """The lines given to the csv reader, remembering the first line of the
    record being read (to tell which column an unclosed quote opened in)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.first: str | None = None

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if self.first is None:
            self.first = line
        return line


def _read(reader: csv.DictReader[str], lines: _Lines, header: list[str], row: int) -> Any:
    """The next record (the field names for the header), None at the end;
    a record the csv module cannot read raises :class:`CsvFileError` naming
    the row and the column where it starts going wrong."""
    lines.first = None
    try:
        return next(reader) if header else reader.fieldnames
    except StopIteration:
        return None
    except csv.Error as exc:
        raise CsvFileError([_unreadable(str(exc), lines.first or "", header, row)]) from None


def _unreadable(message: str, first_line: str, header: list[str], row: int) -> FieldError:
    """Why a record could not be read, at which row and column."""
    try:
        fields = next(csv.reader([first_line]), [])
    except csv.Error:
        fields = []
    column = header[len(fields) - 1] if header and 0 < len(fields) <= len(header) else ""
    if "unexpected end of data" in message:
        reason = (
            'a quoted field opens here and is never closed (an unbalanced "): '
            "it would swallow every row after it"
        )
    elif "expected after" in message:
        reason = (
            f"a quote is closed in the middle of a field ({message}): a quote "
            "opened here is probably unbalanced; double a quote inside a quoted field"
        )
    else:
        reason = f"unreadable CSV ({message}); the rows after it were not read"
    return FieldError(reason=reason, column=column, row=row)


def _check_header(header: list[str], dims: list[str]) -> None:
    errors: list[FieldError] = []
    known = set(_BASE_COLUMNS) | set(dims)
    for name in header:
        if name not in known:
            errors.append(
                FieldError(
                    reason=f"unknown column; known columns: {', '.join(sorted(known))}",
                    column=name,
                    row=1,
                )
            )
    dupes = {name for name in header if header.count(name) > 1}
    for name in sorted(dupes):
        errors.append(FieldError(reason="column appears more than once", column=name, row=1))
    if "external_id" not in header:
        errors.append(FieldError(reason="missing column", column="external_id", row=1))
    if errors:
        raise CsvFileError(errors)


def _check_line_breaks(row: _Row) -> None:
    """Line breaks only in free text, and only a few: a field spanning many lines,
    or a line break in a name or number, is an unbalanced quote that swallowed
    the rows after it."""
    for column, value in row.values.items():
        breaks = value.count("\n") + value.count("\r") - value.count("\r\n")
        if not breaks:
            continue
        if column not in _MULTILINE_COLUMNS:
            row.error(
                column,
                f"contains a line break ({breaks + 1} lines): a quote was probably left "
                "open and swallowed the rows after it",
            )
        elif breaks >= MAX_FIELD_LINES:
            row.error(
                column,
                f"spans {breaks + 1} lines (at most {MAX_FIELD_LINES}): a quote was "
                "probably left open and swallowed the rows after it",
            )


def _parse_row(row: _Row, dims: list[str], seen: dict[str, int]) -> OrderIn | None:
    external_id = row.text("external_id")
    if not external_id:
        row.error("external_id", "required")
    elif external_id in seen:
        row.error("external_id", f"{external_id!r} already appears in row {seen[external_id]}")
    else:
        seen[external_id] = row.row
    kind_raw = row.text("kind").lower() or OrderKind.DELIVERY.value
    try:
        kind = OrderKind(kind_raw)
    except ValueError:
        row.error("kind", f"{kind_raw!r} is not delivery, pickup or shipment")
        return None
    main = row.stop("")
    pickup = row.stop("pickup_") if kind is OrderKind.SHIPMENT else None
    if kind is not OrderKind.SHIPMENT:
        for column in (f"pickup_{c}" for c in _STOP_COLUMNS):
            if row.text(column):
                row.error(column, "pickup_ columns are only for shipments")
    amount = _amount(row, dims)
    priority = row.integer("priority", low=0, high=100)
    compartment = row.text("compartment") or None
    if row.errors or main is None or (kind is OrderKind.SHIPMENT and pickup is None):
        return None
    try:
        return OrderIn(
            external_id=external_id,
            kind=kind,
            pickup=main if kind is OrderKind.PICKUP else pickup,
            delivery=None if kind is OrderKind.PICKUP else main,
            amount=amount,
            skills=row.listed("skills"),
            priority=priority or 0,
            customer=ContactIn(
                name=row.text("customer_name"),
                phone=row.text("customer_phone"),
                email=row.text("customer_email"),
            ),
            language=row.text("language") or None,
            instructions=row.text("instructions"),
            compartment=compartment,
            items=[ItemIn(barcode=code) for code in row.listed("barcodes")],
        )
    except ValidationError as exc:
        for err in exc.errors():
            row.error(".".join(str(p) for p in err["loc"]), err["msg"])
        return None


def _amount(row: _Row, dims: list[str]) -> list[int]:
    per_dim = [d for d in dims if row.text(d)]
    if per_dim and row.text("amount"):
        row.error("amount", f"give amount or the dimension columns ({', '.join(dims)}), not both")
        return []
    if per_dim:
        given = [row.integer(d, low=0, high=2**31 - 1) for d in dims]
        return [v or 0 for v in given]
    if not row.text("amount"):
        return []
    parts = row.text("amount").split(";")
    if len(parts) != len(dims):
        row.error(
            "amount",
            f"has {len(parts)} values for {len(dims)} dimensions ({';'.join(dims)})",
        )
        return []
    values: list[int] = []
    for part in parts:
        try:
            value = int(part.strip())
        except ValueError:
            row.error("amount", f"{part.strip()!r} is not a whole number")
            return []
        if value < 0:
            row.error("amount", f"{value} must be >= 0")
            return []
        values.append(value)
    return values
