"""What the maps show, as GeoJSON (no HTTP here).

:class:`RoadMap` draws the roads of the process's road network (the default
profile's) once, then answers each box and simplification from what it has kept:
every line that may cross the box, with only the vertices more than the
tolerance off it, coordinates rounded to about a metre. A service without a road
network (straight lines, or an OSRM server) has no roads to draw: 404.

A route's geometry follows its vehicle profile's roads through the route's
visits in order (depot, stops, depot) when the service has a road network, each
leg simplified (2 m by default; the visits are always kept) and the lines kept
per process by the points they go through; otherwise it is straight lines
between the visits. ``properties.geometry`` says which.
"""

from __future__ import annotations

import collections
import gzip
import hashlib
import json
import math
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.exceptions import InputError
from lastmile.service.errors import NotFound
from lastmile.service.fleet.models import Vehicle, VehicleType
from lastmile.service.plans.models import Plan, Route
from lastmile.service.travel import DEFAULT_PROFILE, ServiceTravel
from lastmile.travel.network.drawing import Box, RoadLine, path_line, road_lines

#: Default simplification of the roads (metres).
DEFAULT_TOLERANCE_M = 5.0
#: Largest simplification asked for (metres).
MAX_TOLERANCE_M = 200.0
#: Answers (box and tolerance) kept per process.
KEPT_ANSWERS = 32
#: Simplified drawings of the whole network (one per tolerance) kept per process.
KEPT_DRAWINGS = 4
#: Default simplification of routes' lines (metres; the stops are always kept).
DEFAULT_ROUTE_TOLERANCE_M = 2.0
#: Routes' lines kept per process.
KEPT_PATHS = 1024
#: Decimal places of the roads' coordinates (about a metre).
ROAD_DECIMALS = 5
#: Decimal places of routes' coordinates (about 10 cm).
ROUTE_DECIMALS = 6


#: A route's line: (network key, the points it goes through, tolerance).
_PathKey = tuple[str, tuple[tuple[float, float], ...], float]


@dataclass(frozen=True)
class RoadsAnswer:
    """A roads answer, encoded once: the GeoJSON text (also gzip-compressed) and its
    entity tag."""

    body: bytes
    gzipped: bytes
    etag: str
    lines: int
    vertices: int


def parse_bbox(text: str | None) -> Box | None:
    """``minlon,minlat,maxlon,maxlat`` as a box (None when not given)."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise InputError(
            f"expected minlon,minlat,maxlon,maxlat (4 numbers), got {len(parts)} values",
            where="bbox",
        )
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"expected numbers, got {text!r}", where="bbox") from None
    min_lon, min_lat, max_lon, max_lat = values
    if not all(math.isfinite(v) for v in values):
        raise InputError("coordinates must be finite", where="bbox")
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise InputError("longitudes must be within -180..180", where="bbox")
    if not (-90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise InputError("latitudes must be within -90..90", where="bbox")
    if min_lon > max_lon or min_lat > max_lat:
        raise InputError("the minimum must not exceed the maximum", where="bbox")
    return (min_lon, min_lat, max_lon, max_lat)


def check_tolerance(tolerance_m: float) -> float:
    """``tolerance_m`` when it is a simplification one may ask for (metres)."""
    if not (0 <= tolerance_m <= MAX_TOLERANCE_M):
        raise InputError(
            f"must be between 0 and {MAX_TOLERANCE_M:g} metres, got {tolerance_m:g}",
            where="simplify",
        )
    return tolerance_m


def no_network_reason(travel: ServiceTravel) -> str | None:
    """Why the service has no roads to draw (None when it has a road network)."""
    if travel.spec is not None:
        return None
    kind = travel.describe().get("kind")
    if kind == "straight_line":
        return (
            "this service plans on straight lines: no road network is configured "
            "(LASTMILE_NETWORK, serve --network)"
        )
    if kind == "osrm":
        return (
            "this service times travel on an OSRM server and has no road network loaded "
            "to draw (LASTMILE_NETWORK)"
        )
    return f"this service's travel model ({kind}) has no road network to draw (LASTMILE_NETWORK)"


class RoadMap:
    """The roads of the process's road network, drawn once and kept (thread-safe)."""

    def __init__(self, travel: ServiceTravel) -> None:
        self.travel = travel
        self._lines: list[RoadLine] | None = None
        self._simplified: dict[float, list[RoadLine]] = {}
        self._answers: collections.OrderedDict[tuple[Box | None, float], RoadsAnswer]
        self._answers = collections.OrderedDict()
        self._paths: collections.OrderedDict[_PathKey, tuple[list[float], list[float]]]
        self._paths = collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def on_roads(self) -> bool:
        """Whether routes are drawn along roads (the service has a road network)."""
        return self.travel.spec is not None

    def path(
        self, profile: str, points: Sequence[tuple[float, float]], tolerance_m: float
    ) -> tuple[list[float], list[float]]:
        """The line along ``profile``'s roads through ``points`` (kept per process for
        the last :data:`KEPT_PATHS` routes asked for)."""
        key = (self.travel.network_key(profile), tuple(points), tolerance_m)
        with self._lock:
            found = self._paths.get(key)
            if found is not None:
                self._paths.move_to_end(key)
                return found
        line = path_line(self.travel.network(profile), points, tolerance_m=tolerance_m)
        with self._lock:
            self._paths[key] = line
            while len(self._paths) > KEPT_PATHS:
                self._paths.popitem(last=False)
        return line

    def _drawn(self, tolerance_m: float) -> list[RoadLine]:
        with self._lock:
            found = self._simplified.get(tolerance_m)
            lines = self._lines
        if found is not None:
            return found
        if lines is None:
            lines = road_lines(self.travel.network(DEFAULT_PROFILE))
        simplified = [line.simplified(tolerance_m) for line in lines]
        with self._lock:
            self._lines = lines
            if tolerance_m not in self._simplified and len(self._simplified) >= KEPT_DRAWINGS:
                self._simplified.pop(next(iter(self._simplified)))
            return self._simplified.setdefault(tolerance_m, simplified)

    def roads(self, *, bbox: Box | None, tolerance_m: float) -> RoadsAnswer:
        """The roads that may cross ``bbox`` (all when None), simplified to
        ``tolerance_m``, as a GeoJSON FeatureCollection of LineStrings with
        ``properties.major`` (404 without a road network)."""
        reason = no_network_reason(self.travel)
        if reason is not None:
            raise NotFound(reason)
        tolerance_m = check_tolerance(float(tolerance_m))
        key = (bbox, tolerance_m)
        with self._lock:
            kept = self._answers.get(key)
            if kept is not None:
                self._answers.move_to_end(key)
                return kept
        lines = self._drawn(tolerance_m)
        if bbox is not None:
            lines = [line for line in lines if line.meets(bbox)]
        answer = _encode_roads(lines)
        with self._lock:
            self._answers[key] = answer
            while len(self._answers) > KEPT_ANSWERS:
                self._answers.popitem(last=False)
        return answer


