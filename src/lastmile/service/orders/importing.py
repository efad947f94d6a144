"""Importing orders from CSV: all or nothing, or partial; re-imports that respect
what customers changed through their tracking link.

Every row is parsed, placed (geocoded where needed, see :mod:`.placement`) and
checked before anything is written.

* ``all_or_nothing`` (the default): any row error fails the whole import with
  every ``(row, column, reason)``; nothing is written.
* ``partial``: the good rows are imported and the bad ones come back in
  ``rejected`` with their errors. Errors about the file itself (not UTF-8,
  unknown columns, ...) still fail the whole import.

A row whose ``external_id`` already exists updates that order if its contents
changed and it is still editable, and counts unchanged otherwise: re-importing
a file never duplicates.

A customer can change an order's instructions and the time window of their
stop through their tracking link (``notifications.record_reply``). The order
keeps those fields as staff last set them (``Order.staff_values``); a field
the customer changed since then, and which the file would overwrite, keeps
the customer's value. If the file brings a value of its own (not the one it
brought before), that is a conflict and is reported with the row, the field
and both values; re-importing the same file again reports nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind
from lastmile.operations import OrderStatus
from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.geocoding import GeocodeFn
from lastmile.service.notifications.models import CustomerReply
from lastmile.service.orders.csv_import import is_file_error, parse_orders_csv
from lastmile.service.orders.models import Order
from lastmile.service.orders.placement import (
    GeocodeCache,
    StopPlacement,
    customer_stop,
    locate,
)
from lastmile.service.orders.schemas import (
    ImportConflict,
    ImportMode,
    ImportResult,
    OrderIn,
    RejectedRow,
    ReviewRow,
    TimeWindowIn,
)
from lastmile.service.orders.service import (
    by_external_id,
    check_order,
    commit,
    content_of,
    fill_order,
    staff_values,
    windows_of,
)
from lastmile.service.orgs.models import Organisation
from lastmile.service.schemas import ErrorItem

#: Reply kinds that add to an order's instructions.
_INSTRUCTION_REPLIES = ("instructions", "leave_with_neighbour")

Window = tuple[dt.datetime, dt.datetime]


@dataclass
class _CustomerChanges:
    """What an order's customer changed through their tracking link (applied replies)."""

    instructions: bool = False
    window: Window | None = None  # the latest window they asked for and got


@dataclass
class _Staged:
    """A row that passed every check, and what writing it does."""

    row: int
    current: Order | None
    data: OrderIn  # what the order becomes (customer's values kept)
    given: OrderIn  # what the file said (the staff values from now on)
    placements: dict[str, StopPlacement]
    outcome: Literal["created", "updated", "unchanged"]
    conflicts: list[ImportConflict] = field(default_factory=list)


def import_orders(
    session: Session,
    *,
    org: Organisation,
    data: bytes,
    date: dt.date | None,
    geocode: GeocodeFn | None,
    review_below: float,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    dry_run: bool = False,
) -> ImportResult:
    """Import a CSV file (see the module docstring). Geocoded stops whose
    confidence is below ``review_below`` are flagged for review and listed in
    the result. Raises :class:`Unprocessable` with every error when the file
    cannot be read, or when a row has errors in ``all_or_nothing`` mode."""
    external_ids: dict[int, str] = {}
    rows, errors = parse_orders_csv(
        data,
        dimensions=org.dimensions,
        timezone=org.timezone,
        date=date,
        external_ids=external_ids,
    )
    if any(is_file_error(e) for e in errors):
        raise Unprocessable(_nothing_imported(errors), _sorted(errors))
    by_row: dict[int, list[FieldError]] = {}
    for error in errors:
        by_row.setdefault(error.row or 0, []).append(error)

    existing = by_external_id(session, org.id, [p.order.external_id or "" for p in rows])
    customer = _customer_changes(session, existing.values())
    cache: GeocodeCache = {}
    staged: list[_Staged] = []
    for parsed in rows:
        given = parsed.order
        current = existing.get(given.external_id or "")
        main = "pickup_address" if given.kind is OrderKind.SHIPMENT else "address"
        located, placements, row_errors = locate(
            given,
            geocode,
            review_below=review_below,
            current=current,
            row=parsed.row,
            columns={"pickup": main, "delivery": "address"},
            cache=cache,
        )
        row_errors += check_order(session, org, located, row=parsed.row)
        if row_errors:
            by_row[parsed.row] = row_errors
            continue
        if current is None:
            staged.append(_Staged(parsed.row, None, located, given, placements, "created"))
            continue
        kept, conflicts = _keep_customer_values(
            current, located, customer.get(current.id), row=parsed.row
        )
        if content_of(current).model_dump() == kept.model_dump():
            outcome: Literal["updated", "unchanged"] = "unchanged"
        elif not OrderStatus(current.status).is_editable:
            by_row[parsed.row] = [
                FieldError(
                    reason=f"order {given.external_id!r} is {current.status}; "
                    "it can no longer be changed",
                    column="external_id",
                    row=parsed.row,
                )
            ]
            continue
        else:
            outcome = "updated"
        staged.append(_Staged(parsed.row, current, kept, given, placements, outcome, conflicts))

    if by_row and mode is ImportMode.ALL_OR_NOTHING:
        every = [e for row_errors in by_row.values() for e in row_errors]
        raise Unprocessable(_nothing_imported(every), _sorted(every))

    result = ImportResult(
        mode=mode,
        created=0,
        updated=0,
        unchanged=0,
        order_ids=[],
        dry_run=dry_run,
        rejected=[
            RejectedRow(
                row=row,
                external_id=external_ids.get(row, ""),
                errors=[
                    ErrorItem(reason=e.reason, column=e.column, row=e.row)
                    for e in _sorted(by_row[row])
                ],
            )
            for row in sorted(by_row)
        ],
    )
    for item in staged:
        order = _write(org, item, dry_run=dry_run)
        if item.outcome == "created":
            result.created += 1
            if not dry_run:
                session.add(order)
        elif item.outcome == "updated":
            result.updated += 1
        else:
            result.unchanged += 1
        result.order_ids.append(order.id)
        result.conflicts.extend(item.conflicts)
        main = "pickup_address" if item.data.kind is OrderKind.SHIPMENT else "address"
        columns = {"pickup": main, "delivery": "address"}
        for stop, placement in item.placements.items():
            if placement.needs_review:
                result.needs_review.append(
                    ReviewRow(
                        row=item.row,
                        order_id=order.id,
                        column=columns[stop],
                        confidence=placement.confidence,
                        matched_address=placement.matched_address,
                    )
                )
    if dry_run:
        session.rollback()
    else:
        commit(session)
    return result


