"""Reading VROOM JSON values field by field, and writing ids as VROOM does.

:class:`Fields` gives typed access to JSON values; every error it raises names
the source and the field path (:class:`FormatError` for malformed values,
:class:`InputError` for what lastmile cannot represent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lastmile.domain import (
    HORIZON,
    TimeWindow,
)
from lastmile.domain.time import normalise_windows
from lastmile.exceptions import FormatError, InputError
from lastmile.planning.engines.vroom import VROOM_MAX_TIME

DEFAULT_PROFILE = "car"
DEFAULT_PER_HOUR = 3600


class Fields:
    """Typed access to JSON values; every error names the source and field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def where(self, path: str) -> str:
        return f"{self.source}: {path}" if self.source else path

    def fail(self, path: str, message: str) -> FormatError:
        return FormatError(message, where=self.where(path))

    def refuse(self, path: str, message: str) -> InputError:
        return InputError(message, where=self.where(path))

    def obj(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, f"must be an object, got {_kind(value)}")
        return value

    def keys(self, value: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.refuse(
                    f"{path}.{key}" if path else key,
                    f"unknown key (not part of VROOM's format here: {known})",
                )

    def array(self, value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"must be an array, got {_kind(value)}")
        return value

    def integer(
        self, value: object, path: str, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, got {_kind(value)} {value!r}")
        if value < minimum:
            raise self.fail(path, f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail(path, f"must be <= {maximum}, got {value}")
        return value

    def number(self, value: object, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, f"must be a number, got {_kind(value)} {value!r}")
        if not math.isfinite(value):
            raise self.fail(path, f"must be finite, got {value}")
        return float(value)

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {_kind(value)}")
        return value

    def opt_int(self, obj: Mapping[str, Any], key: str, path: str, default: int = 0) -> int:
        return self.integer(obj[key], f"{path}.{key}") if key in obj else default

    def amount(self, value: object, path: str) -> tuple[int, ...]:
        items = self.array(value, path)
        return tuple(self.integer(x, f"{path}[{i}]") for i, x in enumerate(items))

    def coords(self, value: object, path: str) -> tuple[float, float]:
        items = self.array(value, path)
        if len(items) != 2:
            raise self.fail(path, f"must be [lon, lat], got {len(items)} numbers")
        lon = self.number(items[0], f"{path}[0]")
        lat = self.number(items[1], f"{path}[1]")
        if not -180.0 <= lon <= 180.0:
            raise self.fail(f"{path}[0]", f"longitude must be in [-180, 180], got {lon}")
        if not -90.0 <= lat <= 90.0:
            raise self.fail(f"{path}[1]", f"latitude must be in [-90, 90], got {lat}")
        return lon, lat

    def window(self, value: object, path: str) -> TimeWindow:
        items = self.array(value, path)
        if len(items) != 2:
            raise self.fail(path, f"a time window is [start, end], got {len(items)} values")
        start = self.integer(items[0], f"{path}[0]")
        end = self.integer(items[1], f"{path}[1]")
        if start > end:
            raise self.fail(path, f"start {start} is after end {end}")
        return TimeWindow(start, HORIZON if end >= VROOM_MAX_TIME else end)

    def windows(self, value: object, path: str) -> tuple[TimeWindow, ...]:
        items = self.array(value, path)
        if not items:
            raise self.fail(path, "must list at least one time window (omit the key for none)")
        tws = [self.window(w, f"{path}[{i}]") for i, w in enumerate(items)]
        try:
            return normalise_windows(tws, path)
        except InputError as exc:
            raise self.refuse(path, inner_message(exc)) from None

    def skills(self, value: object, path: str) -> frozenset[str]:
        items = self.array(value, path)
        return frozenset(str(self.integer(s, f"{path}[{i}]")) for i, s in enumerate(items))


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__


def inner_message(exc: InputError) -> str:
    text = str(exc)
    return text[len(exc.where) + 2 :] if exc.where and text.startswith(exc.where) else text


# -- ids ----------------------------------------------------------------------------------

_NUMERIC = re.compile(r"0|[1-9][0-9]*")


def json_id(value: str) -> int | str:
    """An id as VROOM writes it: an integer when it is one, else the string."""
    return int(value) if _NUMERIC.fullmatch(value) else value


def int_ids(values: Sequence[str]) -> list[int]:
    """The values as integers if all are distinct non-negative integers, else 1..n."""
    if all(_NUMERIC.fullmatch(v) for v in values) and len(set(values)) == len(values):
        return [int(v) for v in values]
    return list(range(1, len(values) + 1))
