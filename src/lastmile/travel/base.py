"""The travel model protocol: how long and how far from A to B, leaving at t."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from lastmile.domain import Location
from lastmile.exceptions import InputError
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


def grown_matrix(
    model: TravelModel,
    locations: Sequence[Location],
    matrix: TravelMatrix,
    extra: Sequence[Location],
    *,
    departure: int | None = None,
) -> TravelMatrix:
    """``matrix`` (over ``locations``, made by ``model``) with rows and columns for
    ``extra`` added at the end.

    Models that answer rectangular queries (a ``between(origins, destinations)``
    method, as :class:`~lastmile.travel.HaversineModel` has) compute only the new
    rows and columns, O(n); the others compute the whole matrix again.
    """
    if not extra:
        return matrix
    between = getattr(model, "between", None)
    everything = [*locations, *extra]
    if between is None:
        return model.matrix(everything, departure=departure)
    n, k = len(locations), len(extra)
    out_t, out_d = between(extra, everything, departure=departure)
    in_t, in_d = between(locations, extra, departure=departure)
    grown = []
    for what, old, out, into in (
        ("durations", matrix.durations, out_t, in_t),
        ("distances", matrix.distances, out_d, in_d),
    ):
        if (out < 0).any() or (into < 0).any():
            raise InputError(f"the travel model gave a negative value in {what}", where="matrix")
        g = np.empty((n + k, n + k), dtype=np.int64)
        g[:n, :n] = old
        g[:n, n:] = into
        g[n:, :] = out
        grown.append(g)
    # The old block was checked when ``matrix`` was made; the new rows just now.
    return TravelMatrix.of_checked(grown[0], grown[1], grown_from=matrix)
