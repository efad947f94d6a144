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
barcodes              separated by ``;`` (one item each)
compartment           compartment of the order's items
===================== ==========================================================

``row`` in errors is the spreadsheet row: the header is row 1. Errors about
the file as a whole (not UTF-8, no header, unknown or missing columns, too
many rows) have row 1 or none: :func:`is_file_error` tells them apart from
errors of one data row, which a partial import can leave out.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
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


def is_file_error(error: FieldError) -> bool:
    """Whether ``error`` is about the whole file rather than one data row."""
    return error.row is None or error.row <= 1


def parse_orders_csv(
    data: bytes | str,
    *,
    dimensions: Sequence[str],
    timezone: str = "UTC",
    date: dt.date | None = None,
    external_ids: dict[int, str] | None = None,
) -> tuple[list[ParsedRow], list[FieldError]]:
    """Parse a whole file; returns the clean rows and every error found (all rows
    are checked, not only up to the first error). ``external_ids``, when given,
    receives the external_id written on every data row, by row number."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return [], [FieldError(reason=f"the file is not UTF-8 text ({exc.reason})")]
    else:
        text = data.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\x00extra")
    if not reader.fieldnames:
        return [], [FieldError(reason="the file is empty: expected a header row")]
    header = [(name or "").strip().lower() for name in reader.fieldnames]
    reader.fieldnames = header
    errors: list[FieldError] = []
    dims = [d.lower() for d in dimensions]
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
        return [], errors

    tz = ZoneInfo(timezone)
    parsed: list[ParsedRow] = []
    seen: dict[str, int] = {}
    for index, values in enumerate(_readable(reader, errors)):
        number = index + 2
        if index >= MAX_ROWS:
            errors.append(
                FieldError(
                    reason=f"more than {MAX_ROWS} data rows (row {number} onwards); split it"
                )
            )
            break
        row = _Row(number, {k: v or "" for k, v in values.items() if isinstance(v, str)}, tz, date)
        if values.get("\x00extra"):
            row.error("", "the row has more fields than the header")
        if not any(row.text(c) for c in header):
            continue  # blank line
        if external_ids is not None:
            external_ids[number] = row.text("external_id")
        order = _parse_row(row, dims, seen)
        errors.extend(row.errors)
        if order is not None and not row.errors:
            parsed.append(ParsedRow(number, order))
    if not parsed and not errors:
        errors.append(FieldError(reason="the file has a header but no data rows"))
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
