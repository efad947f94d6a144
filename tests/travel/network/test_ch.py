"""The contraction hierarchy gives the Dijkstra kernels' figures: random graphs, Monaco, cache."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel.network import RoadNetwork, SnapResult
from lastmile.travel.network._kernels import many_to_many
from lastmile.travel.network.ch import ContractionHierarchy
from lastmile.travel.time_dependent import TimeDependentModel


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


def random_points(net: RoadNetwork, n: int, seed: int) -> SnapResult:
    """Points near roads: road nodes moved up to ~100 m."""
    rng = np.random.default_rng(seed)
    k = rng.choice(net.n_nodes, n, replace=False)
    return net.snap(
        net.node_lon[k] + rng.normal(0, 0.0005, n), net.node_lat[k] + rng.normal(0, 0.0005, n)
    )


def random_graph(
    n: int, seed: int, *, degree: int = 3, oneway: float = 0.3, top: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random directed graph near a plane (CSR), with one-way arcs and parallel arcs;
    the last node is a dead end (arcs in, none out).

    Times and lengths are small integers: sums are exact in floating point, so
    equal times are real ties and the shorter length must win in both searches.
    """
    rng = np.random.default_rng(seed)
    degree = min(degree, n - 1)
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    # Each node links to a few of its nearest neighbours (some one way only).
    d2 = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    near = np.argsort(d2, axis=1)[:, 1 : degree + 1]
    tail = np.repeat(np.arange(n), degree)
    head = near.ravel()
    back = rng.random(tail.size) >= oneway
    tail, head = np.concatenate([tail, head[back]]), np.concatenate([head, tail[back]])
    # A few parallel arcs and long-range links.
    extra = rng.integers(0, tail.size, max(1, tail.size // 20))
    jump_t, jump_h = rng.integers(0, n, 3), rng.integers(0, n, 3)
    tail = np.concatenate([tail, tail[extra], jump_t])
    head = np.concatenate([head, head[extra], jump_h])
    keep = (tail != head) & (tail != n - 1)
    tail, head = tail[keep], head[keep]
    order = np.argsort(tail, kind="stable")
    tail, head = tail[order], head[order]
    indptr = np.searchsorted(tail, np.arange(n + 1)).astype(np.int64)
    time_s = rng.integers(1, top, tail.size).astype(np.float64)
    length = rng.integers(1, 5, tail.size).astype(np.float64)
    return indptr, head.astype(np.int64), time_s, length, x, y


def both_ways(seed: int, n: int, n_src: int, n_tgt: int, top: int = 20) -> np.ndarray:
    """CH and Dijkstra on one random graph, two metrics; the first reference durations."""
    indptr, head, time_s, length, x, y = random_graph(n, seed, top=top)
    rng = np.random.default_rng(seed + 100)
    # Sources with one or two seeds, targets with one or two goals, with offsets.
    s_count = rng.integers(1, 3, n_src)
    s_count[0] = 1
    t_count = rng.integers(1, 3, n_tgt)
    seed_ptr = np.concatenate([[0], np.cumsum(s_count)]).astype(np.int64)
    goal_ptr = np.concatenate([[0], np.cumsum(t_count)]).astype(np.int64)
    seed_node = rng.integers(0, n, seed_ptr[-1]).astype(np.int64)
    seed_node[0] = n - 1  # the dead end: nothing else is reached from it
    goal_node = rng.integers(0, n, goal_ptr[-1]).astype(np.int64)
    seed_t = rng.integers(0, 3, seed_ptr[-1]).astype(np.float64)
    goal_t = rng.integers(0, 3, goal_ptr[-1]).astype(np.float64)
    seed_l = rng.integers(0, 3, seed_ptr[-1]).astype(np.float64)
    goal_l = rng.integers(0, 3, goal_ptr[-1]).astype(np.float64)
    args = (seed_ptr, seed_node, seed_t, seed_l, goal_ptr, goal_node, goal_t, goal_l)
    ref_t, ref_l = many_to_many(indptr, head, time_s, length, *args)
    ch = ContractionHierarchy.build(indptr, head, x, y)
    got_t, got_l = ch.many_to_many(ch.customize(time_s, length), *args)
    assert np.array_equal(got_t, ref_t)
    assert np.array_equal(got_l, ref_l)
    # A second metric on the same hierarchy (customization only).
    slow = time_s * np.random.default_rng(seed).integers(1, 4, time_s.size)
    ref2 = many_to_many(indptr, head, slow, length, *args)
    got2 = ch.many_to_many(ch.customize(slow, length), *args)
    assert np.array_equal(got2[0], ref2[0]) and np.array_equal(got2[1], ref2[1])
    return ref_t


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_graphs_with_one_ways_and_unreachable_pairs(seed: int) -> None:
    ref = both_ways(seed, 150, 30, 25)
    # The comparison covered unreachable pairs (inf) and reachable ones.
    assert np.isinf(ref).any() and np.isfinite(ref).sum() > 25


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 60),
    n_src=st.integers(1, 12),
    n_tgt=st.integers(1, 12),
    top=st.integers(2, 6),
)
def test_random_small_graphs_with_many_ties(
    seed: int, n: int, n_src: int, n_tgt: int, top: int
) -> None:
    # Times from {1..top-1}: many fastest paths of equal time, different lengths.
    both_ways(seed, n, n_src, n_tgt, top=top)


