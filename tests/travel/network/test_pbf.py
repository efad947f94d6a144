"""Reading OSM extracts: usable ways, one-way streets, speeds, the strongly connected core."""

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
from lastmile.travel.network import ROAD_CLASSES, RoadNetwork
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
    net = RoadNetwork.from_pbf(tiny, profile="cargo_bike", cache=False)
    edges = edges_by_osm(net)
    assert (2, 4) in edges and (4, 2) in edges
    assert (4, 3) not in edges
    assert net.edge_freeflow_s[edges[(1, 2)]] == pytest.approx(
        net.edge_length_m[edges[(1, 2)]] / (15 / 3.6)
    )
    # ``bike`` is the bicycle: the same roads, ridden at 18 km/h.
    bike = RoadNetwork.from_pbf(tiny, profile="bike", cache=False)
    assert bike.profile == "bicycle"
    assert set(edges_by_osm(bike)) == set(edges)
    assert bike.edge_freeflow_s[edges_by_osm(bike)[(1, 2)]] == pytest.approx(
        bike.edge_length_m[edges_by_osm(bike)[(1, 2)]] / (18 / 3.6)
    )


def test_no_usable_road_is_an_input_error(tmp_path: Path) -> None:
    path = helpers.write_osm(tmp_path / "paths.osm", NODES, [(1, [1, 2], {"highway": "steps"})])
    with pytest.raises(InputError, match="no road"):
        RoadNetwork.from_pbf(path, cache=False)
    with pytest.raises(InputError, match="no such file"):
        RoadNetwork.from_pbf(tmp_path / "missing.osm.pbf")


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


def test_helsinki_bike_and_car_differ() -> None:
    car = RoadNetwork.from_pbf(helpers.HELSINKI, profile="car")
    bike = RoadNetwork.from_pbf(helpers.HELSINKI, profile="bike")
    assert car.n_nodes > 500 and bike.n_nodes > 500
    cyc = ROAD_CLASSES.index("cycleway")
    assert (bike.edge_class == cyc).any() and not (car.edge_class == cyc).any()
