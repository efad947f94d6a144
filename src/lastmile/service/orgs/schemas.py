"""Organisation schemas."""

from __future__ import annotations

import uuid
import zoneinfo

from pydantic import Field, field_validator

from lastmile.service.schemas import ApiModel, Instant


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name, e.g. Europe/Paris)"
        ) from None
    return value


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

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)
