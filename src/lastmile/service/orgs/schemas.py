"""Organisation schemas."""

from __future__ import annotations

import uuid
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator

from lastmile.service.schemas import ApiModel, Instant

#: Languages the pages are written in (see lastmile.service.web.texts).
Language = Literal["en", "fi"]


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None
    return value


class OrgSettings(ApiModel):
    """The organisation's options."""

    waiting_costs_like_driving: bool = Field(
        default=True,
        description="Drivers are paid by the hour: plans charge each route's whole duration "
        "(driving, waiting, service) at the vehicle type's cost_per_hour, not only its "
        "driving time, and vans leave late enough not to wait where they can.",
    )
    language: Language = Field(
        default="en",
        description="Language of the pages people see (sign-in, dashboard, driver app, "
        "customer tracking page): en (English) or fi (Finnish).",
    )


class OrgSettingsUpdate(ApiModel):
    """Changes to the options; omitted ones stay as they are."""

    waiting_costs_like_driving: bool | None = Field(
        default=None, description="See OrgSettings.waiting_costs_like_driving."
    )
    language: Language | None = Field(default=None, description="See OrgSettings.language.")


class OrgOut(ApiModel):
    """An organisation (tenant)."""

    id: uuid.UUID = Field(description="Organisation id.")
    name: str = Field(description="Display name.")
    slug: str = Field(description="Short unique name.")
    timezone: str = Field(description="IANA time zone in which plan days and hours are read.")
    dimensions: list[str] = Field(
        description="Capacity dimensions; every amount and capacity lists values in this order."
    )
    created_at: Instant = Field(description="When the organisation was created.")
    settings: OrgSettings = Field(description="Options: how plans are costed.")


class OrgUpdate(ApiModel):
    """Changes to an organisation; omitted fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200, description="New name.")
    timezone: str | None = Field(default=None, description="New IANA time zone.")
    dimensions: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=8,
        description="New capacity dimension names (only renaming while amounts exist).",
    )
    settings: OrgSettingsUpdate | None = Field(default=None, description="Changed options.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)
