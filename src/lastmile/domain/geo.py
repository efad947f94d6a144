"""Places on the map."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lastmile.exceptions import InputError

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Location:
    """A point: longitude/latitude in degrees (WGS84), or planar x/y.

    Benchmark instances (Solomon, VRPLIB) live on a plane; ``planar=True`` marks
    them so nothing treats their coordinates as degrees. A location known only
    by its row in a given matrix has ``lon = lat = None``.
    """

    lon: float | None = None
    lat: float | None = None
    name: str = ""
    planar: bool = False

    def __post_init__(self) -> None:
        if (self.lon is None) != (self.lat is None):
            raise InputError("give both lon and lat, or neither", where="location")
        if self.lon is None or self.lat is None or self.planar:
            return
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise InputError(f"longitude must be in [-180, 180], got {self.lon}", where="lon")
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise InputError(f"latitude must be in [-90, 90], got {self.lat}", where="lat")

    @property
    def has_coordinates(self) -> bool:
        return self.lon is not None

    @property
    def is_geographic(self) -> bool:
        return self.lon is not None and not self.planar


def haversine_m(a: Location, b: Location) -> float:
    """Great-circle distance in metres between two geographic locations."""
    if a.lon is None or a.lat is None or b.lon is None or b.lat is None:
        raise InputError("haversine needs coordinates on both locations")
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))
