"""Snapping points to a road network: the nearest point on any road segment.

A KD-tree over points sampled every few metres along every segment finds the
candidate segments near each point; the exact nearest one among them wins.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import numpy.typing as npt

from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.travel.network.geometry import haversine_m_array
from lastmile.travel.network.results import Floats, Ints, SnapResult

#: Points further than this (m) from any road are flagged as ``far`` by default.
DEFAULT_MAX_SNAP_M = 200.0
_SAMPLE_SPACING_M = 20.0


class SnapGraph(Protocol):
    """What snapping reads from a road network (see ``RoadNetwork``)."""

    node_lon: Floats
    node_lat: Floats
    edge_tail: Ints
    edge_head: Ints

    @property
    def n_nodes(self) -> int: ...

    def edge_indices(self, tail: npt.ArrayLike, head: npt.ArrayLike) -> Ints: ...


class Snapper:
    """KD-tree over points sampled along every segment, exact nearest segment."""

    def __init__(self, net: SnapGraph) -> None:
        from scipy.spatial import cKDTree

        self.net = net
        self.lat0 = float(np.mean(net.node_lat)) if net.n_nodes else 0.0
        self.kx = EARTH_RADIUS_M * math.cos(math.radians(self.lat0)) * math.pi / 180
        self.ky = EARTH_RADIUS_M * math.pi / 180
        a = np.minimum(net.edge_tail, net.edge_head)
        b = np.maximum(net.edge_tail, net.edge_head)
        pairs = np.unique(np.stack([a, b], axis=1), axis=0)
        self.seg_a = pairs[:, 0]
        self.seg_b = pairs[:, 1]
        x, y = self.project(net.node_lon, net.node_lat)
        self.x, self.y = x, y
        seg_len = np.hypot(x[self.seg_b] - x[self.seg_a], y[self.seg_b] - y[self.seg_a])
        counts = np.maximum(1, np.ceil(seg_len / _SAMPLE_SPACING_M).astype(np.int64)) + 1
        seg_of = np.repeat(np.arange(pairs.shape[0]), counts)
        starts = np.cumsum(counts) - counts
        pos = (np.arange(seg_of.shape[0]) - starts[seg_of]) / (counts[seg_of] - 1)
        sx = x[self.seg_a[seg_of]] + pos * (x[self.seg_b[seg_of]] - x[self.seg_a[seg_of]])
        sy = y[self.seg_a[seg_of]] + pos * (y[self.seg_b[seg_of]] - y[self.seg_a[seg_of]])
        self.sample_seg = seg_of
        self.tree = cKDTree(np.stack([sx, sy], axis=1))
        # Samples lie at most half a spacing from any point of their segment.
        self.slack_m = float((seg_len / (counts - 1)).max() / 2) if seg_len.size else 0.0

    def project(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        return np.asarray(lon * self.kx), np.asarray(lat * self.ky)

    def snap(self, lon: Floats, lat: Floats, max_snap_m: float) -> SnapResult:
        net = self.net
        px, py = self.project(lon, lat)
        pts = np.stack([px, py], axis=1)
        d0, _ = self.tree.query(pts)
        cand = self.tree.query_ball_point(pts, d0 + self.slack_m + 1e-6)
        lens = np.fromiter((len(c) for c in cand), dtype=np.int64, count=len(cand))
        point_of = np.repeat(np.arange(len(cand)), lens)
        seg = self.sample_seg[np.concatenate([np.asarray(c, dtype=np.int64) for c in cand])]
        ax, ay = self.x[self.seg_a[seg]], self.y[self.seg_a[seg]]
        dx, dy = self.x[self.seg_b[seg]] - ax, self.y[self.seg_b[seg]] - ay
        qx, qy = px[point_of], py[point_of]
        norm2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(norm2 > 0, ((qx - ax) * dx + (qy - ay) * dy) / norm2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        d2 = (ax + t * dx - qx) ** 2 + (ay + t * dy - qy) ** 2
        # Per point: the candidate with the least distance (ties: lowest segment).
        order = np.lexsort((seg, d2, point_of))
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = point_of[order][1:] != point_of[order][:-1]
        best = order[first]
        s = seg[best]
        frac = t[best]
        a, b = self.seg_a[s], self.seg_b[s]
        slon = net.node_lon[a] + frac * (net.node_lon[b] - net.node_lon[a])
        slat = net.node_lat[a] + frac * (net.node_lat[b] - net.node_lat[a])
        edge_ab = net.edge_indices(a, b)
        edge_ba = net.edge_indices(b, a)
        return SnapResult(
            lon=lon,
            lat=lat,
            node_a=a.astype(np.int64),
            node_b=b.astype(np.int64),
            fraction=frac,
            edge_ab=edge_ab,
            edge_ba=edge_ba,
            snapped_lon=slon,
            snapped_lat=slat,
            distance_m=haversine_m_array(lon, lat, slon, slat),
            max_snap_m=float(max_snap_m),
        )
