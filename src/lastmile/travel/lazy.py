"""Travel matrices computed when asked, never stored whole.

A dense matrix of 50,000 locations is 2.5 billion entries (20 GB per array at
64 bits): no machine of ours holds it, and a decomposed solve never needs it.
Each part of a decomposed problem needs the matrix of its own points only
(:meth:`CoordinateMatrix.block`), and what checks the whole plan (the
validator, the scheduler, the explanations of left-out orders) reads single
legs, which :class:`CoordinateMatrix` computes from the coordinates on the
spot, with the same formula and rounding as :class:`HaversineModel`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.matrix import IntMatrix, TravelMatrix

#: Largest lazy matrix that may still be made dense on request (an engine given
#: the whole problem): 5,000 locations are 200 MB per array.
MATERIALISE_MAX = 5_000


def narrow(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``values`` (non-negative integers) in the narrowest unsigned type holding
    them: a part's durations in seconds fit 16 or 32 bits, not 64."""
    top = int(values.max()) if values.size else 0
    return values.astype(np.min_scalar_type(top), copy=False)


class _Legs:
    """One quantity (durations or distances) of a :class:`CoordinateMatrix`,
    indexable like the dense array it stands for."""

    def __init__(self, owner: CoordinateMatrix, which: int) -> None:
        self._owner = owner
        self._which = which  # 0: durations, 1: distances

    @property
    def shape(self) -> tuple[int, int]:
        n = self._owner.size
        return (n, n)

    @property
    def dtype(self) -> np.dtype[np.int64]:
        return np.dtype(np.int64)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 2:
            i, j = key
            if isinstance(i, int | np.integer) and isinstance(j, int | np.integer):
                return self._owner.leg(int(i), int(j))[self._which]
            rows = np.atleast_1d(np.arange(self._owner.size)[i])
            cols = np.atleast_1d(np.arange(self._owner.size)[j])
            out = self._owner.block(rows, cols)[self._which]
            if np.ndim(i) == 0 and not isinstance(i, slice):
                return out[0]
            if np.ndim(j) == 0 and not isinstance(j, slice):
                return out[:, 0]
            return out
        raise TypeError("index a lazy travel matrix with [row, column]")

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        n = self._owner.size
        if n > MATERIALISE_MAX:
            raise InputError(
                f"{n} locations are too many for a dense matrix (at most {MATERIALISE_MAX}); "
                "solve the problem decomposed (lastmile.planning.decompose)",
                where="matrix",
            )
        every = np.arange(n)
        out = self._owner.block(every, every)[self._which]
        return out if dtype is None else out.astype(dtype)


class CoordinateMatrix(TravelMatrix):
    """Straight-line travel between ``locations`` (a :class:`HaversineModel`),
    durations scaled by ``factor`` percent as VROOM's ``speed_factor`` does
    (100: unchanged). Holds the coordinates only: O(n) memory.

    ``durations[i, j]`` and ``distances[i, j]`` compute one leg;
    :meth:`block` the dense matrix of a few points (a part of the problem).
    """

    model: HaversineModel
    factor: int
    _lon: npt.NDArray[np.float64]
    _lat: npt.NDArray[np.float64]
    _lon_list: list[float]
    _lat_list: list[float]
    _cos_lat: list[float]

    def __init__(
        self, locations: Sequence[Location], model: HaversineModel, *, factor: int = 100
    ) -> None:
        for i, loc in enumerate(locations):
            if not loc.is_geographic:
                raise InputError("needs longitude/latitude", where=f"location {i}")
        lon = np.radians(np.array([loc.lon for loc in locations], dtype=np.float64))
        lat = np.radians(np.array([loc.lat for loc in locations], dtype=np.float64))
        self._init(lon, lat, model, factor)

    def _init(
        self,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        model: HaversineModel,
        factor: int,
    ) -> None:
        object.__setattr__(self, "_lon", lon)
        object.__setattr__(self, "_lat", lat)
        object.__setattr__(self, "_lon_list", lon.tolist())
        object.__setattr__(self, "_lat_list", lat.tolist())
        object.__setattr__(self, "_cos_lat", np.cos(lat).tolist())
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "durations", _Legs(self, 0))
        object.__setattr__(self, "distances", _Legs(self, 1))

    @classmethod
    def _of(
        cls,
        lon: npt.NDArray[np.float64],
        lat: npt.NDArray[np.float64],
        model: HaversineModel,
        factor: int,
    ) -> CoordinateMatrix:
        out = object.__new__(cls)
        out._init(lon, lat, model, factor)
        return out

    def scaled(self, speed_factor: float) -> CoordinateMatrix:
        """This matrix for a vehicle at ``speed_factor`` (VROOM's rounding per leg)."""
        return CoordinateMatrix._of(
            self._lon, self._lat, self.model, round(100 / speed_factor) * self.factor // 100
        )

    def subset(self, index: npt.NDArray[np.integer[Any]]) -> CoordinateMatrix:
        """The matrix of the locations ``index`` (in that order)."""
        return CoordinateMatrix._of(self._lon[index], self._lat[index], self.model, self.factor)

    def __reduce__(self) -> Any:
        return (CoordinateMatrix._of, (self._lon, self._lat, self.model, self.factor))

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    @property
    def size(self) -> int:
        return len(self._lon_list)

    @property
    def lon_lat_degrees(self) -> npt.NDArray[np.float64]:
        """The points as an (n, 2) array of degrees (longitude, latitude)."""
        return np.degrees(np.column_stack([self._lon, self._lat]))

    def leg(self, i: int, j: int) -> tuple[int, int]:
        """Duration (s) and distance (m) from location ``i`` to ``j``."""
        lon1, lat1, lon2, lat2 = (
            self._lon_list[i],
            self._lat_list[i],
            self._lon_list[j],
            self._lat_list[j],
        )
        h = (
            math.sin((lat2 - lat1) / 2) ** 2
            + self._cos_lat[i] * self._cos_lat[j] * math.sin((lon2 - lon1) / 2) ** 2
        )
        metres = 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h))) * self.model.detour_factor
        seconds = round(metres / (self.model.speed_kph / 3.6))
        return self._scale(seconds), round(metres)

    def _scale(self, seconds: int) -> int:
        return seconds if self.factor == 100 else (seconds * self.factor + 50) // 100

    def block(
        self, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]
    ) -> tuple[IntMatrix, IntMatrix]:
        """Durations and distances from each of ``rows`` to each of ``cols`` (int64)."""
        lon1, lat1 = self._lon[rows], self._lat[rows]
        lon2, lat2 = self._lon[cols], self._lat[cols]
        h = (
            np.sin((lat2[None, :] - lat1[:, None]) / 2) ** 2
            + np.cos(lat1[:, None])
            * np.cos(lat2[None, :])
            * np.sin((lon2[None, :] - lon1[:, None]) / 2) ** 2
        )
        metres = (
            2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h))) * self.model.detour_factor
        )
        seconds = np.rint(metres / (self.model.speed_kph / 3.6)).astype(np.int64)
        if self.factor != 100:
            seconds = (seconds * self.factor + 50) // 100
        return seconds, np.rint(metres).astype(np.int64)
