"""Vehicle types, vehicles, drivers and shifts."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.service.auth.models import Role, User
from lastmile.service.crud import apply_changes, get_owned, list_owned
from lastmile.service.db import TenantBase
from lastmile.service.depots.models import Depot
from lastmile.service.errors import Conflict, FieldError, Unprocessable
from lastmile.service.fleet.breaks import break_problems, check_breaks, stored, windows
from lastmile.service.fleet.models import Driver, Shift, Vehicle, VehicleType
from lastmile.service.fleet.schemas import (
    BreakIn,
    DriverIn,
    DriverUpdate,
    ShiftImportResult,
    ShiftIn,
    ShiftOut,
    ShiftUpdate,
    VehicleIn,
    VehicleTypeIn,
    VehicleTypeUpdate,
    VehicleUpdate,
)
from lastmile.service.fleet.shift_import import parse_shifts
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Route
from lastmile.travel.network.profiles import PROFILE_NAMES


def _check_capacity(session: Session, org_id: uuid.UUID, capacity: list[int]) -> None:
    org = session.get(Organisation, org_id)
    assert org is not None
    if capacity and len(capacity) != len(org.dimensions):
        raise InputError(
            f"has {len(capacity)} values for the organisation's {len(org.dimensions)} "
            f"dimensions ({', '.join(org.dimensions)})",
            where="capacity",
        )
    if any(c < 0 for c in capacity):
        raise InputError("values must be >= 0", where="capacity")


def _check_profile(profile: str) -> None:
    if profile not in PROFILE_NAMES:
        raise InputError(
            f"unknown profile {profile!r}; known: {', '.join(PROFILE_NAMES)}", where="profile"
        )


def _check_ref(
    session: Session, model: type[TenantBase], org_id: uuid.UUID, id: uuid.UUID | None, field: str
) -> None:
    if id is None:
        return
    row = session.get(model, id)
    if row is None or row.org_id != org_id:
        raise InputError(f"no such {model.__tablename__[:-1].replace('_', ' ')} {id}", where=field)


# -- vehicle types -------------------------------------------------------------------------


def create_vehicle_type(session: Session, *, org_id: uuid.UUID, data: VehicleTypeIn) -> VehicleType:
    _check_capacity(session, org_id, data.capacity)
    _check_profile(data.profile)
    row = VehicleType(org_id=org_id, **data.model_dump())
    session.add(row)
    session.commit()
    return row


def get_vehicle_type(session: Session, *, org_id: uuid.UUID, type_id: uuid.UUID) -> VehicleType:
    return get_owned(session, VehicleType, org_id=org_id, id=type_id, what="vehicle type")


def list_vehicle_types(
    session: Session, *, org_id: uuid.UUID, limit: int, offset: int
) -> list[VehicleType]:
    return list_owned(session, VehicleType, org_id=org_id, limit=limit, offset=offset)


def update_vehicle_type(
    session: Session, *, row: VehicleType, changes: VehicleTypeUpdate
) -> VehicleType:
    if changes.capacity is not None:
        _check_capacity(session, row.org_id, changes.capacity)
    if changes.profile is not None:
        _check_profile(changes.profile)
    apply_changes(row, changes)
    session.commit()
    return row


def delete_vehicle_type(session: Session, *, row: VehicleType) -> None:
    if session.scalar(select(Vehicle.id).where(Vehicle.type_id == row.id)) is not None:
        raise Conflict("vehicle type is used by vehicles")
    session.delete(row)
    session.commit()


# -- vehicles ----------------------------------------------------------------------------


def _check_vehicle_refs(session: Session, org_id: uuid.UUID, vehicle: Vehicle) -> None:
    _check_ref(session, VehicleType, org_id, vehicle.type_id, "type_id")
    _check_ref(session, Depot, org_id, vehicle.depot_id, "depot_id")
    _check_ref(session, Depot, org_id, vehicle.end_depot_id, "end_depot_id")


def create_vehicle(session: Session, *, org_id: uuid.UUID, data: VehicleIn) -> Vehicle:
    row = Vehicle(org_id=org_id, **data.model_dump())
    _check_vehicle_refs(session, org_id, row)
    session.add(row)
    session.commit()
    return row


def get_vehicle(session: Session, *, org_id: uuid.UUID, vehicle_id: uuid.UUID) -> Vehicle:
    return get_owned(session, Vehicle, org_id=org_id, id=vehicle_id, what="vehicle")


def list_vehicles(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[Vehicle]:
    return list_owned(session, Vehicle, org_id=org_id, limit=limit, offset=offset)


def update_vehicle(session: Session, *, row: Vehicle, changes: VehicleUpdate) -> Vehicle:
    apply_changes(row, changes)
    # Checked before the change is flushed: the database would refuse an unknown depot
    # or type first, with an integrity error instead of the field's name.
    with session.no_autoflush:
        _check_vehicle_refs(session, row.org_id, row)
    session.commit()
    return row


def delete_vehicle(session: Session, *, row: Vehicle) -> None:
    if session.scalar(select(Route.id).where(Route.vehicle_id == row.id)) is not None:
        raise Conflict("vehicle has routes in plans; deactivate it instead")
    session.delete(row)
    session.commit()


# -- drivers -----------------------------------------------------------------------------


def _check_driver_user(
    session: Session, org_id: uuid.UUID, user_id: uuid.UUID | None, driver_id: uuid.UUID
) -> None:
    """``user_id`` may become driver ``driver_id``'s account (checked before the
    driver row changes, so that nothing unflushed reaches the database)."""
    if user_id is None:
        return
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise InputError(f"no such user {user_id}", where="user_id")
    if user.role != Role.DRIVER:
        raise InputError(f"user {user.email} has role {user.role}, not driver", where="user_id")
    other = session.scalar(
        select(Driver.id).where(Driver.user_id == user_id, Driver.id != driver_id)
    )
    if other is not None:
        raise Conflict(f"user_id: user {user.email} is already linked to another driver")


def create_driver(session: Session, *, org_id: uuid.UUID, data: DriverIn) -> Driver:
    row = Driver(org_id=org_id, id=uuid.uuid4(), **data.model_dump())
    _check_driver_user(session, org_id, row.user_id, row.id)
    session.add(row)
    session.commit()
    return row


def get_driver(session: Session, *, org_id: uuid.UUID, driver_id: uuid.UUID) -> Driver:
    return get_owned(session, Driver, org_id=org_id, id=driver_id, what="driver")


def list_drivers(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[Driver]:
    return list_owned(session, Driver, org_id=org_id, limit=limit, offset=offset)


def update_driver(session: Session, *, row: Driver, changes: DriverUpdate) -> Driver:
    if "user_id" in changes.model_fields_set:
        _check_driver_user(session, row.org_id, changes.user_id, row.id)
    apply_changes(row, changes)
    session.commit()
    return row


def delete_driver(session: Session, *, row: Driver) -> None:
    session.delete(row)
    session.commit()


# -- shifts ------------------------------------------------------------------------------


def create_shift(session: Session, *, org_id: uuid.UUID, data: ShiftIn) -> Shift:
    _check_ref(session, Driver, org_id, data.driver_id, "driver_id")
    _check_ref(session, Vehicle, org_id, data.vehicle_id, "vehicle_id")
    check_breaks(data.start_at, data.end_at, data.breaks)
    row = Shift(org_id=org_id, **data.model_dump(exclude={"breaks"}), breaks=stored(data.breaks))
    session.add(row)
    session.commit()
    return row


def get_shift(session: Session, *, org_id: uuid.UUID, shift_id: uuid.UUID) -> Shift:
    return get_owned(session, Shift, org_id=org_id, id=shift_id, what="shift")


def list_shifts(
    session: Session,
    *,
    org_id: uuid.UUID,
    limit: int,
    offset: int,
    driver_id: uuid.UUID | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Shift]:
    """Shifts, optionally of one driver and overlapping ``[start, end)``."""
    stmt = select(Shift).where(Shift.org_id == org_id)
    if driver_id is not None:
        stmt = stmt.where(Shift.driver_id == driver_id)
    if start is not None:
        stmt = stmt.where(Shift.end_at > start)
    if end is not None:
        stmt = stmt.where(Shift.start_at < end)
    stmt = stmt.order_by(Shift.start_at, Shift.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def update_shift(session: Session, *, row: Shift, changes: ShiftUpdate) -> Shift:
    """Change a shift; breaks given replace all of them, and every break must still
    fit the (possibly moved) shift."""
    _check_ref(session, Vehicle, row.org_id, changes.vehicle_id, "vehicle_id")
    new_breaks = changes.breaks
    apply_changes(row, changes.model_copy(update={"breaks": None}))
    if row.end_at <= row.start_at:
        raise InputError("must be after start_at", where="end_at")
    if new_breaks is not None:
        check_breaks(row.start_at, row.end_at, new_breaks)
        row.breaks = stored(new_breaks)
    else:
        check_breaks(row.start_at, row.end_at, _as_breaks_in(row.breaks))
    session.commit()
    return row


def _as_breaks_in(raw: list[dict[str, Any]]) -> list[BreakIn]:
    return [
        BreakIn(id=i, window_start=s, window_end=e, duration_s=d) for i, s, e, d in windows(raw)
    ]


def shift_out(row: Shift) -> ShiftOut:
    """The answer for a stored shift."""
    return ShiftOut.model_validate(row)


# -- shift import --------------------------------------------------------------------------

#: CSV columns that hold a break's fields (JSON names them ``breaks[i].<field>``).
_CSV_BREAK_COLUMNS = {
    "id": "break_start",
    "window_start": "break_start",
    "window_end": "break_end",
    "duration_s": "break_min",
}


def _resolver(
    session: Session, model: type[Driver] | type[Vehicle], org_id: uuid.UUID
) -> Callable[[str], uuid.UUID | str]:
    """A function from a reference (id, name or registration) to the row's id, or why not."""
    rows: list[Driver | Vehicle] = list(
        session.scalars(select(model).where(model.org_id == org_id))
    )
    by_id = {r.id: r for r in rows}
    names: dict[str, list[uuid.UUID]] = {}
    for r in rows:
        keys = {r.name.strip().casefold()}
        if isinstance(r, Vehicle) and r.registration:
            keys.add(r.registration.strip().casefold())
        for key in keys:
            names.setdefault(key, []).append(r.id)
    what = model.__tablename__[:-1]

    def resolve(ref: str) -> uuid.UUID | str:
        try:
            as_id = uuid.UUID(ref)
        except ValueError:
            found = names.get(ref.casefold(), [])
            if len(found) == 1:
                return found[0]
            if found:
                return f"{len(found)} {what}s are called {ref!r}: give the id"
            return f"no {what} {ref!r}"
        return as_id if as_id in by_id else f"no {what} {ref}"

    return resolve


