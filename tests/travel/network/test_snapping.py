"""Snapping points to the nearest road segment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lastmile.travel.network import RoadNetwork


def _load(name: str) -> ModuleType:
    """Import ``tests/travel/<name>.py`` (importlib mode puts no test folder on sys.path)."""
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).parents[1] / f"{name}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


def test_snap_onto_nodes_and_segments(monaco: RoadNetwork) -> None:
    k = 100
    at_node = monaco.snap(monaco.node_lon[k : k + 1], monaco.node_lat[k : k + 1])
    assert at_node.distance_m[0] < 0.01
    e = int(np.argmax(monaco.edge_length_m))
    u, v = int(monaco.edge_tail[e]), int(monaco.edge_head[e])
    mid_lon = (monaco.node_lon[u] + monaco.node_lon[v]) / 2
    mid_lat = (monaco.node_lat[u] + monaco.node_lat[v]) / 2
    snap = monaco.snap([mid_lon], [mid_lat])
    assert snap.distance_m[0] < 0.01
    assert {int(snap.node_a[0]), int(snap.node_b[0])} == {u, v}
    assert snap.fraction[0] == pytest.approx(0.5, abs=1e-6)
    assert e in (snap.edge_ab[0], snap.edge_ba[0])


def test_snap_matches_brute_force_nearest_segment(monaco: RoadNetwork) -> None:
    rng = np.random.default_rng(7)
    lon0, lat0, lon1, lat1 = monaco.bounds
    lon = rng.uniform(lon0, lon1, 150)
    lat = rng.uniform(lat0, lat1, 150)
    snap = monaco.snap(lon, lat)
    # Brute force in the same local projection: every segment for every point.
    kx = np.cos(np.radians(monaco.node_lat.mean()))
    x, y = monaco.node_lon * kx, monaco.node_lat
    t, h = monaco.edge_tail, monaco.edge_head
    ax, ay, dx, dy = x[t], y[t], x[h] - x[t], y[h] - y[t]
    for i in range(lon.shape[0]):
        qx, qy = lon[i] * kx, lat[i]
        norm2 = np.maximum(dx * dx + dy * dy, 1e-30)  # some nodes share one spot
        s = np.clip(((qx - ax) * dx + (qy - ay) * dy) / norm2, 0, 1)
        d = np.hypot(ax + s * dx - qx, ay + s * dy - qy).min()
        got = np.hypot(snap.snapped_lon[i] * kx - qx, snap.snapped_lat[i] - lat[i])
        assert got == pytest.approx(d, rel=1e-6, abs=1e-12)
    assert (snap.far == (snap.distance_m > 200)).all()


def test_far_points_are_flagged(monaco: RoadNetwork) -> None:
    # 5 km out to sea south of Monaco, and a point on a road.
    snap = monaco.snap([7.42, monaco.node_lon[0]], [43.68, monaco.node_lat[0]], max_snap_m=200)
    assert snap.far.tolist() == [True, False]
    assert snap.far_indices == [0]
    assert snap.distance_m[0] > 1000
