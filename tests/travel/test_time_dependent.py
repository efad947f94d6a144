"""The time-dependent model: exact integration across slices, FIFO, exact searches."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel import TravelMatrix
from lastmile.travel.synthetic import GridNetwork, grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import StaticWeather

H = 3600
TUESDAY = dt.datetime(2024, 3, 5)
SATURDAY = dt.datetime(2024, 3, 9)


def step_profile(before: float = 1.0, after: float = 0.5, at_h: int = 8) -> TrafficProfile:
    """Every class at ``before`` until ``at_h`` o'clock, ``after`` from then on (hourly slices)."""
    f = np.full((2, 1, 24), before)
    f[:, :, at_h:] = after
    return TrafficProfile(road_classes=["other"], factors=f, slice_s=3600)


@dataclass(frozen=True)
class Net:
    """A hand-made network with the road-network arrays."""

    edge_tail: np.ndarray
    edge_head: np.ndarray
    edge_length_m: np.ndarray
    edge_freeflow_s: np.ndarray
    edge_class: np.ndarray
    class_names: tuple[str, ...]
    node_lon: np.ndarray
    node_lat: np.ndarray


def line(freeflow_s: list[float]) -> Net:
    """Nodes 0..n on a line, one edge i -> i+1 per free-flow time."""
    n = len(freeflow_s)
    return Net(
        edge_tail=np.arange(n),
        edge_head=np.arange(1, n + 1),
        edge_length_m=np.array(freeflow_s) * 10.0,
        edge_freeflow_s=np.array(freeflow_s, dtype=float),
        edge_class=np.zeros(n, dtype=np.int64),
        class_names=("primary",),
        node_lon=np.linspace(7.40, 7.44, n + 1),
        node_lat=np.full(n + 1, 43.73),
    )


def test_speed_change_in_the_middle_of_an_edge_is_integrated() -> None:
    model = TimeDependentModel(line([600.0]), step_profile(), epoch=TUESDAY)
    # Enter at 07:55: 300 s at full speed cover half the edge, the other half takes
    # 600 s at half speed, so the exit is at 08:10.
    exit_s = model.edge_exit_times([0], [7 * H + 55 * 60])[0]
    assert exit_s == pytest.approx(8 * H + 10 * 60)
    assert model.path_duration([0], 9 * H) == pytest.approx(1200.0)
    assert model.path_duration([0], 3 * H) == pytest.approx(600.0)


def test_epoch_sets_the_clock_and_the_day_type() -> None:
    net = line([600.0])
    midnight = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    at_seven = TimeDependentModel(
        net, TrafficProfile.default(), epoch=TUESDAY.replace(hour=7, minute=55)
    )
    assert at_seven.path_duration([0], 0) == pytest.approx(
        midnight.path_duration([0], 7 * H + 55 * 60)
    )
    weekend = TimeDependentModel(net, TrafficProfile.default(), epoch=SATURDAY)
    assert weekend.path_duration([0], 8 * H) < midnight.path_duration([0], 8 * H)
    # Past the horizon the last slice's speed holds.
    assert midnight.path_duration([0], 10 * 86_400) > 0


def test_weather_slows_on_top_of_traffic() -> None:
    flat = step_profile(1.0, 1.0)
    clear = TimeDependentModel(line([900.0]), flat, epoch=TUESDAY)
    rain = TimeDependentModel(line([900.0]), flat, StaticWeather(["rain"]), epoch=TUESDAY)
    assert rain.path_duration([0], 8 * H) == pytest.approx(900.0 / 0.9)
    assert clear.path_duration([0], 8 * H) == pytest.approx(900.0)
    assert rain.speed_multiplier("primary", 8 * H) == pytest.approx(0.9)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(10, 3000), min_size=1, max_size=6),
    st.floats(0, 2 * 86_400),
    st.floats(0, 7200),
)
def test_paths_are_fifo(freeflow: list[float], t1: float, gap: float) -> None:
    model = TimeDependentModel(line(freeflow), TrafficProfile.default(), epoch=TUESDAY)
    edges = list(range(len(freeflow)))
    a1 = model.path_arrival(edges, t1)
    a2 = model.path_arrival(edges, t1 + gap)
    assert a2 >= a1 - 1e-6
    # Never faster than free flow, never slower than the slowest factor allows.
    assert a1 - t1 >= sum(freeflow) - 1e-6
    assert a1 - t1 <= sum(freeflow) / model.multipliers.min() + 1e-6


def all_paths(net: GridNetwork, a: int, b: int) -> list[list[int]]:
    """Every simple path from a to b, as edge lists (tiny graphs only)."""
    out_edges: dict[int, list[int]] = {}
    for e, t in enumerate(net.edge_tail):
        out_edges.setdefault(int(t), []).append(e)
    found: list[list[int]] = []

    def walk(node: int, seen: set[int], path: list[int]) -> None:
        if node == b:
            found.append(list(path))
            return
        for e in out_edges.get(node, []):
            h = int(net.edge_head[e])
            if h not in seen:
                walk(h, seen | {h}, [*path, e])

    walk(a, {a}, [])
    return found