def test_graph_with_unreachable_parts_gives_inf() -> None:
    # 0 -> 1 -> 2 one way, 3 <-> 4 apart.
    indptr = np.array([0, 1, 2, 2, 3, 4], dtype=np.int64)
    head = np.array([1, 2, 4, 3], dtype=np.int64)
    t = np.array([1.0, 2.0, 1.0, 1.0])
    ch = ContractionHierarchy.build(indptr, head, np.arange(5.0), np.zeros(5))
    ptr = np.arange(6, dtype=np.int64)
    nodes = np.arange(5, dtype=np.int64)
    zero = np.zeros(5)
    dur, dist = ch.many_to_many(ch.customize(t, t), ptr, nodes, zero, zero, ptr, nodes, zero, zero)
    inf = np.inf
    expected = np.array(
        [
            [0, 1, 3, inf, inf],
            [inf, 0, 2, inf, inf],
            [inf, inf, 0, inf, inf],
            [inf, inf, inf, 0, 1],
            [inf, inf, inf, 1, 0],
        ]
    )
    assert np.array_equal(dur, expected)
    assert np.array_equal(dist, expected)


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


def test_monaco_matrices_equal_dijkstra(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 80, seed=11)
    rng = np.random.default_rng(12)
    for times in (None, monaco.edge_freeflow_s * rng.uniform(1.0, 3.0, monaco.n_edges)):
        ref = monaco.matrix(snaps, edge_time_s=times, method="dijkstra")
        got = monaco.matrix(snaps, edge_time_s=times, method="ch")
        np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-6)
    # Rectangular, with a repeated point.
    src = snaps.subset([4, 4, 9])
    ref = monaco.matrix(src, snaps, method="dijkstra")
    got = monaco.matrix(src, snaps, method="ch")
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-6)
    # Below CH_MIN_JUNCTIONS "auto" is Dijkstra; Monaco is a town.
    auto = monaco.matrix(src, snaps)
    assert np.array_equal(auto[0], ref[0])


def test_node_points_give_node_to_node_figures(monaco: RoadNetwork) -> None:
    rng = np.random.default_rng(5)
    nodes = rng.choice(monaco.n_nodes, 25, replace=False)
    points = monaco.node_points(nodes)
    dur, _ = monaco.matrix(points, method="ch")
    # From a node, along its first edge, the time is that edge's time at most.
    first = monaco.edge_offsets[nodes]
    heads = monaco.node_points(monaco.edge_head[first])
    step, _ = monaco.matrix(points, heads, method="dijkstra")
    assert (np.diag(step) <= monaco.edge_freeflow_s[first] + 1e-9).all()
    assert (np.diag(dur) == 0).all()
    with pytest.raises(InputError, match="nodes"):
        monaco.node_points([monaco.n_nodes])


def test_unknown_method_is_refused(monaco: RoadNetwork) -> None:
    snaps = random_points(monaco, 3, seed=1)
    with pytest.raises(InputError, match="method"):
        monaco.matrix(snaps, method="astar")


