"""Drawing a road network: its roads as polylines, and paths through given points.

``road_lines(network)`` joins the network's segments (each street once, whatever
its directions) into polylines that run from junction to junction, or to where a
road changes between major and minor; ``RoadLine.simplified(tolerance_m)``
drops the vertices a map does not need (Douglas-Peucker, in metres), and
``RoadLine.meets(bbox)`` says whether a line may cross a box.

``path_line(network, points)`` is the line a vehicle drives through ``points`` in
order: from each point to the road, the fastest free-flow path to the next
point's place on the road, and on to that point (each leg simplified when asked).

OSM data is (c) OpenStreetMap contributors, ODbL; see ``ATTRIBUTION``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lastmile.exceptions import InputError
from lastmile.travel.network.results import Floats
from lastmile.travel.network.road_network import RoadNetwork

#: Road classes drawn as major roads.
MAJOR_CLASSES = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
    }
)
_M_PER_DEG_LAT = 111_320.0

#: (min_lon, min_lat, max_lon, max_lat)
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class RoadLine:
    """One drawn road: ``lon``/``lat`` of its vertices (at least two), whether it is
    a major road, and its bounding box."""

    lon: Floats
    lat: Floats
    major: bool

    @property
    def box(self) -> Box:
        return (
            float(self.lon.min()),
            float(self.lat.min()),
            float(self.lon.max()),
            float(self.lat.max()),
        )

    def meets(self, box: Box) -> bool:
        """Whether the line's bounding box overlaps ``box``."""
        lo_lon, lo_lat, hi_lon, hi_lat = self.box
        return not (lo_lon > box[2] or hi_lon < box[0] or lo_lat > box[3] or hi_lat < box[1])

    def simplified(self, tolerance_m: float) -> RoadLine:
        """The line with only the vertices more than ``tolerance_m`` off the
        simplified line (both ends always kept)."""
        if tolerance_m <= 0 or len(self.lon) <= 2:
            return self
        keep = _douglas_peucker(self.lon, self.lat, tolerance_m)
        return RoadLine(lon=self.lon[keep], lat=self.lat[keep], major=self.major)


def _douglas_peucker(lon: Floats, lat: Floats, tolerance_m: float) -> np.ndarray:
    """Which vertices to keep (a boolean mask), in a local metric projection."""
    scale = np.cos(np.radians(float(lat.mean()))) * _M_PER_DEG_LAT
    x = (lon - lon[0]) * scale
    y = (lat - lat[0]) * _M_PER_DEG_LAT
    keep = np.zeros(len(lon), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(lon) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        dx, dy = x[b] - x[a], y[b] - y[a]
        px, py = x[a + 1 : b] - x[a], y[a + 1 : b] - y[a]
        length = float(np.hypot(dx, dy))
        off = np.hypot(px, py) if length == 0.0 else np.abs(px * dy - py * dx) / length
        k = int(np.argmax(off))
        if off[k] > tolerance_m:
            middle = a + 1 + k
            keep[middle] = True
            stack.append((a, middle))
            stack.append((middle, b))
    return keep


def road_lines(network: RoadNetwork) -> list[RoadLine]:
    """The network's roads, each street segment once, joined into polylines between
    junctions (and where a road turns from major to minor)."""
    major_class = np.array([name in MAJOR_CLASSES for name in network.class_names], dtype=bool)
    tail, head = network.edge_tail, network.edge_head
    a, b = np.minimum(tail, head), np.maximum(tail, head)
    key = a * network.n_nodes + b
    pairs, first = np.unique(key, return_index=True)
    seg_a, seg_b = a[first], b[first]
    # A street with a major direction is drawn major.
    seg_major = np.zeros(len(first), dtype=bool)
    np.logical_or.at(seg_major, np.searchsorted(pairs, key), major_class[network.edge_class])
    incident: dict[int, list[int]] = {}
    for s, (u, v) in enumerate(zip(seg_a.tolist(), seg_b.tolist(), strict=True)):
        incident.setdefault(u, []).append(s)
        incident.setdefault(v, []).append(s)

    def passes(node: int) -> bool:
        """Whether a line runs on through ``node`` (two segments of one kind)."""
        segs = incident[node]
        return len(segs) == 2 and bool(seg_major[segs[0]] == seg_major[segs[1]])

    used = np.zeros(len(first), dtype=bool)
    ends = [n for n in incident if not passes(n)]
    lines: list[RoadLine] = []

    def walk(start: int, seg: int) -> None:
        nodes = [start]
        node = start
        while True:
            used[seg] = True
            node = int(seg_b[seg]) if int(seg_a[seg]) == node else int(seg_a[seg])
            nodes.append(node)
            if node == start or not passes(node):
                break
            nxt = next((s for s in incident[node] if not used[s]), None)
            if nxt is None:
                break
            seg = nxt
        idx = np.asarray(nodes, dtype=np.int64)
        lines.append(
            RoadLine(
                lon=network.node_lon[idx], lat=network.node_lat[idx], major=bool(seg_major[seg])
            )
        )

    for node in ends:
        for seg in incident[node]:
            if not used[seg]:
                walk(node, seg)
    for seg in np.flatnonzero(~used).tolist():  # closed loops with no junction
        if not used[seg]:
            walk(int(seg_a[seg]), seg)
    return lines


def path_line(
    network: RoadNetwork, points: Sequence[tuple[float, float]], *, tolerance_m: float = 0.0
) -> tuple[list[float], list[float]]:
    """``(lon, lat)`` of the line through ``points`` ((lon, lat) each, at least one)
    along the roads: each point joins the road where it snaps, and the fastest
    free-flow path runs between those places. Repeated points add nothing. With
    ``tolerance_m``, each leg is simplified (:meth:`RoadLine.simplified`); the
    points themselves are always kept."""
    if not points:
        raise InputError("needs at least one point", where="points")
    kept = [points[0]]
    for p in points[1:]:
        if p != kept[-1]:
            kept.append(p)
    lon = [float(p[0]) for p in kept]
    lat = [float(p[1]) for p in kept]
    out_lon, out_lat = [lon[0]], [lat[0]]
    if len(kept) == 1:
        return out_lon, out_lat
    snaps = network.snap(lon, lat)
    for k in range(len(kept) - 1):
        path = network.path(snaps.subset([k]), snaps.subset([k + 1]))
        leg = RoadLine(
            lon=np.concatenate(([lon[k]], path.lon, [lon[k + 1]])),
            lat=np.concatenate(([lat[k]], path.lat, [lat[k + 1]])),
            major=False,
        ).simplified(tolerance_m)
        out_lon.extend(leg.lon[1:].tolist())
        out_lat.extend(leg.lat[1:].tolist())
    return _without_repeats(out_lon, out_lat)


def _without_repeats(lon: list[float], lat: list[float]) -> tuple[list[float], list[float]]:
    keep_lon, keep_lat = [lon[0]], [lat[0]]
    for x, y in zip(lon[1:], lat[1:], strict=True):
        if x != keep_lon[-1] or y != keep_lat[-1]:
            keep_lon.append(x)
            keep_lat.append(y)
    return keep_lon, keep_lat


__all__ = ["MAJOR_CLASSES", "Box", "RoadLine", "path_line", "road_lines"]
