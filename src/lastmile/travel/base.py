"""The travel model protocol: how long and how far from A to B, leaving at t."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lastmile.domain import Location
from lastmile.travel.matrix import TravelMatrix


class TravelModel(Protocol):
    """Answers travel queries between locations.

    ``departure`` is seconds since the plan's epoch; models without traffic
    ignore it. Durations are integer seconds, distances integer metres.
    """

    @property
    def description(self) -> str:
        """One line saying how travel is computed (shown in every output)."""
        ...

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        """Many-to-many durations and distances, rows/columns in ``locations`` order."""
        ...
