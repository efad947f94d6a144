"""Small validation helpers shared by the domain value objects."""

from __future__ import annotations

from collections.abc import Iterable

from lastmile.exceptions import InputError


def non_negative(value: int | float, field: str) -> None:
    if value < 0:
        raise InputError(f"must be >= 0, got {value}", where=field)


def non_negative_all(values: Iterable[int], field: str) -> None:
    for i, value in enumerate(values):
        if value < 0:
            raise InputError(f"must be >= 0, got {value}", where=f"{field}[{i}]")


def is_int(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"must be an integer, got {value!r}", where=field)
