"""The travel model protocol: how long and how far from A to B, leaving at t."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

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
    for old, out, into in ((matrix.durations, out_t, in_t), (matrix.distances, out_d, in_d)):
        g = np.empty((n + k, n + k), dtype=np.int64)
        g[:n, :n] = old
        g[:n, n:] = into
        g[n:, :] = out
        grown.append(g)
    return TravelMatrix(grown[0], grown[1])
