"""Vehicle type, vehicle, driver and shift schemas."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import Field, model_validator

from lastmile.service.schemas import ApiModel, AwareDatetime


class VehicleTypeIn(ApiModel):
    """A kind of vehicle: what it carries, what it can do, what it costs."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    capacity: list[int] = Field(
        default_factory=list,
        description="Capacity per organisation dimension (empty: unlimited).",
    )
    skills: list[str] = Field(
        default_factory=list, description="Skills (e.g. refrigerated, tail-lift) orders may need."
    )
    compartments: list[str] = Field(
        default_factory=list,
        description="Compartments in loading order (front to back); empty: one general space.",
    )
    profile: str = Field(
        default="car",
        max_length=32,
        description="Routing profile: car, van, truck, cargo_bike, bicycle (or bike) or foot.",
    )
    fixed_cost: int = Field(default=0, ge=0, description="Cost of using the vehicle at all.")
    cost_per_hour: int = Field(default=3600, ge=0, description="Cost per hour of driving.")
    cost_per_km: int = Field(default=0, ge=0, description="Cost per kilometre driven.")


class VehicleTypeUpdate(ApiModel):
    """Changes to a vehicle type; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    capacity: list[int] | None = Field(default=None, description="Capacity per dimension.")
    skills: list[str] | None = Field(default=None, description="Skills.")
    compartments: list[str] | None = Field(default=None, description="Compartments.")
    profile: str | None = Field(
        default=None, max_length=32, description="Routing profile (as for a new vehicle type)."
    )
    fixed_cost: int | None = Field(default=None, ge=0, description="Fixed cost.")
    cost_per_hour: int | None = Field(default=None, ge=0, description="Cost per hour.")
    cost_per_km: int | None = Field(default=None, ge=0, description="Cost per km.")


class VehicleTypeOut(VehicleTypeIn):
    """A stored vehicle type."""

    id: uuid.UUID = Field(description="Vehicle type id.")
    created_at: dt.datetime = Field(description="When it was created.")


class VehicleIn(ApiModel):
    """One vehicle of the fleet."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    registration: str = Field(default="", max_length=32, description="Number plate.")
    type_id: uuid.UUID = Field(description="Its vehicle type.")
    depot_id: uuid.UUID = Field(description="The depot it starts from.")
    end_depot_id: uuid.UUID | None = Field(
        default=None, description="The depot it ends at (default: the start depot)."
    )
    returns_to_depot: bool = Field(
        default=True, description="False: the route ends at its last stop."
    )
    max_tasks: int | None = Field(default=None, ge=0, description="Most stops per route.")
    max_duration_s: int | None = Field(default=None, ge=0, description="Longest route, seconds.")
    max_distance_m: int | None = Field(default=None, ge=0, description="Longest route, metres.")
    active: bool = Field(default=True, description="Inactive vehicles are not planned.")


class VehicleUpdate(ApiModel):
    """Changes to a vehicle; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    registration: str | None = Field(default=None, max_length=32, description="Number plate.")
    type_id: uuid.UUID | None = Field(default=None, description="Vehicle type.")
    depot_id: uuid.UUID | None = Field(default=None, description="Start depot.")
    end_depot_id: uuid.UUID | None = Field(default=None, description="End depot.")
    returns_to_depot: bool | None = Field(default=None, description="Closed or open route.")
    max_tasks: int | None = Field(default=None, ge=0, description="Most stops per route.")
    max_duration_s: int | None = Field(default=None, ge=0, description="Longest route, seconds.")
    max_distance_m: int | None = Field(default=None, ge=0, description="Longest route, metres.")
    active: bool | None = Field(default=None, description="Whether it is planned.")


class VehicleOut(VehicleIn):
    """A stored vehicle."""

    id: uuid.UUID = Field(description="Vehicle id.")
    created_at: dt.datetime = Field(description="When it was created.")


class DriverIn(ApiModel):
    """A driver. ``user_id`` links the driver's login (a user with role driver)."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    phone: str = Field(default="", max_length=64, description="Phone number.")
    user_id: uuid.UUID | None = Field(default=None, description="The driver's user account.")
    active: bool = Field(default=True, description="Inactive drivers get no routes.")


class DriverUpdate(ApiModel):
    """Changes to a driver; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    phone: str | None = Field(default=None, max_length=64, description="Phone number.")
    user_id: uuid.UUID | None = Field(default=None, description="User account.")
    active: bool | None = Field(default=None, description="Whether routes go to them.")


class DriverOut(DriverIn):
    """A stored driver."""

    id: uuid.UUID = Field(description="Driver id.")
    created_at: dt.datetime = Field(description="When it was created.")


class ShiftIn(ApiModel):
    """When a driver works, and with which vehicle."""

    driver_id: uuid.UUID = Field(description="The driver.")
    vehicle_id: uuid.UUID | None = Field(
        default=None, description="The vehicle they drive (routes of it go to them)."
    )
    start_at: AwareDatetime = Field(description="Shift start (with time zone).")
    end_at: AwareDatetime = Field(description="Shift end (with time zone).")

    @model_validator(mode="after")
    def _order(self) -> ShiftIn:
        if self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self


class ShiftUpdate(ApiModel):
    """Changes to a shift; omitted fields stay as they are."""

    vehicle_id: uuid.UUID | None = Field(default=None, description="The vehicle.")
    start_at: AwareDatetime | None = Field(default=None, description="Shift start.")
    end_at: AwareDatetime | None = Field(default=None, description="Shift end.")


class ShiftOut(ApiModel):
    """A stored shift."""

    id: uuid.UUID = Field(description="Shift id.")
    driver_id: uuid.UUID = Field(description="The driver.")
    vehicle_id: uuid.UUID | None = Field(description="The vehicle.")
    start_at: dt.datetime = Field(description="Shift start (UTC).")
    end_at: dt.datetime = Field(description="Shift end (UTC).")
    created_at: dt.datetime = Field(description="When it was created.")