@pytest.mark.parametrize("depart_h", [3.0, 7.6, 8.1, 17.2])
def test_search_is_exact_against_every_path(depart_h: float) -> None:
    net = grid_network(rows=3, cols=3, arterial_every=2, jitter=0.4, seed=3)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    t = depart_h * H
    res = model.earliest_arrivals(np.arange(net.num_nodes), t)
    for a, b in itertools.permutations(range(net.num_nodes), 2):
        best = min(model.path_arrival(p, t) for p in all_paths(net, a, b))
        assert res.arrival[a, b] == pytest.approx(best, abs=1e-6)
        edges = model.path_edges(res, a, b)
        assert model.path_arrival(edges, t) == pytest.approx(best, abs=1e-6)
        assert res.length_m[a, b] == pytest.approx(net.edge_length_m[edges].sum())


def test_search_matches_a_static_search_when_speeds_do_not_change() -> None:
    net = grid_network(rows=8, cols=8, seed=1)
    flat = TrafficProfile.free_flow(road_classes=["primary", "residential"])
    model = TimeDependentModel(net, flat, epoch=TUESDAY)
    src = np.array([0, 17, 63])
    res = model.earliest_arrivals(src, 5 * H)
    graph, _ = model._static_graph(np.asarray(net.edge_freeflow_s))
    assert np.allclose(res.arrival - 5 * H, dijkstra(graph, indices=src), atol=1e-6)
    pruned = model.earliest_arrivals(src, 5 * H, targets=[5, 40])
    assert np.allclose(pruned.arrival[:, [5, 40]], res.arrival[:, [5, 40]])


def test_freeflow_path_retimed_is_never_faster_than_the_exact_search() -> None:
    net = grid_network(rows=10, cols=10, seed=2)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    rng = np.random.default_rng(0)
    for a, b in rng.integers(0, net.num_nodes, size=(15, 2)):
        if a == b:
            continue
        exact = model.travel_time(int(a), int(b), 8 * H)
        assert model.leg_duration(int(a), int(b), 8 * H) == exact
        assert model.freeflow_path_duration(int(a), int(b), 8 * H) >= exact - 1e-6
        edges, arrival = model.fastest_path(int(a), int(b), 8 * H)
        assert arrival - 8 * H == pytest.approx(exact)
        assert model.path_duration(edges, 8 * H) == pytest.approx(exact)


def test_matrix_follows_the_clock() -> None:
    net = grid_network(rows=10, cols=10)
    model = TimeDependentModel(net, epoch=TUESDAY)
    locs = net.locations([0, 9, 55, 99])
    night = model.matrix(locs, departure=3 * H)
    rush = model.matrix(locs, departure=8 * H)
    assert isinstance(night, TravelMatrix)
    assert (np.diag(rush.durations) == 0).all()
    off = ~np.eye(4, dtype=bool)
    assert (rush.durations[off] > night.durations[off]).all()
    assert (night.distances[off] > 0).all()
    assert "time-dependent" in model.description


def test_bound_model_rows_legs_and_frozen_matrices_agree() -> None:
    net = grid_network(rows=10, cols=10)
    model = TimeDependentModel(net, epoch=TUESDAY)
    bound = model.bind(net.locations([0, 9, 55, 99]))
    full = bound.departure_matrix([8 * H, 9 * H, 10 * H, 11 * H])
    dur, dist = bound.matrix_rows([2], [10 * H])
    assert (dur[0] == full.durations[2]).all() and (dist[0] == full.distances[2]).all()
    assert bound.leg_duration(1, 3, 9 * H) == full.durations[1, 3]
    assert bound.leg_duration(2, 2, 9 * H) == 0
    # At night speeds hardly change within a leg: frozen and exact agree within rounding.
    night = bound.departure_matrix([3 * H] * 4)
    frozen = bound.frozen_matrix(3 * H)
    assert np.abs(night.durations - frozen.durations).max() <= 2
    assert (night.distances == frozen.distances).all()
    with pytest.raises(InputError, match="departures"):
        bound.departure_matrix([0])


def test_snapping_avoids_unreachable_nodes() -> None:
    base = grid_network(rows=4, cols=4)
    # Add an isolated node right next to where we ask.
    lon = np.append(base.node_lon, 7.5)
    lat = np.append(base.node_lat, 43.80)
    net = GridNetwork(
        base.edge_tail,
        base.edge_head,
        base.edge_length_m,
        base.edge_freeflow_s,
        base.edge_class,
        base.class_names,
        lon,
        lat,
    )
    model = TimeDependentModel(net, epoch=TUESDAY)
    nodes, gap = model.snap([Location(7.5, 43.80), Location(float(lon[0]), float(lat[0]))])
    assert nodes[0] != 16 and nodes[1] == 0 and gap[1] == pytest.approx(0, abs=1e-6)
    assert gap[0] > 1000
    m = model.matrix([Location(7.5, 43.80), Location(float(lon[0]), float(lat[0]))])
    assert m.durations[0, 1] > 0
    with pytest.raises(InputError, match="longitude"):
        model.matrix([Location(1.0, 2.0, planar=True)])


