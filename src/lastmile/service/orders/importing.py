"""Importing orders from CSV: all or nothing, or partial; re-imports that respect
what customers changed through their tracking link.

The file is read as a stream: rows are parsed, placed (geocoded where needed,
see :mod:`.placement`), checked and written (flushed) a batch at a time, in one
transaction that is committed only at the end, so memory stays that of a
batch whatever the file's size, and a file that fails leaves nothing behind.
(On SQLite the database's write lock is held from the first batch written to
the end of the import.)

* ``all_or_nothing`` (the default): any row error fails the whole import with
  every ``(row, column, reason)`` (of the first ``MAX_REPORTED_ROWS`` rows
  with errors); nothing is written.
* ``partial``: the good rows are imported and the bad ones come back in
  ``rejected`` with their errors (the first ``MAX_REPORTED_ROWS``;
  ``rejected_count`` counts them all). Errors about the file itself (not UTF-8,
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
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind
from lastmile.operations import OrderStatus
from lastmile.service.errors import Conflict, FieldError, Unprocessable
from lastmile.service.geocoding import GeocodeFn
from lastmile.service.notifications.models import CustomerReply
from lastmile.service.orders.csv_import import CsvFileError, RowOutcome, read_orders_csv
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
    data: bytes | BinaryIO,
    date: dt.date | None,
    geocode: GeocodeFn | None,
    review_below: float,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    dry_run: bool = False,
) -> ImportResult:
    """Import a CSV file (see the module docstring), read and written
    :data:`BATCH_ROWS` rows at a time in one transaction. Geocoded stops whose
    confidence is below ``review_below`` are flagged for review and listed in
    the result. Raises :class:`Unprocessable` with the errors (at most
    :data:`MAX_REPORTED_ROWS` rows of them) when the file cannot be read, or
    when a row has errors in ``all_or_nothing`` mode; nothing is written then."""
    result = ImportResult(
        mode=mode, created=0, updated=0, unchanged=0, order_ids=[], dry_run=dry_run
    )
    rejections = _Rejections()
    kept = set(session.identity_map.keys())  # what the caller had loaded stays
    cache: GeocodeCache = {}
    rows = read_orders_csv(data, dimensions=org.dimensions, timezone=org.timezone, date=date)
    try:
        with closing(rows):
            for batch in _batches(rows, BATCH_ROWS):
                staged = _stage(
                    session,
                    org,
                    batch,
                    rejections,
                    geocode=geocode,
                    review_below=review_below,
                    cache=cache,
                )
                if rejections.count and mode is ImportMode.ALL_OR_NOTHING:
                    # nothing will be written: only look for the other errors
                    if rejections.count > MAX_REPORTED_ROWS:
                        break  # enough to show
                else:
                    for item in staged:
                        _record(session, org, result, item, dry_run=dry_run)
                    if not dry_run:
                        session.flush()
                _forget(session, kept)
    except CsvFileError as exc:
        session.rollback()
        raise Unprocessable(_nothing_imported(exc.errors), _sorted(exc.errors)) from None
    except IntegrityError:
        session.rollback()
        raise Conflict("another request changed the same orders; try again") from None
    except BaseException:
        session.rollback()
        raise
    if rejections.count and mode is ImportMode.ALL_OR_NOTHING:
        session.rollback()
        raise Unprocessable(rejections.summary(), rejections.errors())
    result.rejected = rejections.rows
    result.rejected_count = rejections.count
    if dry_run:
        session.rollback()
    else:
        commit(session)
    return result


#: Rows read, placed, checked and written together (memory stays that of a batch).
BATCH_ROWS = 1000
#: Most rows with errors listed in an answer (the count given is exact, unless an
#: all-or-nothing import stops looking: then "more than" this many).
MAX_REPORTED_ROWS = 1000


@dataclass
class _Rejections:
    """Rows with errors: how many, and the first :data:`MAX_REPORTED_ROWS` of them."""

    count: int = 0
    rows: list[RejectedRow] = field(default_factory=list)

    def add(self, row: int, external_id: str, errors: list[FieldError]) -> None:
        self.count += 1
        if len(self.rows) < MAX_REPORTED_ROWS:
            self.rows.append(
                RejectedRow(
                    row=row,
                    external_id=external_id,
                    errors=[
                        ErrorItem(reason=e.reason, column=e.column, row=e.row)
                        for e in _sorted(errors)
                    ],
                )
            )

    def errors(self) -> list[FieldError]:
        """The errors of the rows listed, by row and column."""
        return [
            FieldError(reason=e.reason, column=e.column, row=e.row)
            for r in self.rows
            for e in r.errors
        ]

    def summary(self) -> str:
        if self.count > MAX_REPORTED_ROWS:
            return (
                f"more than {MAX_REPORTED_ROWS} rows have errors (the first "
                f"{MAX_REPORTED_ROWS} are listed); nothing was imported"
            )
        return f"{self.count} row(s) have errors; nothing was imported"


def _batches(rows: Iterator[RowOutcome], size: int) -> Iterator[list[RowOutcome]]:
    batch: list[RowOutcome] = []
    for outcome in rows:
        batch.append(outcome)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _stage(
    session: Session,
    org: Organisation,
    batch: list[RowOutcome],
    rejections: _Rejections,
    *,
    geocode: GeocodeFn | None,
    review_below: float,
    cache: GeocodeCache,
) -> list[_Staged]:
    """Place and check the rows of ``batch``; the rows to write, with what
    writing each does (rows with errors go to ``rejections``)."""
    for outcome in batch:
        if outcome.errors:
            rejections.add(outcome.row, outcome.external_id, outcome.errors)
    rows = [o for o in batch if o.order is not None and not o.errors]
    existing = by_external_id(session, org.id, [o.external_id for o in rows])
    customer = _customer_changes(session, existing.values())
    staged: list[_Staged] = []
    for outcome in rows:
        given = outcome.order
        assert given is not None
        current = existing.get(given.external_id or "")
        main = "pickup_address" if given.kind is OrderKind.SHIPMENT else "address"
        located, placements, row_errors = locate(
            given,
            geocode,
            review_below=review_below,
            current=current,
            row=outcome.row,
            columns={"pickup": main, "delivery": "address"},
            cache=cache,
        )
        row_errors += check_order(session, org, located, row=outcome.row)
        if row_errors:
            rejections.add(outcome.row, outcome.external_id, row_errors)
            continue
        if current is None:
            staged.append(_Staged(outcome.row, None, located, given, placements, "created"))
            continue
        kept, conflicts = _keep_customer_values(
            current, located, customer.get(current.id), row=outcome.row
        )
        if content_of(current).model_dump() == kept.model_dump():
            result: Literal["updated", "unchanged"] = "unchanged"
        elif not OrderStatus(current.status).is_editable:
            error = FieldError(
                reason=f"order {given.external_id!r} is {current.status}; "
                "it can no longer be changed",
                column="external_id",
                row=outcome.row,
            )
            rejections.add(outcome.row, outcome.external_id, [error])
            continue
        else:
            result = "updated"
        staged.append(_Staged(outcome.row, current, kept, given, placements, result, conflicts))
    return staged


def _record(
    session: Session, org: Organisation, result: ImportResult, item: _Staged, *, dry_run: bool
) -> None:
    """Write ``item`` (unless a dry run) and count it in ``result``."""
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


def _forget(session: Session, kept: set[Any]) -> None:
    """Let go of the orders a written batch loaded or made (they are flushed):
    the session keeps only what it held before the import."""
    for key in list(session.identity_map.keys()):
        if key not in kept:
            row = session.identity_map.get(key)
            if row is not None:
                session.expunge(row)


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
