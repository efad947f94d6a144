"""Vehicle types, vehicles, drivers and their shifts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from lastmile.service.db import TenantBase, UTCDateTime, utcnow


class VehicleType(TenantBase):
    __tablename__ = "vehicle_types"

    name: Mapped[str] = mapped_column(String(200))
    #: One entry per organisation dimension.
    capacity: Mapped[list[int]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Compartments in loading order (e.g. front to back); empty = one general space.
    compartments: Mapped[list[str]] = mapped_column(JSON, default=list)
    profile: Mapped[str] = mapped_column(String(32), default="car")
    fixed_cost: Mapped[int] = mapped_column(Integer, default=0)
    cost_per_hour: Mapped[int] = mapped_column(Integer, default=3600)
    cost_per_km: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        return True


class Vehicle(TenantBase):
    __tablename__ = "vehicles"

    name: Mapped[str] = mapped_column(String(200))
    registration: Mapped[str] = mapped_column(String(32), default="")
    type_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("vehicle_types.id", ondelete="RESTRICT"), index=True
    )
    depot_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("depots.id", ondelete="RESTRICT"), index=True
    )
    #: Where the route ends; None = the start depot.
    end_depot_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("depots.id", ondelete="RESTRICT"), default=None
    )
    #: False: the route ends at its last stop (open route).
    returns_to_depot: Mapped[bool] = mapped_column(Boolean, default=True)
    max_tasks: Mapped[int | None] = mapped_column(Integer, default=None)
    max_duration_s: Mapped[int | None] = mapped_column(Integer, default=None)
    max_distance_m: Mapped[int | None] = mapped_column(Integer, default=None)
    #: True: the vehicle may return to its depot (start and end) to load again
    #: during the day, spending the depot's ``reload_time_s`` there.
    reloads: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Most reloads in a day (None: as many as needed).
    max_reloads: Mapped[int | None] = mapped_column(Integer, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        return True


class Driver(TenantBase):
    __tablename__ = "drivers"

    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(64), default="")
    #: The login of the driver (a user with role driver), if they have one.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), unique=True, default=None
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        # Deleting a driver deletes their shifts in the database (ON DELETE CASCADE).
        return deleted


class Shift(TenantBase):
    __tablename__ = "shifts"

    driver_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("drivers.id", ondelete="CASCADE"), index=True
    )
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("vehicles.id", ondelete="SET NULL"), index=True, default=None
    )
    start_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The driver's breaks: ``{"id", "window_start", "window_end", "duration_s"}``
    #: with the window (when the break may start) as ISO 8601 UTC date-times.
    breaks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        return True
