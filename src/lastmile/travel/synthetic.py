"""Small synthetic road networks with the road-network data contract, for tests and demos.

:func:`grid_network` lays out a Manhattan grid around a point: every
``arterial_every``-th street is a ``primary`` road at 50 km/h, the others
``residential`` at 30 km/h, all two-way. It has the same arrays as a network
loaded from OpenStreetMap, so every time-dependent tool runs on it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lastmile.domain import Location
from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError


@dataclass(frozen=True)
class GridNetwork:
    """A road network as plain arrays (see :class:`lastmile.travel.time_dependent.RoadGraph`)."""

    edge_tail: npt.NDArray[np.int64]
    edge_head: npt.NDArray[np.int64]
    edge_length_m: npt.NDArray[np.float64]
    edge_freeflow_s: npt.NDArray[np.float64]
    edge_class: npt.NDArray[np.int64]
    class_names: Sequence[str]
    node_lon: npt.NDArray[np.float64]
    node_lat: npt.NDArray[np.float64]
    name: str = field(default="grid")

    @property
    def num_nodes(self) -> int:
        return len(self.node_lon)

    def locations(self, nodes: Sequence[int]) -> list[Location]:
        """Locations exactly at ``nodes``."""
        return [
            Location(lon=float(self.node_lon[n]), lat=float(self.node_lat[n]), name=f"n{n}")
            for n in nodes
        ]


def grid_network(
    *,
    rows: int = 20,
    cols: int = 20,
    spacing_m: float = 150.0,
    arterial_every: int = 5,
    center: tuple[float, float] = (7.42, 43.735),
    jitter: float = 0.1,
    seed: int = 0,
) -> GridNetwork:
    """A ``rows`` x ``cols`` grid; edge lengths vary by up to ``jitter`` (a share) at random."""
    if rows < 2 or cols < 2:
        raise InputError(f"needs at least 2x2 nodes, got {rows}x{cols}", where="grid")
    if spacing_m <= 0:
        raise InputError(f"must be > 0, got {spacing_m}", where="spacing_m")
    rng = np.random.default_rng(seed)
    lon0, lat0 = center
    r, c = np.divmod(np.arange(rows * cols), cols)
    dlat = math.degrees(spacing_m / EARTH_RADIUS_M)
    dlon = dlat / math.cos(math.radians(lat0))
    node_lat = lat0 + (r - (rows - 1) / 2) * dlat
    node_lon = lon0 + (c - (cols - 1) / 2) * dlon
    tails, heads, classes = [], [], []
    for i in range(rows):
        for j in range(cols):
            a = i * cols + j
            if j + 1 < cols:  # east-west street of row i
                tails.append(a)
                heads.append(a + 1)
                classes.append(0 if i % arterial_every == 0 else 1)
            if i + 1 < rows:  # north-south street of column j
                tails.append(a)
                heads.append(a + cols)
                classes.append(0 if j % arterial_every == 0 else 1)
    t = np.array(tails, dtype=np.int64)
    h = np.array(heads, dtype=np.int64)
    k = np.array(classes, dtype=np.int64)
    length = spacing_m * (1.0 + jitter * rng.uniform(-1.0, 1.0, len(t)))
    speed_mps = np.where(k == 0, 50.0, 30.0) / 3.6
    return GridNetwork(
        edge_tail=np.concatenate([t, h]),
        edge_head=np.concatenate([h, t]),
        edge_length_m=np.concatenate([length, length]),
        edge_freeflow_s=np.concatenate([length, length]) / np.concatenate([speed_mps, speed_mps]),
        edge_class=np.concatenate([k, k]),
        class_names=("primary", "residential"),
        node_lon=node_lon.astype(np.float64),
        node_lat=node_lat.astype(np.float64),
        name=f"grid {rows}x{cols}",
    )
