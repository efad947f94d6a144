"""Vehicle type, vehicle, driver and shift schemas."""

from __future__ import annotations

import uuid

from pydantic import Field, model_validator

from lastmile.service.schemas import ApiModel, AwareDatetime, Instant, Int


class VehicleTypeIn(ApiModel):
    """A kind of vehicle: what it carries, what it can do, what it costs."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    capacity: list[Int] = Field(
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
    fixed_cost: Int = Field(default=0, ge=0, description="Cost of using the vehicle at all.")
    cost_per_hour: Int = Field(
        default=3600,
        ge=0,
        description="Cost per hour of driving (of the whole route, waiting and service "
        "included, when the organisation has waiting_costs_like_driving).",
    )
    cost_per_km: Int = Field(default=0, ge=0, description="Cost per kilometre driven.")


class VehicleTypeUpdate(ApiModel):
    """Changes to a vehicle type; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    capacity: list[Int] | None = Field(default=None, description="Capacity per dimension.")
    skills: list[str] | None = Field(default=None, description="Skills.")
    compartments: list[str] | None = Field(default=None, description="Compartments.")
    profile: str | None = Field(
        default=None, max_length=32, description="Routing profile (as for a new vehicle type)."
    )
    fixed_cost: Int | None = Field(default=None, ge=0, description="Fixed cost.")
    cost_per_hour: Int | None = Field(default=None, ge=0, description="Cost per hour.")
    cost_per_km: Int | None = Field(default=None, ge=0, description="Cost per km.")


class VehicleTypeOut(VehicleTypeIn):
    """A stored vehicle type."""

    id: uuid.UUID = Field(description="Vehicle type id.")
    created_at: Instant = Field(description="When it was created.")


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
    max_tasks: Int | None = Field(default=None, ge=0, description="Most stops per route.")
    max_duration_s: Int | None = Field(default=None, ge=0, description="Longest route, seconds.")
    max_distance_m: Int | None = Field(default=None, ge=0, description="Longest route, metres.")
    reloads: bool = Field(
        default=False,
        description="True: the vehicle may return to its depot (start or end) during the day "
        "to load again, spending the depot's reload_time_s there (multi-trip routes).",
    )
    max_reloads: Int | None = Field(
        default=None, ge=0, description="Most reloads in a day (default: as many as needed)."
    )
    active: bool = Field(default=True, description="Inactive vehicles are not planned.")


class VehicleUpdate(ApiModel):
    """Changes to a vehicle; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    registration: str | None = Field(default=None, max_length=32, description="Number plate.")
    type_id: uuid.UUID | None = Field(default=None, description="Vehicle type.")
    depot_id: uuid.UUID | None = Field(default=None, description="Start depot.")
    end_depot_id: uuid.UUID | None = Field(default=None, description="End depot.")
    returns_to_depot: bool | None = Field(default=None, description="Closed or open route.")
    max_tasks: Int | None = Field(default=None, ge=0, description="Most stops per route.")
    max_duration_s: Int | None = Field(default=None, ge=0, description="Longest route, seconds.")
    max_distance_m: Int | None = Field(default=None, ge=0, description="Longest route, metres.")
    reloads: bool | None = Field(default=None, description="Whether it may reload at its depot.")
    max_reloads: Int | None = Field(default=None, ge=0, description="Most reloads in a day.")
    active: bool | None = Field(default=None, description="Whether it is planned.")


class VehicleOut(VehicleIn):
    """A stored vehicle."""

    id: uuid.UUID = Field(description="Vehicle id.")
    created_at: Instant = Field(description="When it was created.")


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
    created_at: Instant = Field(description="When it was created.")


class BreakIn(ApiModel):
    """A break in a shift: it lasts ``duration_s`` and starts between ``window_start``
    and ``window_end`` (the planner picks when; the driver stops on the way)."""

    id: str = Field(
        default="", max_length=64, description="Its name (default: break-1, break-2, ...)."
    )
    window_start: AwareDatetime = Field(description="Earliest start (with time zone).")
    window_end: AwareDatetime = Field(description="Latest start (with time zone).")
    duration_s: int = Field(gt=0, le=86_400, description="How long the break lasts, seconds.")


class BreakOut(ApiModel):
    """A stored break."""

    id: str = Field(description="Its name, unique in the shift.")
    window_start: Instant = Field(description="Earliest start (UTC).")
    window_end: Instant = Field(description="Latest start (UTC).")
    duration_s: int = Field(description="How long it lasts, seconds.")


class ShiftIn(ApiModel):
    """When a driver works, with which vehicle, and their breaks."""

    driver_id: uuid.UUID = Field(description="The driver.")
    vehicle_id: uuid.UUID | None = Field(
        default=None, description="The vehicle they drive (routes of it go to them)."
    )
    start_at: AwareDatetime = Field(description="Shift start (with time zone).")
    end_at: AwareDatetime = Field(description="Shift end (with time zone).")
    breaks: list[BreakIn] = Field(
        default_factory=list,
        description="Breaks; each window lies within the shift and the break ends by its end.",
    )

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
    breaks: list[BreakIn] | None = Field(default=None, description="Breaks (replace all).")


class ShiftOut(ApiModel):
    """A stored shift."""

    id: uuid.UUID = Field(description="Shift id.")
    driver_id: uuid.UUID = Field(description="The driver.")
    vehicle_id: uuid.UUID | None = Field(description="The vehicle.")
    start_at: Instant = Field(description="Shift start (UTC).")
    end_at: Instant = Field(description="Shift end (UTC).")
    breaks: list[BreakOut] = Field(description="Breaks, by earliest start.")
    created_at: Instant = Field(description="When it was created.")


class ShiftImportResult(ApiModel):
    """What a shift import did (or, for a dry run, would do)."""

    created: int = Field(description="New shifts.")
    updated: int = Field(
        description="Shifts of the same driver starting at the same time whose vehicle, "
        "end or breaks changed."
    )
    unchanged: int = Field(description="Shifts that were already there as given.")
    shift_ids: list[uuid.UUID] = Field(
        description="The shift of each row, in file order (empty for a dry run of new ones)."
    )
    dry_run: bool = Field(description="True: nothing was written.")
