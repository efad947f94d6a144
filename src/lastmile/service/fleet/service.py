"""Vehicle types, vehicles, drivers and shifts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.service.auth.models import Role, User
from lastmile.service.crud import apply_changes, get_owned, list_owned
from lastmile.service.db import TenantBase
from lastmile.service.depots.models import Depot
from lastmile.service.errors import Conflict
from lastmile.service.fleet.models import Driver, Shift, Vehicle, VehicleType
from lastmile.service.fleet.schemas import (
    DriverIn,
    DriverUpdate,
    ShiftIn,
    ShiftUpdate,
    VehicleIn,
    VehicleTypeIn,
    VehicleTypeUpdate,
    VehicleUpdate,
)
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
    _check_vehicle_refs(session, row.org_id, row)
    session.commit()
    return row


def delete_vehicle(session: Session, *, row: Vehicle) -> None:
    if session.scalar(select(Route.id).where(Route.vehicle_id == row.id)) is not None:
        raise Conflict("vehicle has routes in plans; deactivate it instead")
    session.delete(row)
    session.commit()


# -- drivers -----------------------------------------------------------------------------


def _check_driver_user(session: Session, org_id: uuid.UUID, driver: Driver) -> None:
    if driver.user_id is None:
        return
    user = session.get(User, driver.user_id)
    if user is None or user.org_id != org_id:
        raise InputError(f"no such user {driver.user_id}", where="user_id")
    if user.role != Role.DRIVER:
        raise InputError(f"user {user.email} has role {user.role}, not driver", where="user_id")
    other = session.scalar(
        select(Driver.id).where(Driver.user_id == driver.user_id, Driver.id != driver.id)
    )
    if other is not None:
        raise Conflict(f"user {user.email} is already linked to another driver")


def create_driver(session: Session, *, org_id: uuid.UUID, data: DriverIn) -> Driver:
    row = Driver(org_id=org_id, id=uuid.uuid4(), **data.model_dump())
    _check_driver_user(session, org_id, row)
    session.add(row)
    session.commit()
    return row


def get_driver(session: Session, *, org_id: uuid.UUID, driver_id: uuid.UUID) -> Driver:
    return get_owned(session, Driver, org_id=org_id, id=driver_id, what="driver")


def list_drivers(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[Driver]:
    return list_owned(session, Driver, org_id=org_id, limit=limit, offset=offset)


def update_driver(session: Session, *, row: Driver, changes: DriverUpdate) -> Driver:
    apply_changes(row, changes)
    _check_driver_user(session, row.org_id, row)
    session.commit()
    return row


def delete_driver(session: Session, *, row: Driver) -> None:
    session.delete(row)
    session.commit()


# -- shifts ------------------------------------------------------------------------------


def create_shift(session: Session, *, org_id: uuid.UUID, data: ShiftIn) -> Shift:
    _check_ref(session, Driver, org_id, data.driver_id, "driver_id")
    _check_ref(session, Vehicle, org_id, data.vehicle_id, "vehicle_id")
    row = Shift(org_id=org_id, **data.model_dump())
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
    _check_ref(session, Vehicle, row.org_id, changes.vehicle_id, "vehicle_id")
    apply_changes(row, changes)
    if row.end_at <= row.start_at:
        raise InputError("must be after start_at", where="end_at")
    session.commit()
    return row


def delete_shift(session: Session, *, row: Shift) -> None:
    session.delete(row)
    session.commit()
