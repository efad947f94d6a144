"""Depot schemas."""

from __future__ import annotations

import uuid

from pydantic import Field, model_validator

from lastmile.service.schemas import ApiModel, Instant, Int, Lat, Lon

DAY_S = 86_400


class DepotIn(ApiModel):
    """A depot: where vehicles load, start and (usually) end."""

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    address: str = Field(default="", max_length=500, description="Postal address.")
    lon: Lon
    lat: Lat
    opens_s: int = Field(
        default=0, ge=0, le=2 * DAY_S, description="Opening time, seconds after local midnight."
    )
    closes_s: int = Field(
        default=DAY_S, ge=0, le=2 * DAY_S, description="Closing time, seconds after local midnight."
    )
    reload_time_s: Int = Field(
        default=0, ge=0, description="Time a vehicle spends reloading here between trips."
    )

    @model_validator(mode="after")
    def _hours(self) -> DepotIn:
        if self.closes_s < self.opens_s:
            raise ValueError("closes_s must not be before opens_s")
        return self


class DepotUpdate(ApiModel):
    """Changes to a depot; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="Name.")
    address: str | None = Field(default=None, max_length=500, description="Postal address.")
    lon: float | None = Field(default=None, ge=-180, le=180, description="Longitude, degrees.")
    lat: float | None = Field(default=None, ge=-90, le=90, description="Latitude, degrees.")
    opens_s: int | None = Field(default=None, ge=0, le=2 * DAY_S, description="Opening time.")
    closes_s: int | None = Field(default=None, ge=0, le=2 * DAY_S, description="Closing time.")
    reload_time_s: Int | None = Field(default=None, ge=0, description="Reload time, seconds.")


class DepotOut(DepotIn):
    """A stored depot."""

    id: uuid.UUID = Field(description="Depot id.")
    created_at: Instant = Field(description="When the depot was created.")