def import_shifts(
    session: Session,
    *,
    org_id: uuid.UUID,
    data: bytes,
    fmt: str,
    date: dt.date | None,
    dry_run: bool = False,
) -> ShiftImportResult:
    """Import shifts (with their breaks) from CSV or JSON, all or nothing.

    Every row is parsed and checked (driver and vehicle exist, the breaks fit
    the shift, no two rows for one driver overlap) before anything is written;
    any problem fails the whole import with the list of ``(row, column,
    reason)``. A row for a driver who already has a shift starting at the same
    time updates that shift (vehicle, end, breaks) instead of adding one, so
    re-importing a file never duplicates.
    """
    if fmt not in ("csv", "json"):
        raise InputError(f"unknown format {fmt!r}; choose csv or json", where="format")
    org = session.get(Organisation, org_id)
    assert org is not None
    rows, errors = parse_shifts(data, fmt=fmt, timezone=org.timezone, date=date)
    drivers = _resolver(session, Driver, org.id)
    vehicles = _resolver(session, Vehicle, org.id)
    resolved: list[tuple[int, ShiftIn]] = []
    for parsed in rows:
        row_errors: list[FieldError] = []
        driver = drivers(parsed.driver)
        if isinstance(driver, str):
            row_errors.append(FieldError(reason=driver, column="driver", row=parsed.row))
        vehicle: uuid.UUID | str | None = vehicles(parsed.vehicle) if parsed.vehicle else None
        if isinstance(vehicle, str):
            row_errors.append(FieldError(reason=vehicle, column="vehicle", row=parsed.row))
        for column, reason in break_problems(parsed.start_at, parsed.end_at, parsed.breaks):
            if fmt == "csv":
                index, _, name = column.removeprefix("breaks[").partition("].")
                column = _CSV_BREAK_COLUMNS[name]
                reason = f"break {int(index) + 1}: {reason}"
            row_errors.append(FieldError(reason=reason, column=column, row=parsed.row))
        errors += row_errors
        if row_errors:
            continue
        assert isinstance(driver, uuid.UUID) and not isinstance(vehicle, str)
        shift = ShiftIn(
            driver_id=driver,
            vehicle_id=vehicle,
            start_at=parsed.start_at,
            end_at=parsed.end_at,
            breaks=parsed.breaks,
        )
        resolved.append((parsed.row, shift))
    errors += _overlaps(resolved)
    existing = {
        (s.driver_id, _utc(s.start_at)): s
        for s in session.scalars(
            select(Shift).where(
                Shift.org_id == org.id, Shift.driver_id.in_({s.driver_id for _, s in resolved})
            )
        )
    }
    if errors:
        errors.sort(key=lambda e: (e.row or 0, e.column))
        raise Unprocessable(
            f"{len({e.row for e in errors})} row(s) have errors; nothing was imported", errors
        )
    created = updated = unchanged = 0
    ids: list[uuid.UUID] = []
    for _, shift in resolved:
        current = existing.get((shift.driver_id, shift.start_at))
        content = {
            "vehicle_id": shift.vehicle_id,
            "end_at": shift.end_at,
            "breaks": stored(shift.breaks),
        }
        if current is None:
            created += 1
            if not dry_run:
                new = Shift(
                    org_id=org.id,
                    driver_id=shift.driver_id,
                    start_at=shift.start_at,
                    **content,
                )
                session.add(new)
                session.flush()
                ids.append(new.id)
            continue
        ids.append(current.id)
        now = {
            "vehicle_id": current.vehicle_id,
            "end_at": _utc(current.end_at),
            "breaks": list(current.breaks),
        }
        if now == content:
            unchanged += 1
            continue
        updated += 1
        if not dry_run:
            for key, value in content.items():
                setattr(current, key, value)
    if dry_run:
        session.rollback()
    else:
        session.commit()
    return ShiftImportResult(
        created=created, updated=updated, unchanged=unchanged, shift_ids=ids, dry_run=dry_run
    )


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def _overlaps(resolved: list[tuple[int, ShiftIn]]) -> list[FieldError]:
    """Rows of one driver whose shifts overlap (the later row is at fault)."""
    errors = []
    by_driver: dict[uuid.UUID, list[tuple[dt.datetime, dt.datetime, int]]] = {}
    for row, s in resolved:
        by_driver.setdefault(s.driver_id, []).append((s.start_at, s.end_at, row))
    for spans in by_driver.values():
        spans.sort()
        for (_, end_a, row_a), (start_b, _, row_b) in itertools.pairwise(spans):
            if start_b < end_a:
                errors.append(
                    FieldError(
                        reason=f"overlaps the same driver's shift in row {row_a}",
                        column="start_at",
                        row=row_b,
                    )
                )
    return errors


def delete_shift(session: Session, *, row: Shift) -> None:
    session.delete(row)
    session.commit()
