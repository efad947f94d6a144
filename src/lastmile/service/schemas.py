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
    StringConstraints,
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


def answer_zone_name() -> str:
    """The name of the current answer's time zone (``UTC`` outside a request)."""
    holder = _answer_zone.get()
    return str(holder.zone) if holder is not None else "UTC"


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


#: The years a date or time given to the service may fall in (after conversion
#: to UTC): wide enough for any delivery, narrow enough that every conversion and
#: every database column holds it.
FIRST_YEAR = 1900
LAST_YEAR = 2200
_YEARS = f"between the years {FIRST_YEAR} and {LAST_YEAR}"

#: The largest integer accepted anywhere (a signed 64-bit database column).
MAX_INT = 2**63 - 1


def utc_in_range(value: dt.datetime) -> dt.datetime:
    """``value`` (aware) in UTC; ``ValueError`` when the conversion overflows or the
    result is outside the years the service accepts (:data:`FIRST_YEAR`..:data:`LAST_YEAR`)."""
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"out of range: give a time {_YEARS}") from None
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"out of range: give a time {_YEARS}")
    return utc


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone (e.g. 2025-05-01T09:00:00+02:00 or ...Z)")
    return utc_in_range(value)


def _day(value: dt.date) -> dt.date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"out of range: give a day {_YEARS}")
    return value


#: A time in an answer: shown in the organisation's time zone with its offset
#: (e.g. 2026-11-24T14:00:00+01:00); accepted with any offset.
Instant = Annotated[dt.datetime, _IN_ANSWER_ZONE, _ANSWER_SCHEMA]

#: A datetime that must carry a time zone; stored in UTC, answered like :data:`Instant`.
AwareDatetime = Annotated[dt.datetime, AfterValidator(_aware), _IN_ANSWER_ZONE, _ANSWER_SCHEMA]

#: A calendar day given to the service (years :data:`FIRST_YEAR`..:data:`LAST_YEAR`).
Day = Annotated[dt.date, AfterValidator(_day)]

#: An integer given to the service: at most :data:`MAX_INT` (fits a 64-bit column).
Int = Annotated[int, Field(le=MAX_INT, ge=-MAX_INT - 1)]

Lon = Annotated[float, Field(ge=-180, le=180, description="Longitude, degrees (WGS84).")]
Lat = Annotated[float, Field(ge=-90, le=90, description="Latitude, degrees (WGS84).")]

#: Model config of request bodies with measurements: NaN and infinities are refused
#: (JSON parsers accept ``NaN`` and ``Infinity``; no position, accuracy or limit is).
FINITE = ConfigDict(allow_inf_nan=False)

#: Most entries in a list of names (skills, compartments, event types).
MAX_NAMES = 50
#: Longest name in such a list.
MAX_NAME_LENGTH = 64
#: Most values in an amount or a capacity (one per organisation dimension).
MAX_DIMENSIONS = 8
#: Longest barcode.
MAX_BARCODE_LENGTH = 128

#: A name in a list of names (a skill, a compartment, ...).
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_LENGTH)]
#: A list of names: at most :data:`MAX_NAMES` of at most :data:`MAX_NAME_LENGTH` characters.
Names = Annotated[list[Name], Field(max_length=MAX_NAMES)]
#: Values per organisation dimension: at most :data:`MAX_DIMENSIONS`.
PerDimension = Annotated[list[Int], Field(max_length=MAX_DIMENSIONS)]
#: A barcode as scanned.
Barcode = Annotated[str, StringConstraints(max_length=MAX_BARCODE_LENGTH)]


def _language_code(value: str) -> str:
    code = value.strip().lower()
    if not (2 <= len(code) <= 3 and code.isascii() and code.isalpha()):
        raise ValueError(f"{value[:20]!r} is not a language code (2 or 3 letters, e.g. en, fi)")
    return code


#: An ISO 639 language code (``en``, ``fi``), written in lower case.
LanguageCode = Annotated[
    str,
    AfterValidator(_language_code),
    WithJsonSchema({"type": "string", "pattern": "^[A-Za-z]{2,3}$", "examples": ["en", "fi"]}),
]


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
