"""Routes: /vehicle-types, /vehicles, /drivers, /shifts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, UploadFile, status

from lastmile.service.deps import PageDep, SessionDep, StaffUser
from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.fleet import service
from lastmile.service.fleet.models import Driver, Shift, Vehicle, VehicleType
from lastmile.service.fleet.schemas import (
    DriverIn,
    DriverOut,
    DriverUpdate,
    ShiftImportResult,
    ShiftIn,
    ShiftOut,
    ShiftUpdate,
    VehicleIn,
    VehicleOut,
    VehicleTypeIn,
    VehicleTypeOut,
    VehicleTypeUpdate,
    VehicleUpdate,
)
from lastmile.service.schemas import AwareDatetime, Day

router = APIRouter(tags=["fleet"])

#: Largest shift file accepted by the import.
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def vehicle_type_dep(type_id: uuid.UUID, user: StaffUser, session: SessionDep) -> VehicleType:
    return service.get_vehicle_type(session, org_id=user.org_id, type_id=type_id)


def vehicle_dep(vehicle_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Vehicle:
    return service.get_vehicle(session, org_id=user.org_id, vehicle_id=vehicle_id)


def driver_dep(driver_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Driver:
    return service.get_driver(session, org_id=user.org_id, driver_id=driver_id)


def shift_dep(shift_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Shift:
    return service.get_shift(session, org_id=user.org_id, shift_id=shift_id)


VehicleTypeDep = Annotated[VehicleType, Depends(vehicle_type_dep)]
VehicleDep = Annotated[Vehicle, Depends(vehicle_dep)]
DriverDep = Annotated[Driver, Depends(driver_dep)]
ShiftDep = Annotated[Shift, Depends(shift_dep)]


# -- vehicle types -----------------------------------------------------------------------


@router.get("/vehicle-types", response_model=list[VehicleTypeOut])
def list_vehicle_types(user: StaffUser, session: SessionDep, page: PageDep) -> list[VehicleTypeOut]:
    """Vehicle types of the organisation."""
    rows = service.list_vehicle_types(
        session, org_id=user.org_id, limit=page.limit, offset=page.offset
    )
    return [VehicleTypeOut.model_validate(r) for r in rows]


@router.post("/vehicle-types", response_model=VehicleTypeOut, status_code=status.HTTP_201_CREATED)
def create_vehicle_type(
    body: VehicleTypeIn, user: StaffUser, session: SessionDep
) -> VehicleTypeOut:
    """Add a vehicle type. Capacity lists one value per organisation dimension."""
    row = service.create_vehicle_type(session, org_id=user.org_id, data=body)
    return VehicleTypeOut.model_validate(row)


@router.get("/vehicle-types/{type_id}", response_model=VehicleTypeOut)
def read_vehicle_type(row: VehicleTypeDep) -> VehicleTypeOut:
    """One vehicle type."""
    return VehicleTypeOut.model_validate(row)


@router.patch("/vehicle-types/{type_id}", response_model=VehicleTypeOut)
def update_vehicle_type(
    body: VehicleTypeUpdate, row: VehicleTypeDep, session: SessionDep
) -> VehicleTypeOut:
    """Change a vehicle type."""
    return VehicleTypeOut.model_validate(
        service.update_vehicle_type(session, row=row, changes=body)
    )


@router.delete("/vehicle-types/{type_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_vehicle_type(row: VehicleTypeDep, session: SessionDep) -> None:
    """Delete a vehicle type no vehicle uses (409 otherwise)."""
    service.delete_vehicle_type(session, row=row)


# -- vehicles ----------------------------------------------------------------------------


@router.get("/vehicles", response_model=list[VehicleOut])
def list_vehicles(user: StaffUser, session: SessionDep, page: PageDep) -> list[VehicleOut]:
    """Vehicles of the organisation."""
    rows = service.list_vehicles(session, org_id=user.org_id, limit=page.limit, offset=page.offset)
    return [VehicleOut.model_validate(r) for r in rows]


@router.post("/vehicles", response_model=VehicleOut, status_code=status.HTTP_201_CREATED)
def create_vehicle(body: VehicleIn, user: StaffUser, session: SessionDep) -> VehicleOut:
    """Add a vehicle."""
    return VehicleOut.model_validate(service.create_vehicle(session, org_id=user.org_id, data=body))


@router.get("/vehicles/{vehicle_id}", response_model=VehicleOut)
def read_vehicle(row: VehicleDep) -> VehicleOut:
    """One vehicle."""
    return VehicleOut.model_validate(row)


@router.patch("/vehicles/{vehicle_id}", response_model=VehicleOut)
def update_vehicle(body: VehicleUpdate, row: VehicleDep, session: SessionDep) -> VehicleOut:
    """Change a vehicle."""
    return VehicleOut.model_validate(service.update_vehicle(session, row=row, changes=body))


@router.delete("/vehicles/{vehicle_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_vehicle(row: VehicleDep, session: SessionDep) -> None:
    """Delete a vehicle that has no routes (409 otherwise: deactivate it)."""
    service.delete_vehicle(session, row=row)


# -- drivers -----------------------------------------------------------------------------


@router.get("/drivers", response_model=list[DriverOut])
def list_drivers(user: StaffUser, session: SessionDep, page: PageDep) -> list[DriverOut]:
    """Drivers of the organisation."""
    rows = service.list_drivers(session, org_id=user.org_id, limit=page.limit, offset=page.offset)
    return [DriverOut.model_validate(r) for r in rows]


@router.post("/drivers", response_model=DriverOut, status_code=status.HTTP_201_CREATED)
def create_driver(body: DriverIn, user: StaffUser, session: SessionDep) -> DriverOut:
    """Add a driver, optionally linked to a user with the driver role."""
    return DriverOut.model_validate(service.create_driver(session, org_id=user.org_id, data=body))


@router.get("/drivers/{driver_id}", response_model=DriverOut)
def read_driver(row: DriverDep) -> DriverOut:
    """One driver."""
    return DriverOut.model_validate(row)


@router.patch("/drivers/{driver_id}", response_model=DriverOut)
def update_driver(body: DriverUpdate, row: DriverDep, session: SessionDep) -> DriverOut:
    """Change a driver."""
    return DriverOut.model_validate(service.update_driver(session, row=row, changes=body))


@router.delete("/drivers/{driver_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_driver(row: DriverDep, session: SessionDep) -> None:
    """Delete a driver and their shifts (their past routes keep no driver)."""
    service.delete_driver(session, row=row)


# -- shifts ------------------------------------------------------------------------------


@router.get("/shifts", response_model=list[ShiftOut])
def list_shifts(
    user: StaffUser,
    session: SessionDep,
    page: PageDep,
    driver_id: Annotated[uuid.UUID | None, Query(description="Only this driver's.")] = None,
    start: Annotated[AwareDatetime | None, Query(description="Shifts ending after.")] = None,
    end: Annotated[AwareDatetime | None, Query(description="Shifts starting before.")] = None,
) -> list[ShiftOut]:
    """Shifts, by start time; filter by driver and by overlap with [start, end)."""
    rows = service.list_shifts(
        session,
        org_id=user.org_id,
        limit=page.limit,
        offset=page.offset,
        driver_id=driver_id,
        start=start,
        end=end,
    )
    return [service.shift_out(r) for r in rows]


@router.post("/shifts", response_model=ShiftOut, status_code=status.HTTP_201_CREATED)
def create_shift(body: ShiftIn, user: StaffUser, session: SessionDep) -> ShiftOut:
    """Add a shift: a driver's working time, the vehicle they drive and their breaks."""
    return service.shift_out(service.create_shift(session, org_id=user.org_id, data=body))


