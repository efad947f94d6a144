"""What road network queries return, and the array types they are made of.

``SnapResult`` says where points meet the network; ``PathResult`` is one
fastest path. Both are plain numpy arrays, shared by the snapping, the chain
graph search and the network that ties them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SnapResult:
    """Where each point meets the network.

    Point ``k`` lies on the segment between nodes ``node_a[k]`` and
    ``node_b[k]`` at ``fraction[k]`` (0 at a, 1 at b), at ``snapped_lon/lat``,
    ``distance_m[k]`` metres from where it was asked. ``edge_ab``/``edge_ba``
    are the directed edges along that segment (-1 where a one-way street has
    none). ``far`` marks points further than ``max_snap_m`` from any road.
    """

    lon: Floats
    lat: Floats
    node_a: Ints
    node_b: Ints
    fraction: Floats
    edge_ab: Ints
    edge_ba: Ints
    snapped_lon: Floats
    snapped_lat: Floats
    distance_m: Floats
    max_snap_m: float
    far: Bools = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "far", self.distance_m > self.max_snap_m)

    def __len__(self) -> int:
        return int(self.lon.shape[0])

    @property
    def far_indices(self) -> list[int]:
        """Indices of the points further than ``max_snap_m`` from any road."""
        return [int(i) for i in np.flatnonzero(self.far)]

    def subset(self, index: Sequence[int] | Ints) -> SnapResult:
        """The rows ``index`` of this result, in that order."""
        idx = np.asarray(index, dtype=np.int64)
        return SnapResult(
            lon=self.lon[idx],
            lat=self.lat[idx],
            node_a=self.node_a[idx],
            node_b=self.node_b[idx],
            fraction=self.fraction[idx],
            edge_ab=self.edge_ab[idx],
            edge_ba=self.edge_ba[idx],
            snapped_lon=self.snapped_lon[idx],
            snapped_lat=self.snapped_lat[idx],
            distance_m=self.distance_m[idx],
            max_snap_m=self.max_snap_m,
        )


@dataclass(frozen=True)
class PathResult:
    """The fastest path between two snapped points.

    ``lon``/``lat`` run from the first snapped point through every road node to
    the last snapped point (at least two positions). ``edges`` are the network
    edges used, partly for the first and last.
    """

    duration_s: float
    distance_m: float
    lon: Floats
    lat: Floats
    edges: Ints
