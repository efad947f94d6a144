"""Schema pieces shared by the feature folders."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
)


@dataclass(slots=True)
class _AnswerZone:
    """The time zone of one request's answer (filled in once the caller is known)."""

    zone: dt.tzinfo = dt.UTC


#: Set for each request by :func:`answer_zone`; mutable so that a dependency running
#: in a worker thread (on a copy of the context) can fill it in for the answer.
_answer_zone: ContextVar[_AnswerZone | None] = ContextVar("lastmile_answer_zone", default=None)


@contextmanager
def answer_zone() -> Iterator[None]:
    """Answers given inside show their times in UTC until :func:`answer_in` names a zone."""
    token = _answer_zone.set(_AnswerZone())
    try:
        yield
    finally:
        _answer_zone.reset(token)


def answer_in(timezone: str) -> None:
    """Show the current request's times in ``timezone`` (an IANA name, e.g. the
    organisation's); an unknown name leaves UTC."""
    holder = _answer_zone.get()
    if holder is None:
        return
    try:
        holder.zone = zoneinfo.ZoneInfo(timezone) if timezone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        holder.zone = dt.UTC


def local_time(value: dt.datetime) -> dt.datetime:
    """``value`` in the current answer's time zone (naive values are read as UTC)."""
    holder = _answer_zone.get()
    zone = holder.zone if holder is not None else dt.UTC
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone)


def _answer_iso(value: dt.datetime) -> str:
    text = local_time(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_IN_ANSWER_ZONE = PlainSerializer(_answer_iso, return_type=str, when_used="json")
_ANSWER_SCHEMA = WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization")


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2025-05-01T09:00:00+02:00 or ...Z)")
    return value.astimezone(dt.UTC)


#: A time in an answer: shown in the organisation's time zone with its offset
#: (e.g. 2026-11-24T14:00:00+01:00); accepted with any offset.
Instant = Annotated[dt.datetime, _IN_ANSWER_ZONE, _ANSWER_SCHEMA]

#: A datetime that must carry a time zone; stored in UTC, answered like :data:`Instant`.
AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware), _IN_ANSWER_ZONE, _ANSWER_SCHEMA]

Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, degrees (WGS84).")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, degrees (WGS84).")]


class ApiModel(BaseModel):
    """Base of every request/response schema (reads ORM rows directly).

    Text never holds NUL characters: PostgreSQL cannot store them, so they are
    refused here, naming the field, on either database (error answers, which may
    quote the input, are exempt)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")
    _refuse_nul: ClassVar[bool] = True

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if cls._refuse_nul and _has_nul(value):
            raise ValueError("text must not contain NUL characters (\\u0000)")
        return value


def _has_nul(value: Any) -> bool:
    """Whether text in ``value`` (a string, or strings in lists and mappings) holds a NUL."""
    if type(value) is str:
        return "\x00" in value
    if type(value) in (list, tuple, set, frozenset):
        return any(_has_nul(item) for item in value)
    if type(value) is dict:
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class ErrorItem(ApiModel):
    """One problem found in the input."""

    _refuse_nul: ClassVar[bool] = False

    reason: str = Field(description="What is wrong and what was expected.")
    column: str = Field(default="", description="The field or CSV column at fault.")
    row: int | None = Field(
        default=None, description="The 1-based data row of an uploaded file, if any."
    )


class ErrorOut(ApiModel):
    """The body of every error response."""

    _refuse_nul: ClassVar[bool] = False

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[ErrorItem] = Field(
        default_factory=list, description="Every problem found (validation errors)."
    )