@router.post("/shifts/import", response_model=ShiftImportResult)
def import_shifts(
    user: StaffUser,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV or JSON file, UTF-8, one shift per row.")],
    format: Annotated[
        Literal["auto", "csv", "json"],
        Query(description="auto: JSON for a .json file or application/json, else CSV."),
    ] = "auto",
    date: Annotated[Day | None, Query(description="Day that HH:MM times refer to.")] = None,
    dry_run: Annotated[bool, Query(description="Check everything, write nothing.")] = False,
) -> ShiftImportResult:
    """Import shifts with their breaks from CSV or JSON, all or nothing (see docs/api.md).

    Errors come back as 422 with one entry per problem: row, column and reason.
    A row for a driver who already has a shift starting at that time updates it.
    """
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise Unprocessable(
            "file too large", [FieldError(reason=f"more than {MAX_IMPORT_BYTES} bytes")]
        )
    fmt: str = format
    if fmt == "auto":
        is_json = (file.filename or "").lower().endswith(".json") or (
            file.content_type or ""
        ).startswith("application/json")
        fmt = "json" if is_json else "csv"
    return service.import_shifts(
        session, org_id=user.org_id, data=data, fmt=fmt, date=date, dry_run=dry_run
    )


@router.get("/shifts/{shift_id}", response_model=ShiftOut)
def read_shift(row: ShiftDep) -> ShiftOut:
    """One shift."""
    return service.shift_out(row)


@router.patch("/shifts/{shift_id}", response_model=ShiftOut)
def update_shift(body: ShiftUpdate, row: ShiftDep, session: SessionDep) -> ShiftOut:
    """Change a shift."""
    return service.shift_out(service.update_shift(session, row=row, changes=body))


@router.delete("/shifts/{shift_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_shift(row: ShiftDep, session: SessionDep) -> None:
    """Delete a shift."""
    service.delete_shift(session, row=row)