def test_pair_seconds_are_the_searches_figures_and_remembered_per_slice() -> None:
    net = grid_network(rows=10, cols=10, arterial_every=3, jitter=0.3, seed=2)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    rng = np.random.default_rng(4)
    src = rng.integers(0, net.num_nodes, 40)
    tgt = rng.integers(0, net.num_nodes, 40)
    # Departures inside rush-hour slices and just before their ends (the trip then
    # crosses into the next slice, whose speeds differ).
    for depart in (7.5 * H, 8.25 * H - 30, 8.25 * H - 5, 17.1 * H, 8 * H + 1):
        exact = model.earliest_arrivals(src, depart)
        want = exact.arrival[np.arange(len(src)), tgt] - depart
        assert np.allclose(model.pair_seconds(src, depart, tgt), want, rtol=0, atol=1e-6)
    # Twice the same question: the second answer is remembered, and the same.
    first = model.pair_seconds(src, 9 * H, tgt)
    remembered = len(model._pairs)
    assert remembered > 0
    again = model.pair_seconds(src, 9 * H + 60, tgt)
    assert len(model._pairs) == remembered
    exact = model.earliest_arrivals(src, 9 * H + 60)
    assert np.allclose(again, exact.arrival[np.arange(len(src)), tgt] - (9 * H + 60), atol=1e-6)
    assert np.allclose(first, again, atol=1e-6)
    assert model.pair_seconds([3], 9 * H, [3])[0] == 0.0
    # Trips into the next slice are remembered for their very departure only.
    crossing = len(model._pairs_at)
    assert crossing > 0
    exact = model.earliest_arrivals(src, 8.25 * H - 5)
    want = exact.arrival[np.arange(len(src)), tgt] - (8.25 * H - 5)
    assert np.allclose(model.pair_seconds(src, 8.25 * H - 5, tgt), want, atol=1e-6)
    assert len(model._pairs_at) == crossing


def test_known_points_snap_as_the_first_time() -> None:
    net = grid_network(rows=6, cols=6, seed=2)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    rng = np.random.default_rng(1)
    lon, lat = np.asarray(net.node_lon), np.asarray(net.node_lat)
    xs = rng.uniform(lon.min(), lon.max(), 12)
    ys = rng.uniform(lat.min(), lat.max(), 12)
    places = [Location(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    nodes, gap = model.snap(places)
    for _ in range(2):  # first snapped, then remembered
        known_nodes, known_gap = model.snap_known([*places[6:], *places[:6]])
        assert known_nodes.tolist() == [*nodes[6:].tolist(), *nodes[:6].tolist()]
        assert np.allclose(known_gap, np.concatenate([gap[6:], gap[:6]]))
    with pytest.raises(InputError, match="longitude/latitude"):
        model.snap_known([places[0], Location(1.0, 2.0, planar=True)])


def test_compiled_and_numpy_searches_agree() -> None:
    net = grid_network(rows=12, cols=12, seed=5)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    if not model.use_kernel:
        pytest.skip("numba is not installed: only the numpy search exists")
    # Three sources are searched in the calling thread, seven in the thread pool.
    for src, departs in (
        (np.array([0, 50, 143]), np.array([7.5, 8.2, 17.9]) * H),
        (np.array([0, 50, 143, 7, 99, 120, 61]), np.array([7.5, 8.2, 17.9, 3, 8, 12, 16.6]) * H),
    ):
        model.use_kernel = True
        compiled = model.earliest_arrivals(src, departs)
        model.use_kernel = False
        vectorised = model.earliest_arrivals(src, departs)
        assert np.allclose(compiled.arrival, vectorised.arrival, rtol=0, atol=1e-6)
        assert np.allclose(compiled.length_m, vectorised.length_m, rtol=0, atol=1e-6)


def test_monaco_road_network(tmp_path_factory: pytest.TempPathFactory) -> None:
    from pathlib import Path

    from lastmile.travel.network import RoadNetwork

    pbf = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"
    net = RoadNetwork.from_pbf(pbf, cache_dir=tmp_path_factory.mktemp("osm"))
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    # Monaco-Ville, Monte-Carlo casino, Fontvieille, the port.
    places = [(7.4197, 43.7311), (7.4281, 43.7394), (7.4150, 43.7285), (7.4245, 43.7355)]
    locs = [Location(lon, lat) for lon, lat in places]
    night = model.matrix(locs, departure=3 * H)
    rush = model.matrix(locs, departure=8 * H)
    off = ~np.eye(4, dtype=bool)
    assert (night.durations[off] > 30).all() and (night.durations[off] < 1200).all()
    assert (rush.durations[off] >= night.durations[off]).all()
    assert (rush.durations[off] > night.durations[off]).any()
    # With speeds frozen at 03:00 the network's own static matrix agrees.
    nodes, _ = model.snap(locs)
    snapped = net.snap(net.node_lon[nodes], net.node_lat[nodes])
    static, _ = net.matrix(snapped, edge_time_s=model.frozen_edge_times(3 * H))
    exact = model.earliest_arrivals(nodes, 3 * H, targets=nodes).arrival[:, nodes] - 3 * H
    assert np.abs(static - exact).max() < 0.02 * exact.max()
