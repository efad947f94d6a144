"""Travel on a real road network: the ``TravelModel`` over a ``RoadNetwork``.

Locations are snapped onto the nearest road segment (not just the nearest node);
the travel time of a pair is that of the fastest path between the two snapped
points, and its distance is the length of that same path. The off-road leg
from a location to its snapped point is not counted; its length is reported
(``snap``) and locations beyond ``max_snap_m`` are flagged or refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.network import (
    ATTRIBUTION,
    DEFAULT_MAX_SNAP_M,
    RoadNetwork,
    SnapResult,
)

Floats = npt.NDArray[np.float64]

#: Departure (seconds since the plan epoch, or None) -> per-edge travel times.
EdgeTimeFn = Callable[[int | None], npt.ArrayLike]


@dataclass(frozen=True)
class RoutePath:
    """One route: its time, length and geometry (lon/lat pairs, WGS84).

    ``snap_m`` holds how far the first and last location were from the road.
    """

    duration_s: float
    distance_m: float
    coordinates: tuple[tuple[float, float], ...]
    snap_m: tuple[float, float] = (0.0, 0.0)
    attribution: str = field(default=ATTRIBUTION, compare=False)

    def geojson(self) -> dict[str, Any]:
        """The geometry as a GeoJSON LineString."""
        return {"type": "LineString", "coordinates": [list(c) for c in self.coordinates]}

    def feature(self) -> dict[str, Any]:
        """A GeoJSON Feature with the geometry and the route's figures."""
        return {
            "type": "Feature",
            "geometry": self.geojson(),
            "properties": {
                "duration_s": self.duration_s,
                "distance_m": self.distance_m,
                "snap_m": list(self.snap_m),
                "attribution": self.attribution,
            },
        }

    def polyline(self, *, precision: int = 5) -> str:
        """Google's encoded polyline (precision 5; OSRM's ``polyline6`` is 6)."""
        import polyline as _polyline

        return str(_polyline.encode([(lat, lon) for lon, lat in self.coordinates], precision))


def locations_lonlat(locations: Sequence[Location]) -> tuple[Floats, Floats]:
    """Longitude and latitude arrays; every location must be geographic."""
    for i, loc in enumerate(locations):
        if not loc.is_geographic:
            raise InputError("needs longitude/latitude", where=f"location {i}")
    lon = np.array([loc.lon for loc in locations], dtype=np.float64)
    lat = np.array([loc.lat for loc in locations], dtype=np.float64)
    return lon, lat


class RoadTravelModel:
    """Travel times and distances on a ``RoadNetwork``.

    ``edge_times`` maps a departure time to per-edge travel times (traffic by
    time of day, weather); without it the free-flow times are used.
    ``strict_snap`` refuses locations further than ``max_snap_m`` from any road
    (otherwise they are only listed by ``snap``).
    """

    def __init__(
        self,
        network: RoadNetwork,
        *,
        max_snap_m: float = DEFAULT_MAX_SNAP_M,
        strict_snap: bool = False,
        edge_times: EdgeTimeFn | None = None,
        note: str = "",
    ) -> None:
        if max_snap_m < 0:
            raise InputError(f"must be >= 0, got {max_snap_m}", where="max_snap_m")
        self.network = network
        self.max_snap_m = max_snap_m
        self.strict_snap = strict_snap
        self.edge_times = edge_times
        self.note = note

    @classmethod
    def from_pbf(cls, path: str | Path, *, profile: str = "car", **kwargs: Any) -> RoadTravelModel:
        """Load ``path`` for ``profile`` and wrap it (keyword arguments as ``__init__``)."""
        return cls(RoadNetwork.from_pbf(path, profile=profile), **kwargs)

    @property
    def description(self) -> str:
        net = self.network
        name = Path(net.source).name if net.source else "road network"
        timing = "free-flow speeds" if self.edge_times is None else "time-dependent speeds"
        extra = f", {self.note}" if self.note else ""
        return (
            f"road network {name} ({net.profile}, {net.n_nodes} nodes), fastest paths at "
            f"{timing}{extra}; {ATTRIBUTION}"
        )

    def _times(self, departure: int | None) -> Floats | None:
        if self.edge_times is None:
            return None
        return self.network.check_edge_time(self.edge_times(departure))

    def snap(self, locations: Sequence[Location]) -> SnapResult:
        """Where each location meets the road (raises for far ones when strict)."""
        lon, lat = locations_lonlat(locations)
        snaps = self.network.snap(lon, lat, max_snap_m=self.max_snap_m)
        if self.strict_snap and snaps.far.any():
            k = snaps.far_indices[0]
            raise InputError(
                f"{snaps.distance_m[k]:.0f} m from the nearest road "
                f"(limit {self.max_snap_m:g} m; {len(snaps.far_indices)} such locations)",
                where=f"location {k}",
            )
        return snaps

    def float_matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> tuple[Floats, Floats]:
        """Durations (s) and distances (m) as unrounded float arrays."""
        if not locations:
            return np.zeros((0, 0)), np.zeros((0, 0))
        snaps = self.snap(locations)
        return self.network.matrix(snaps, edge_time_s=self._times(departure))

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        durations, distances = self.float_matrix(locations, departure=departure)
        return TravelMatrix(
            durations=np.rint(durations).astype(np.int64),
            distances=np.rint(distances).astype(np.int64),
        )

    def path(self, a: Location, b: Location, *, departure: int | None = None) -> RoutePath:
        """The fastest path from ``a`` to ``b`` with its geometry."""
        snaps = self.snap([a, b])
        result = self.network.path(
            snaps.subset([0]), snaps.subset([1]), edge_time_s=self._times(departure)
        )
        coords = tuple(zip(result.lon.tolist(), result.lat.tolist(), strict=True))
        return RoutePath(
            duration_s=result.duration_s,
            distance_m=result.distance_m,
            coordinates=coords,
            snap_m=(float(snaps.distance_m[0]), float(snaps.distance_m[1])),
        )