def test_hierarchy_is_cached_beside_the_network(
    monaco: RoadNetwork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "monaco.car.lastmile.npz"
    monaco.save(path)
    net = RoadNetwork.load(path)
    assert net.ch_file == tmp_path / "monaco.car.cch.lastmile.npz"
    assert not net.ch_file.exists()
    built = net.hierarchy()
    assert net.ch_file.is_file()
    snaps = random_points(net, 20, seed=3)
    want = net.matrix(snaps, method="ch")

    # A new process reads it back instead of building it.
    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("built again")

    again = RoadNetwork.load(path)
    with monkeypatch.context() as m:
        m.setattr(ContractionHierarchy, "build", no_build)
        read = again.hierarchy()
        got = again.matrix(snaps, method="ch")
    assert np.array_equal(read.rank, built.rank) and np.array_equal(read.up_head, built.up_head)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])

    # A hierarchy of another graph at that place is rebuilt, not used.
    other = RoadNetwork.load(path)
    indptr, head, *_ = random_graph(30, 0)
    ContractionHierarchy.build(indptr, head, np.arange(30.0), np.zeros(30)).save(other.ch_file)
    rebuilt = other.hierarchy()
    assert np.array_equal(rebuilt.rank, built.rank)
    assert ContractionHierarchy.load(
        other.ch_file, other._searcher().indptr, other._searcher().slot_head
    )
    with pytest.raises(ValueError, match="another graph"):
        ContractionHierarchy.load(other.ch_file, indptr, head)


def test_from_pbf_keeps_the_hierarchy_in_its_cache_dir(tmp_path: Path) -> None:
    net = RoadNetwork.from_pbf(helpers.MONACO, cache_dir=tmp_path)
    assert net.cache_file is not None and net.cache_file.parent == tmp_path
    net.hierarchy()
    assert net.ch_file is not None and net.ch_file.is_file()
    assert net.ch_file.name.endswith(".cch.lastmile.npz")
    # Read from the cache, the network knows the same place.
    assert RoadNetwork.from_pbf(helpers.MONACO, cache_dir=tmp_path).ch_file == net.ch_file


def test_time_dependent_slices_equal_the_model_without_hierarchy(monaco: RoadNetwork) -> None:
    model = TimeDependentModel(monaco, epoch=dt.datetime(2026, 3, 3))
    rng = np.random.default_rng(8)
    picks = rng.choice(monaco.n_nodes, 30, replace=False)
    bound = model.bind(
        [Location(float(monaco.node_lon[k]), float(monaco.node_lat[k])) for k in picks]
    )
    for t in (3 * 3600, 17 * 3600 + 1800):
        model.ch_min_nodes = 10**9  # one Dijkstra per source (scipy)
        plain = bound.frozen_matrix(t)
        ref = model.slice_matrix(bound.nodes, bound.nodes[:7], t)
        model.ch_min_nodes = 0  # the contraction hierarchy, one customization per slice
        fast = bound.frozen_matrix(t)
        got = model.slice_matrix(bound.nodes, bound.nodes[:7], t)
        assert np.array_equal(fast.durations, plain.durations)
        assert np.array_equal(fast.distances, plain.distances)
        np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-6)
    with pytest.raises(InputError, match="sources"):
        model.slice_matrix([-1], [0], 0)


def test_snap_result_of_nodes_is_a_snap_result(monaco: RoadNetwork) -> None:
    points = monaco.node_points([0, 1, 2])
    assert isinstance(points, SnapResult) and len(points) == 3
    assert not points.far.any()


def test_auto_takes_the_hierarchy_for_many_sources_on_a_city(
    monaco: RoadNetwork, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lastmile.travel.network import road_network

    searcher = monaco._searcher()
    used: list[str] = []
    real = searcher.matrix

    def spy(*args: object, method: str = "dijkstra") -> object:
        used.append(method)
        return real(*args, method=method)  # type: ignore[arg-type]

    monkeypatch.setattr(searcher, "matrix", spy)
    monkeypatch.setattr(road_network, "CH_MIN_JUNCTIONS", 1_000)  # Monaco as a city
    many = random_points(monaco, road_network.CH_MIN_SOURCES, seed=21)
    times = monaco.edge_freeflow_s * 1.5
    monaco.matrix(many.subset([0, 1]), many, edge_time_s=times)  # few sources: searches
    monaco.matrix(many, edge_time_s=times)  # many: customize the hierarchy
    monaco.matrix(many.subset([0, 1]), many, edge_time_s=times)  # customized: use it
    monaco.matrix(many.subset([0, 1]), many, edge_time_s=times * 2)  # new times, few rows
    assert used == ["dijkstra", "ch", "ch", "dijkstra"]
