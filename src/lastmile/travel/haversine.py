"""Straight-line travel at a fixed speed: always available, and the test double."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix


class HaversineModel:
    """Great-circle distance times ``detour_factor``, driven at ``speed_kph``."""

    def __init__(self, *, speed_kph: float = 30.0, detour_factor: float = 1.0) -> None:
        if speed_kph <= 0:
            raise InputError(f"must be > 0, got {speed_kph}", where="speed_kph")
        if detour_factor < 1.0:
            raise InputError(f"must be >= 1, got {detour_factor}", where="detour_factor")
        self.speed_kph = speed_kph
        self.detour_factor = detour_factor

    @property
    def description(self) -> str:
        detour = f" x{self.detour_factor:g} detour" if self.detour_factor != 1.0 else ""
        return f"straight-line distance{detour} at {self.speed_kph:g} km/h"

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        del departure  # no traffic in a straight line
        durations, distances = self.between(locations, locations)
        return TravelMatrix(durations=durations, distances=distances)

    def between(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
        *,
        departure: int | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Durations and distances from each origin (rows) to each destination."""
        del departure
        lon1, lat1 = _radians(origins, "origin")
        lon2, lat2 = _radians(destinations, "destination")
        dlat = lat2[None, :] - lat1[:, None]
        dlon = lon2[None, :] - lon1[:, None]
        h = (
            np.sin(dlat / 2) ** 2
            + np.cos(lat1[:, None]) * np.cos(lat2[None, :]) * np.sin(dlon / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.detour_factor
        seconds = metres / (self.speed_kph / 3.6)
        return np.rint(seconds).astype(np.int64), np.rint(metres).astype(np.int64)


def _radians(
    locations: Sequence[Location], what: str
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    for i, loc in enumerate(locations):
        if not loc.is_geographic:
            raise InputError("needs longitude/latitude", where=f"{what} {i}")
    lon = np.radians(np.array([loc.lon for loc in locations], dtype=np.float64))
    lat = np.radians(np.array([loc.lat for loc in locations], dtype=np.float64))
    return lon, lat


def euclidean_matrix(
    xy: Sequence[tuple[float, float]], *, scale: int = 1, rounding: str = "round"
) -> TravelMatrix:
    """Planar distances (benchmark instances): duration = distance, scaled.

    ``rounding``: "round" rounds ``scale*d`` to the nearest integer, "trunc"
    truncates it (DIMACS: ``floor(10*d)`` with ``scale=10``).
    """
    pts = np.asarray(xy, dtype=np.float64)
    d = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(axis=-1)) * scale
    if rounding == "trunc":
        m = np.floor(d + 1e-9).astype(np.int64)
    elif rounding == "round":
        m = np.rint(d).astype(np.int64)
    else:
        raise InputError(f"unknown rounding {rounding!r}", where="rounding")
    return TravelMatrix(durations=m, distances=m.copy())
