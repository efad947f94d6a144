"""Organisation schemas."""

from __future__ import annotations

import re
import uuid
import zoneinfo
from typing import Literal

from pydantic import Field, field_validator

from lastmile.service.schemas import ApiModel, Instant, LanguageCode

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


_CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _check_clock_time(value: str | None) -> str | None:
    if value and not _CLOCK_TIME.match(value):
        raise ValueError(f"{value!r} is not a local time HH:MM (00:00-23:59); empty: off")
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
    customer_language: LanguageCode | None = Field(
        default=None,
        description="Customers' language for messages and the tracking page when their "
        "order names none (en, fi, ...); null: the organisation's language. A language "
        "without templates is sent in English.",
    )
    arrival_detection: bool = Field(
        default=True,
        description="Detect arrivals at stops and departures from the routes' GPS fixes "
        "and record them as stop events (see docs/tracking.md).",
    )
    arrival_radius_m: float = Field(
        default=60.0,
        gt=0,
        le=1000,
        description="A stop's geofence: the vehicle is there within this many metres.",
    )
    arrival_dwell_s: int = Field(
        default=25,
        ge=0,
        le=3600,
        description="Seconds the vehicle must stay inside the geofence (over at least two "
        "fixes) before it has arrived; passing by is not arriving.",
    )
    departure_radius_m: float = Field(
        default=120.0,
        gt=0,
        le=5000,
        description="The vehicle has departed once clearly beyond this many metres "
        "(at least arrival_radius_m).",
    )
    arrival_max_accuracy_m: float = Field(
        default=100.0,
        gt=0,
        le=10_000,
        description="Fixes reporting a worse accuracy (metres) are not used for detection.",
    )

    plan_carry_over: bool = Field(
        default=False,
        description="Automation: a new plan for a day also takes the orders whose re-attempt "
        "falls on that day and the orders left unassigned by earlier plans that are still "
        "pending and can be delivered that day, even when the request lists its orders; "
        "each is noted in the automation log.",
    )
    auto_plan_at: str = Field(
        default="",
        description="Automation: local time HH:MM (organisation's time zone) at which the "
        "service creates and optimises the plan for the next day, once a day. Empty: off.",
    )
    auto_plan_time_limit_s: float = Field(
        default=60.0,
        gt=0,
        description="Optimisation time limit of the plans created at auto_plan_at.",
    )
    auto_dispatch: bool = Field(
        default=False,
        description="Automation: a plan whose optimisation succeeds is dispatched at once, "
        "each route to the driver whose shift uses its vehicle (as POST /plans/{id}/dispatch "
        "with no assignments); a plan that cannot be is left ready, the reason logged.",
    )

    _clock_time = field_validator("auto_plan_at")(_check_clock_time)


class OrgSettingsUpdate(ApiModel):
    """Changes to the options; omitted ones stay as they are."""

    waiting_costs_like_driving: bool | None = Field(
        default=None, description="See OrgSettings.waiting_costs_like_driving."
    )
    language: Language | None = Field(default=None, description="See OrgSettings.language.")
    customer_language: LanguageCode | None = Field(
        default=None, description="See OrgSettings.customer_language."
    )
    arrival_detection: bool | None = Field(
        default=None, description="See OrgSettings.arrival_detection."
    )
    arrival_radius_m: float | None = Field(
        default=None, gt=0, le=1000, description="See OrgSettings.arrival_radius_m."
    )
    arrival_dwell_s: int | None = Field(
        default=None, ge=0, le=3600, description="See OrgSettings.arrival_dwell_s."
    )
    departure_radius_m: float | None = Field(
        default=None, gt=0, le=5000, description="See OrgSettings.departure_radius_m."
    )
    arrival_max_accuracy_m: float | None = Field(
        default=None, gt=0, le=10_000, description="See OrgSettings.arrival_max_accuracy_m."
    )

    plan_carry_over: bool | None = Field(
        default=None, description="See OrgSettings.plan_carry_over."
    )
    auto_plan_at: str | None = Field(
        default=None, description="See OrgSettings.auto_plan_at (empty string: off)."
    )
    auto_plan_time_limit_s: float | None = Field(
        default=None, gt=0, description="See OrgSettings.auto_plan_time_limit_s."
    )
    auto_dispatch: bool | None = Field(default=None, description="See OrgSettings.auto_dispatch.")

    _clock_time = field_validator("auto_plan_at")(_check_clock_time)


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
