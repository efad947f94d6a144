"""Matrices and paths on the chain graph equal an independent Dijkstra over every OSM node."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.exceptions import InputError
from lastmile.travel.network import RoadNetwork, SnapResult
from lastmile.travel.network.geometry import haversine_m_array


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
reference = _load("road_reference")


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


def random_points(net: RoadNetwork, n: int, seed: int) -> SnapResult:
    """Points near roads: road nodes moved up to ~100 m, plus a few exactly on nodes."""
    rng = np.random.default_rng(seed)
    k = rng.choice(net.n_nodes, n, replace=False)
    lon = net.node_lon[k] + rng.normal(0, 0.0005, n)
    lat = net.node_lat[k] + rng.normal(0, 0.0005, n)
    lon[:3], lat[:3] = net.node_lon[k[:3]], net.node_lat[k[:3]]
    return net.snap(lon, lat)


def test_matrix_equals_independent_dijkstra(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 60, seed=1)
    dur, dist = monaco.matrix(snaps)
    rows = list(range(0, 60, 7))
    ref_dur, ref_dist = reference.reference_matrix(monaco, snaps, sources=rows)
    assert np.isfinite(dur).all()
    np.testing.assert_allclose(dur[rows], ref_dur, rtol=0, atol=1e-6)
    # Distances are those of the fastest path (equal times: the shorter one).
    np.testing.assert_allclose(dist[rows], ref_dist, rtol=0, atol=1e-6)
    assert (np.diag(dur) == 0).all() and (np.diag(dist) == 0).all()


def test_matrix_with_custom_edge_times_equals_dijkstra(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 40, seed=2)
    rng = np.random.default_rng(3)
    times = monaco.edge_freeflow_s * rng.uniform(1.0, 3.0, monaco.n_edges)
    dur, dist = monaco.matrix(snaps, edge_time_s=times)
    rows = [0, 5, 17, 39]
    ref_dur, ref_dist = reference.reference_matrix(monaco, snaps, edge_time_s=times, sources=rows)
    np.testing.assert_allclose(dur[rows], ref_dur, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dist[rows], ref_dist, rtol=0, atol=1e-6)
    # Slower edges never make a trip faster.
    free, _ = monaco.matrix(snaps)
    assert (dur >= free - 1e-9).all()


def test_rectangular_matrix_and_duplicate_points(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 12, seed=4)
    full, full_d = monaco.matrix(snaps)
    src = snaps.subset([3, 3, 7])
    dur, dist = monaco.matrix(src, snaps)
    assert dur.shape == (3, 12)
    np.testing.assert_array_equal(dur[0], full[3])
    np.testing.assert_array_equal(dur[1], full[3])
    np.testing.assert_array_equal(dist[2], full_d[7])


LAT0 = 45.0


# A one-way triangle 3 -> 4 -> 1 closed by a two-way street 1 - 2 - 3.
NODES = {1: (0.000, LAT0), 2: (0.001, LAT0), 3: (0.002, LAT0), 4: (0.001, LAT0 + 0.001)}


WAYS = [
    (10, [1, 2, 3], {"highway": "residential"}),
    (11, [3, 4, 1], {"highway": "primary", "oneway": "yes", "maxspeed": "30 mph"}),
]


def test_points_on_one_oneway_edge_go_ahead_directly_or_around(tmp_path: Path) -> None:
    net = RoadNetwork.from_pbf(helpers.write_osm(tmp_path / "t.osm", NODES, WAYS), cache=False)
    ids = net.node_id.tolist()
    e34 = net.edge_index(ids.index(3), ids.index(4))
    u, v = int(net.edge_tail[e34]), int(net.edge_head[e34])
    lon = net.node_lon[u] + np.array([0.25, 0.75]) * (net.node_lon[v] - net.node_lon[u])
    lat = net.node_lat[u] + np.array([0.25, 0.75]) * (net.node_lat[v] - net.node_lat[u])
    snaps = net.snap(lon, lat)
    dur, dist = net.matrix(snaps)
    w = net.edge_freeflow_s
    assert dur[0, 1] == pytest.approx(0.5 * w[e34], abs=1e-9)
    loop = w.sum() - w[e34]  # every other edge of the triangle, one way round
    others = [net.edge_index(ids.index(a), ids.index(b)) for a, b in ((4, 1), (1, 2), (2, 3))]
    assert dur[1, 0] == pytest.approx(0.5 * w[e34] + sum(w[k] for k in others), abs=1e-9)
    assert loop > 0
    ref_dur, ref_dist = reference.reference_matrix(net, snaps)
    np.testing.assert_allclose(dur, ref_dur, atol=1e-9)
    np.testing.assert_allclose(dist, ref_dist, atol=1e-9)
    back = net.path(snaps.subset([1]), snaps.subset([0]))
    assert back.duration_s == pytest.approx(dur[1, 0], abs=1e-9)
    # The path leaves forwards along the one-way street and comes round to it again.
    assert back.edges[0] == e34 and back.edges[-1] == e34


def path_time_from_edges(net: RoadNetwork, path_edges: np.ndarray, a: SnapResult,
                         b: SnapResult) -> float:  # fmt: skip
    """Re-add a path's time from its edges: partial first and last edge."""

    def frac_on(snap: SnapResult, e: int) -> float:
        return float(snap.fraction[0] if snap.edge_ab[0] == e else 1.0 - snap.fraction[0])

    w = net.edge_freeflow_s
    if len(path_edges) == 1:
        e = int(path_edges[0])
        return (frac_on(b, e) - frac_on(a, e)) * float(w[e])
    first, last = int(path_edges[0]), int(path_edges[-1])
    middle = float(w[path_edges[1:-1]].sum())
    return (1 - frac_on(a, first)) * float(w[first]) + middle + frac_on(b, last) * float(w[last])


