"""Road network loading: tags, one-way streets, largest SCC, caching and snapping."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from lastmile.exceptions import InputError
from lastmile.travel.network import (
    PROFILES,
    ROAD_CLASSES,
    RoadNetwork,
    get_profile,
    haversine_m_array,
    parse_maxspeed_kph,
    way_directions,
    way_speeds_kph,
)


def _load(name: str) -> ModuleType:
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")
CAR, VAN, BIKE = PROFILES["car"], PROFILES["van"], PROFILES["bike"]


# -- tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "kph"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50 mph", 50 * 1.609344),
        ("30mph", 30 * 1.609344),
        ("10 knots", 18.52),
        ("walk", 6.0),
        ("FR:urban", 50.0),
        ("DE:rural", 90.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("50;30", 30.0),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("fast", None),
        ("0", None),
        (None, None),
    ],
)
def test_maxspeed_parsing(tag: str | None, kph: float | None) -> None:
    got = parse_maxspeed_kph(tag)
    if kph is None:
        assert got is None
    else:
        assert got == pytest.approx(kph)


@pytest.mark.parametrize(
    ("tags", "profile", "expected"),
    [
        ({"highway": "residential"}, CAR, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, CAR, (True, False)),
        ({"highway": "residential", "oneway": "-1"}, CAR, (False, True)),
        ({"highway": "residential", "oneway": "no"}, CAR, (True, True)),
        ({"highway": "primary", "junction": "roundabout"}, CAR, (True, False)),
        ({"highway": "motorway"}, CAR, (True, False)),
        ({"highway": "motorway", "oneway": "no"}, CAR, (True, True)),
        ({"highway": "residential", "oneway": "reversible"}, CAR, (False, False)),
        ({"highway": "residential", "access": "private"}, CAR, (False, False)),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, CAR, (True, True)),
        ({"highway": "residential", "access": "destination"}, CAR, (True, True)),
        ({"highway": "residential", "goods": "no"}, VAN, (False, False)),
        ({"highway": "residential", "goods": "no"}, CAR, (True, True)),
        ({"highway": "footway"}, CAR, (False, False)),
        ({"highway": "footway"}, BIKE, (False, False)),
        ({"highway": "footway", "bicycle": "yes"}, BIKE, (True, True)),
        ({"highway": "cycleway"}, BIKE, (True, True)),
        ({"highway": "cycleway"}, CAR, (False, False)),
        ({"highway": "motorway"}, BIKE, (False, False)),
        ({"highway": "residential", "oneway": "yes"}, BIKE, (True, False)),
        ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, BIKE, (True, True)),
        (
            {"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"},
            BIKE,
            (True, True),
        ),
        ({"highway": "residential", "bicycle": "no"}, BIKE, (False, False)),
        ({"highway": "residential", "area": "yes"}, CAR, (False, False)),
    ],
)
def test_way_directions(tags: dict[str, str], profile: object, expected: tuple[bool, bool]) -> None:
    assert way_directions(tags, profile) == expected  # type: ignore[arg-type]


def test_way_speeds_use_maxspeed_class_defaults_and_caps() -> None:
    assert way_speeds_kph({"highway": "residential"}, CAR) == (25.0, 25.0)
    assert way_speeds_kph({"highway": "primary", "maxspeed": "50"}, CAR) == (40.0, 40.0)
    fwd, bwd = way_speeds_kph(
        {"highway": "primary", "maxspeed": "50", "maxspeed:backward": "30 mph"}, CAR
    )
    assert fwd == pytest.approx(40.0)
    assert bwd == pytest.approx(30 * 1.609344 * 0.8)
    # 130 km/h posted counts 104 for a car, but a van is capped at 90.
    assert way_speeds_kph({"highway": "motorway", "maxspeed": "130"}, CAR)[0] == pytest.approx(104)
    assert way_speeds_kph({"highway": "motorway", "maxspeed": "130"}, VAN)[0] == 90.0
    # A cargo bike rides its own speed unless the limit is lower.
    assert way_speeds_kph({"highway": "primary", "maxspeed": "50"}, BIKE)[0] == 15.0
    assert way_speeds_kph({"highway": "living_street", "maxspeed": "walk"}, BIKE)[0] == 6.0


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="bike"):
        get_profile("truck")
    assert get_profile("cargo_bike") is BIKE


# -- a tiny hand-made extract ------------------------------------------------------------------

LAT0 = 45.0
NODES = {
    1: (0.000, LAT0),
    2: (0.001, LAT0),
    3: (0.002, LAT0),
    4: (0.001, LAT0 + 0.001),
    5: (0.010, LAT0),
    6: (0.011, LAT0),
    7: (0.003, LAT0),
    8: (0.001, LAT0 - 0.001),
}
WAYS = [
    (10, [1, 2, 3], {"highway": "residential"}),
    (11, [3, 4, 1], {"highway": "primary", "oneway": "yes", "maxspeed": "30 mph"}),
    (12, [5, 6], {"highway": "residential"}),  # an island
    (13, [3, 7], {"highway": "residential", "oneway": "yes"}),  # a dead end: no way back
    (14, [1, 8], {"highway": "footway"}),
    (15, [2, 8], {"highway": "service", "access": "private"}),
    (16, [2, 9], {"highway": "residential"}),  # node 9 is not in the file
    (17, [2, 4], {"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}),
]


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    return helpers.write_osm(tmp_path / "tiny.osm", NODES, WAYS)


def edges_by_osm(net: RoadNetwork) -> dict[tuple[int, int], int]:
    ids = net.node_id
    return {
        (int(ids[t]), int(ids[h])): e
        for e, (t, h) in enumerate(zip(net.edge_tail, net.edge_head, strict=True))
    }


def test_tiny_car_network_keeps_the_strongly_connected_roads(tiny: Path) -> None:
    net = RoadNetwork.from_pbf(tiny, profile="car", cache=False)
    assert sorted(net.node_id.tolist()) == [1, 2, 3, 4]
    edges = edges_by_osm(net)
    assert set(edges) == {(1, 2), (2, 1), (2, 3), (3, 2), (3, 4), (4, 1), (2, 4)}
    # One-way streets are honoured: no edge against them.
    assert (4, 3) not in edges and (1, 4) not in edges and (4, 2) not in edges
    e = edges[(3, 4)]
    lon, lat = NODES[3], NODES[4]
    length = haversine_m_array(
        np.array([lon[0]]), np.array([lon[1]]), np.array([lat[0]]), np.array([lat[1]])
    )[0]
    assert net.edge_length_m[e] == pytest.approx(length)
    assert net.edge_freeflow_s[e] == pytest.approx(length / (30 * 1.609344 * 0.8 / 3.6))
    assert net.class_names[net.edge_class[e]] == "primary"
    assert net.edge_way_id[e] == 11
    assert net.edge_freeflow_s[edges[(1, 2)]] == pytest.approx(
        net.edge_length_m[edges[(1, 2)]] / (25 / 3.6)
    )
    # CSR: edges of node u are edge_offsets[u]:edge_offsets[u+1].
    for u in range(net.n_nodes):
        lo, hi = net.edge_offsets[u], net.edge_offsets[u + 1]
        assert (net.edge_tail[lo:hi] == u).all()
    assert net.edge_index(int(net.edge_tail[e]), int(net.edge_head[e])) == e
    assert net.edge_index(int(net.edge_head[e]), int(net.edge_tail[e])) == -1


def test_tiny_bike_network_rides_against_a_oneway_where_allowed(tiny: Path) -> None:
    net = RoadNetwork.from_pbf(tiny, profile="bike", cache=False)
    edges = edges_by_osm(net)
    assert (2, 4) in edges and (4, 2) in edges
    assert (4, 3) not in edges
    assert net.edge_freeflow_s[edges[(1, 2)]] == pytest.approx(
        net.edge_length_m[edges[(1, 2)]] / (15 / 3.6)
    )


def test_no_usable_road_is_an_input_error(tmp_path: Path) -> None:
    path = helpers.write_osm(tmp_path / "paths.osm", NODES, [(1, [1, 2], {"highway": "steps"})])
    with pytest.raises(InputError, match="no road"):
        RoadNetwork.from_pbf(path, cache=False)
    with pytest.raises(InputError, match="no such file"):
        RoadNetwork.from_pbf(tmp_path / "missing.osm.pbf")


# -- real extracts ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


def test_monaco_is_one_strongly_connected_network(monaco: RoadNetwork) -> None:
    assert 10_000 < monaco.n_nodes < 16_000
    assert monaco.n_edges > monaco.n_nodes
    n = monaco.n_nodes
    graph = csr_matrix((np.ones(monaco.n_edges), (monaco.edge_tail, monaco.edge_head)), (n, n))
    assert connected_components(graph, directed=True, connection="strong")[0] == 1
    assert (monaco.edge_freeflow_s > 0).all() and (monaco.edge_length_m > 0).all()
    assert monaco.class_names == ROAD_CLASSES
    used = {monaco.class_names[c] for c in np.unique(monaco.edge_class)}
    assert {"primary", "secondary", "residential", "service"} <= used
    assert "footway" not in used
    lon0, lat0, lon1, lat1 = monaco.bounds
    assert 7.3 < lon0 < lon1 < 7.6 and 43.6 < lat0 < lat1 < 43.8
    # Arrays are read-only: other modules build on them, none may change them.
    with pytest.raises(ValueError):
        monaco.edge_freeflow_s[0] = 1.0


def test_cache_is_keyed_by_profile_and_reloads_equal(tmp_path: Path) -> None:
    car = RoadNetwork.from_pbf(helpers.MONACO, profile="car", cache_dir=tmp_path)
    files = list(tmp_path.glob("monaco.osm.pbf.car.*.lastmile.npz"))
    assert len(files) == 1
    again = RoadNetwork.from_pbf(helpers.MONACO, profile="car", cache_dir=tmp_path)
    for name in ("node_id", "node_lon", "edge_tail", "edge_head", "edge_freeflow_s"):
        assert np.array_equal(getattr(car, name), getattr(again, name))
    van = RoadNetwork.from_pbf(helpers.MONACO, profile="van", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.lastmile.npz"))) == 2
    assert van.profile == "van"
    # The van's cap only slows it down.
    assert van.edge_freeflow_s.sum() >= car.edge_freeflow_s.sum()


def test_helsinki_bike_and_car_differ() -> None:
    car = RoadNetwork.from_pbf(helpers.HELSINKI, profile="car")
    bike = RoadNetwork.from_pbf(helpers.HELSINKI, profile="bike")
    assert car.n_nodes > 500 and bike.n_nodes > 500
    cyc = ROAD_CLASSES.index("cycleway")
    assert (bike.edge_class == cyc).any() and not (car.edge_class == cyc).any()


# -- snapping ---------------------------------------------------------------------------------


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


def test_bad_inputs_name_the_field(monaco: RoadNetwork) -> None:
    with pytest.raises(InputError, match="max_snap_m"):
        monaco.snap([7.42], [43.73], max_snap_m=-1)
    with pytest.raises(InputError, match="finite"):
        monaco.snap([np.nan], [43.73])
    with pytest.raises(InputError, match="edge_time_s"):
        monaco.check_edge_time(np.ones(3))
    bad = monaco.edge_freeflow_s.copy()
    bad[5] = 0.0
    with pytest.raises(InputError, match="edge 5"):
        monaco.check_edge_time(bad)
