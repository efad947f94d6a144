"""Snap results: far points, subsets in any order."""

from __future__ import annotations

import numpy as np

from lastmile.travel.network.results import SnapResult


def _snaps() -> SnapResult:
    n = 4
    return SnapResult(
        lon=np.arange(n, dtype=np.float64),
        lat=np.arange(n, dtype=np.float64) + 40,
        node_a=np.arange(n, dtype=np.int64),
        node_b=np.arange(n, dtype=np.int64) + 1,
        fraction=np.array([0.0, 0.25, 0.5, 1.0]),
        edge_ab=np.array([0, 1, -1, 3], dtype=np.int64),
        edge_ba=np.array([4, -1, 6, 7], dtype=np.int64),
        snapped_lon=np.arange(n, dtype=np.float64) + 0.5,
        snapped_lat=np.arange(n, dtype=np.float64) + 40.5,
        distance_m=np.array([10.0, 250.0, 200.0, 201.0]),
        max_snap_m=200.0,
    )


def test_points_beyond_the_snap_distance_are_far() -> None:
    snaps = _snaps()
    assert len(snaps) == 4
    assert snaps.far.tolist() == [False, True, False, True]
    assert snaps.far_indices == [1, 3]


def test_subset_keeps_rows_in_the_order_asked_and_recomputes_far() -> None:
    snaps = _snaps()
    sub = snaps.subset([3, 0, 3])
    assert len(sub) == 3
    assert sub.node_a.tolist() == [3, 0, 3]
    assert sub.edge_ab.tolist() == [3, 0, 3] and sub.edge_ba.tolist() == [7, 4, 7]
    assert sub.fraction.tolist() == [1.0, 0.0, 1.0]
    assert sub.distance_m.tolist() == [201.0, 10.0, 201.0]
    assert sub.far.tolist() == [True, False, True]
    assert sub.max_snap_m == snaps.max_snap_m
    assert snaps.subset(np.array([], dtype=np.int64)).far_indices == []