def _encode_roads(lines: Sequence[RoadLine]) -> RoadsAnswer:
    features = [
        {
            "type": "Feature",
            "properties": {"major": line.major},
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [round(x, ROAD_DECIMALS), round(y, ROAD_DECIMALS)]
                    for x, y in zip(line.lon.tolist(), line.lat.tolist(), strict=True)
                ],
            },
        }
        for line in lines
    ]
    body = json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":")
    ).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return RoadsAnswer(
        body=body,
        gzipped=gzip.compress(body, mtime=0),
        etag=etag,
        lines=len(lines),
        vertices=sum(len(line.lon) for line in lines),
    )


# -- routes ---------------------------------------------------------------------------------


def plan_geometry(
    session: Session,
    *,
    plan: Plan,
    road_map: RoadMap,
    tolerance_m: float = DEFAULT_ROUTE_TOLERANCE_M,
) -> dict[str, Any]:
    """A FeatureCollection with one LineString per route of ``plan`` (see the module
    docstring); ``properties.colour`` is the route's place in the plan."""
    tolerance_m = check_tolerance(float(tolerance_m))
    return _collection(session, list(enumerate(plan.routes)), road_map, tolerance_m)


def route_geometry(
    session: Session,
    *,
    route: Route,
    road_map: RoadMap,
    tolerance_m: float = DEFAULT_ROUTE_TOLERANCE_M,
) -> dict[str, Any]:
    """The FeatureCollection of one route (its ``colour`` as in its plan's)."""
    tolerance_m = check_tolerance(float(tolerance_m))
    plan = session.get(Plan, route.plan_id)
    routes = plan.routes if plan is not None else [route]
    colour = next((k for k, r in enumerate(routes) if r.id == route.id), 0)
    return _collection(session, [(colour, route)], road_map, tolerance_m)


def _collection(
    session: Session, routes: list[tuple[int, Route]], road_map: RoadMap, tolerance_m: float
) -> dict[str, Any]:
    vehicle_ids = {r.vehicle_id for _, r in routes}
    rows = (
        session.execute(
            select(Vehicle, VehicleType.profile)
            .join(VehicleType, VehicleType.id == Vehicle.type_id)
            .where(Vehicle.id.in_(vehicle_ids))
        ).all()
        if vehicle_ids
        else []
    )
    vehicles: dict[uuid.UUID, tuple[Vehicle, str]] = {v.id: (v, p) for v, p in rows}
    features = []
    for colour, route in routes:
        vehicle, profile = vehicles.get(route.vehicle_id, (None, DEFAULT_PROFILE))
        points = _distinct(
            [
                (float(v.lon), float(v.lat))
                for v in route.visits
                if v.lon is not None and v.lat is not None
            ]
        )
        if road_map.on_roads and len(points) >= 2:
            lon, lat = road_map.path(profile, points, tolerance_m)
        else:
            lon, lat = [p[0] for p in points], [p[1] for p in points]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "route_id": str(route.id),
                    "vehicle_id": str(route.vehicle_id),
                    "vehicle_name": vehicle.name if vehicle is not None else "",
                    "colour": colour,
                    "geometry": "road" if road_map.on_roads else "straight_line",
                },
                "geometry": _geojson_line(lon, lat),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _distinct(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for p in points:
        if not out or p != out[-1]:
            out.append(p)
    return out


def _geojson_line(lon: Sequence[float], lat: Sequence[float]) -> dict[str, Any] | None:
    coordinates = [
        [round(x, ROUTE_DECIMALS), round(y, ROUTE_DECIMALS)] for x, y in zip(lon, lat, strict=True)
    ]
    if len(coordinates) < 2:
        return None  # a route that never leaves its place has no line
    return {"type": "LineString", "coordinates": coordinates}
