"""Schema pieces shared by the feature folders."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2025-05-01T09:00:00+02:00 or ...Z)")
    return value.astimezone(dt.UTC)


#: A datetime that must carry a time zone; stored and returned in UTC.
AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware)]

Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, degrees (WGS84).")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, degrees (WGS84).")]


class ApiModel(BaseModel):
    """Base of every request/response schema (reads ORM rows directly)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class ErrorItem(ApiModel):
    """One problem found in the input."""

    reason: str = Field(description="What is wrong and what was expected.")
    column: str = Field(default="", description="The field or CSV column at fault.")
    row: int | None = Field(
        default=None, description="The 1-based data row of an uploaded file, if any."
    )


class ErrorOut(ApiModel):
    """The body of every error response."""

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[ErrorItem] = Field(
        default_factory=list, description="Every problem found (validation errors)."
    )