def test_paths_match_the_matrix_and_their_own_edges(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 25, seed=5)
    dur, dist = monaco.matrix(snaps)
    for i, j in [(0, 1), (2, 3), (4, 20), (24, 7), (9, 9), (11, 12)]:
        a, b = snaps.subset([i]), snaps.subset([j])
        p = monaco.path(a, b)
        assert p.duration_s == pytest.approx(dur[i, j], abs=1e-6)
        assert p.distance_m == pytest.approx(dist[i, j], abs=1e-6)
        assert (p.lon[0], p.lat[0]) == (a.snapped_lon[0], a.snapped_lat[0])
        assert (p.lon[-1], p.lat[-1]) == (b.snapped_lon[0], b.snapped_lat[0])
        assert len(p.lon) == len(p.edges) + 1
        # Consecutive edges connect.
        assert (monaco.edge_head[p.edges[:-1]] == monaco.edge_tail[p.edges[1:]]).all()
        assert path_time_from_edges(monaco, p.edges, a, b) == pytest.approx(p.duration_s, abs=1e-6)


@st.composite
def small_networks(draw: st.DrawFn) -> tuple[RoadNetwork, np.ndarray, np.ndarray]:
    """Random little road graphs: one-way and two-way streets, rings, dead ends."""
    n = draw(st.integers(2, 12))
    coords = draw(
        st.lists(
            st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=n, max_size=n, unique=True
        )
    )
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from([1, 2])),
            min_size=1,
            max_size=3 * n,
        )
    )
    speeds = draw(
        st.lists(st.sampled_from([5.0, 7.5, 13.0]), min_size=len(pairs), max_size=len(pairs))
    )
    lon = np.array([0.001 * x for x, _ in coords])
    lat = 45.0 + np.array([0.001 * y for _, y in coords])
    edges: dict[tuple[int, int], float] = {}
    for (a, b, ways), speed in zip(pairs, speeds, strict=True):
        if a == b:
            continue
        for u, v in [(a, b), (b, a)][:ways]:
            length = float(haversine_m_array(lon[[u]], lat[[u]], lon[[v]], lat[[v]])[0])
            edges[(u, v)] = min(edges.get((u, v), np.inf), length / speed)
    if not edges:
        edges[(0, 1)] = 10.0
    keys = sorted(edges)
    tail = np.array([u for u, _ in keys])
    head = np.array([v for _, v in keys])
    length = haversine_m_array(lon[tail], lat[tail], lon[head], lat[head])
    net = RoadNetwork(
        node_id=np.arange(n) + 100,
        node_lon=lon,
        node_lat=lat,
        edge_tail=tail,
        edge_head=head,
        edge_length_m=length,
        edge_freeflow_s=np.array([edges[k] for k in keys]),
        edge_class=np.zeros(len(keys), dtype=np.int64),
    )
    m = draw(st.integers(1, 8))
    px = draw(st.lists(st.floats(-1, 21), min_size=m, max_size=m))
    py = draw(st.lists(st.floats(-1, 21), min_size=m, max_size=m))
    # Some points exactly on nodes, the rest anywhere nearby.
    on_node = draw(st.lists(st.integers(0, n - 1), max_size=3))
    plon = np.concatenate([0.001 * np.array(px), lon[on_node]])
    plat = np.concatenate([45.0 + 0.001 * np.array(py), lat[on_node]])
    return net, plon, plat


@settings(max_examples=60, deadline=None)
@given(small_networks())
def test_matrix_and_paths_equal_dijkstra_on_random_small_networks(
    case: tuple[RoadNetwork, np.ndarray, np.ndarray],
) -> None:
    net, lon, lat = case
    snaps = net.snap(lon, lat)
    dur, dist = net.matrix(snaps)
    ref_dur, ref_dist = reference.reference_matrix(net, snaps)
    # Unreachable pairs (these graphs need not be strongly connected) are inf in both.
    np.testing.assert_allclose(dur, ref_dur, rtol=0, atol=1e-6)
    np.testing.assert_allclose(dist, ref_dist, rtol=0, atol=1e-6)
    for i in range(len(snaps)):
        for j in range(len(snaps)):
            if not np.isfinite(dur[i, j]):
                with pytest.raises(InputError, match="no path"):
                    net.path(snaps.subset([i]), snaps.subset([j]))
                continue
            p = net.path(snaps.subset([i]), snaps.subset([j]))
            assert p.duration_s == pytest.approx(dur[i, j], abs=1e-6)
            assert p.distance_m == pytest.approx(dist[i, j], abs=1e-6)
            assert (net.edge_head[p.edges[:-1]] == net.edge_tail[p.edges[1:]]).all()