def _write(org: Organisation, item: _Staged, *, dry_run: bool) -> Order:
    """The order ``item`` creates or changes (on a dry run, a new order is built
    but not added, and an existing one is left alone)."""
    if item.current is None:
        order = Order(org_id=org.id, id=uuid.uuid4(), status=OrderStatus.PENDING.value)
        fill_order(order, item.data, item.placements)
        order.staff_values = staff_values(item.given)
        return order
    order = item.current
    if dry_run:
        return order
    if item.outcome == "updated":
        fill_order(order, item.data, item.placements)
    base = staff_values(item.given)
    if order.staff_values != base:
        order.staff_values = base
    return order


def _nothing_imported(errors: list[FieldError]) -> str:
    return f"{len({e.row for e in errors})} row(s) have errors; nothing was imported"


def _sorted(errors: list[FieldError]) -> list[FieldError]:
    return sorted(errors, key=lambda e: (e.row or 0, e.column))


# -- what customers changed -------------------------------------------------------------


def _customer_changes(
    session: Session, orders: Iterable[Order]
) -> dict[uuid.UUID, _CustomerChanges]:
    """The applied tracking-link replies of ``orders``, summed up per order."""
    ids = [o.id for o in orders]
    found: dict[uuid.UUID, _CustomerChanges] = {}
    for start in range(0, len(ids), 500):
        stmt = (
            select(CustomerReply)
            .where(CustomerReply.order_id.in_(ids[start : start + 500]))
            .where(CustomerReply.applied.is_(True))
            .order_by(CustomerReply.created_at)
        )
        for reply in session.scalars(stmt):
            changes = found.setdefault(reply.order_id, _CustomerChanges())
            if reply.kind in _INSTRUCTION_REPLIES:
                changes.instructions = True
            elif (
                reply.kind == "new_window"
                and reply.window_start is not None
                and reply.window_end is not None
            ):
                changes.window = (reply.window_start, reply.window_end)
    return found


def _keep_customer_values(
    current: Order, data: OrderIn, changes: _CustomerChanges | None, *, row: int
) -> tuple[OrderIn, list[ImportConflict]]:
    """``data`` with the customer's values kept where the customer changed a field
    since staff last set it, and the conflicts: the file brings a value of its
    own (not the one staff last set) for such a field."""
    if changes is None:
        return data, []
    base = current.staff_values
    conflicts: list[ImportConflict] = []

    def conflict(name: str, customer_value: str, file_value: str) -> None:
        conflicts.append(
            ImportConflict(
                row=row,
                external_id=current.external_id or "",
                order_id=current.id,
                field=name,
                customer_value=customer_value,
                file_value=file_value,
            )
        )

    staff_instructions = base.get("instructions") if base is not None else None
    if (
        changes.instructions
        and current.instructions != staff_instructions
        and data.instructions != current.instructions
    ):
        if data.instructions != staff_instructions:
            conflict("instructions", current.instructions, data.instructions)
        data = data.model_copy(update={"instructions": current.instructions})

    name = customer_stop(current.kind)
    stop = getattr(data, name)
    if changes.window is None or stop is None or data.kind.value != current.kind:
        return data, conflicts
    now = windows_of(getattr(current, f"{name}_windows"))
    staff = windows_of(base["windows"]) if base is not None and "windows" in base else None
    from_file = [(w.start, w.end) for w in stop.time_windows]
    if now == [changes.window] and now != staff and from_file != now:
        if from_file != staff:
            conflict("time_windows", _windows_text(now), _windows_text(from_file))
        kept = [TimeWindowIn(start=s, end=e) for s, e in now]
        data = data.model_copy(update={name: stop.model_copy(update={"time_windows": kept})})
    return data, conflicts


def _windows_text(windows: list[Window]) -> str:
    return "; ".join(
        f"{s.astimezone(dt.UTC).isoformat()}/{e.astimezone(dt.UTC).isoformat()}" for s, e in windows
    )
