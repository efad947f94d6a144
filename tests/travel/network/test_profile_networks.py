"""Each routing profile gets its own network: bikes on cycleways, trucks under no low bridge.

The real-extract cases use points found in the shipped Monaco and Helsinki
extracts; the tags they rely on are read back from the extract by the tests.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lastmile.travel.network import ROAD_CLASSES, PathResult, RoadNetwork
from lastmile.travel.network import profiles as profiles_module


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


@cache
def network(extract: str, profile: str) -> RoadNetwork:
    return RoadNetwork.from_pbf(getattr(helpers, extract), profile=profile)


def route(net: RoadNetwork, a: tuple[float, float], b: tuple[float, float]) -> PathResult:
    snap = net.snap([a[0], b[0]], [a[1], b[1]])
    assert snap.distance_m.max() < 10, "both points lie on this profile's roads"
    return net.path(snap.subset([0]), snap.subset([1]))


def classes_on(net: RoadNetwork, path: PathResult) -> set[str]:
    return {net.class_names[c] for c in net.edge_class[path.edges]}


def way_tags(path: Path, way_ids: set[int]) -> Iterator[tuple[int, dict[str, str]]]:
    import osmium

    ways = osmium.FileProcessor(str(path)).with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    for way in ways:
        if way.id in way_ids:
            yield way.id, {t.k: t.v for t in way.tags}


# -- a tiny hand-made map --------------------------------------------------------------------

LAT0 = 45.0
NODES = {
    1: (0.000, LAT0),
    2: (0.002, LAT0),
    3: (0.000, LAT0 + 0.003),
    4: (0.002, LAT0 + 0.003),
    5: (0.001, LAT0 - 0.001),
    6: (0.001, LAT0 + 0.001),
}


def tiny_map(tmp_path: Path, short_cut: dict[str, str]) -> Path:
    """A direct street 1-2 (with ``short_cut`` tags), a long way round 1-3-4-2, a
    cycleway 1-5-2 and steps 1-6-2."""
    ways = [
        (20, [1, 2], {"highway": "residential", **short_cut}),
        (21, [1, 3, 4, 2], {"highway": "residential"}),
        (22, [1, 5, 2], {"highway": "cycleway"}),
        (23, [1, 6, 2], {"highway": "steps"}),
    ]
    return helpers.write_osm(tmp_path / "tiny.osm", NODES, ways)  # type: ignore[no-any-return]


def tiny_route(path: Path, profile: str) -> tuple[list[int], float]:
    """OSM node ids along the fastest path from node 1 to node 2, and its length."""
    net = RoadNetwork.from_pbf(path, profile=profile, cache=False)
    lon1, lat1 = NODES[1]
    lon2, lat2 = NODES[2]
    snap = net.snap([lon1, lon2], [lat1, lat2])
    found = net.path(snap.subset([0]), snap.subset([1]))
    nodes: list[int] = []
    for lon, lat in zip(found.lon, found.lat, strict=True):
        here = [n for n, (x, y) in NODES.items() if abs(x - lon) < 1e-7 and abs(y - lat) < 1e-7]
        assert len(here) == 1, "the path runs through map nodes only"
        if not nodes or nodes[-1] != here[0]:
            nodes.append(here[0])
    return nodes, found.distance_m


@pytest.mark.parametrize(
    "limit",
    [
        {"maxheight": "3.0"},
        {"maxheight:physical": "3.2 m"},
        {"maxweight": "5"},
        {"maxweight:hgv": "7"},
        {"hgv": "no"},
    ],
)
def test_a_truck_goes_round_a_street_too_low_or_too_weak_for_it(
    tmp_path: Path, limit: dict[str, str]
) -> None:
    path = tiny_map(tmp_path, limit)
    van_nodes, van_m = tiny_route(path, "van")
    truck_nodes, truck_m = tiny_route(path, "truck")
    assert van_nodes == [1, 2]
    assert truck_nodes == [1, 3, 4, 2]
    assert truck_m > 4 * van_m


def test_the_van_has_limits_of_its_own(tmp_path: Path) -> None:
    path = tiny_map(tmp_path, {"maxheight": "2.5"})
    assert tiny_route(path, "car")[0] == [1, 2]
    assert tiny_route(path, "van")[0] == [1, 3, 4, 2]


def test_bikes_take_the_cycleway_and_walkers_the_steps(tmp_path: Path) -> None:
    path = tiny_map(tmp_path, {"access": "no"})
    assert tiny_route(path, "van")[0] == [1, 3, 4, 2]
    assert tiny_route(path, "cargo_bike")[0] == [1, 5, 2]
    assert tiny_route(path, "bicycle")[0] == [1, 5, 2]
    assert tiny_route(path, "foot")[0] == [1, 6, 2]


# -- the shipped extracts --------------------------------------------------------------------

#: Helsinki: from a street east of the railway station to the west side of Kamppi.
HELSINKI_A, HELSINKI_B = (24.9486634, 60.1690369), (24.9405114, 60.1704762)


@pytest.mark.parametrize("bike", ["cargo_bike", "bicycle"])
def test_in_helsinki_a_bike_takes_a_cycleway_the_van_cannot(bike: str) -> None:
    van, rider = network("HELSINKI", "van"), network("HELSINKI", bike)
    by_van = route(van, HELSINKI_A, HELSINKI_B)
    by_bike = route(rider, HELSINKI_A, HELSINKI_B)
    cycleway = ROAD_CLASSES.index("cycleway")
    on_cycleway = rider.edge_class[by_bike.edges] == cycleway
    assert rider.edge_length_m[by_bike.edges][on_cycleway].sum() > 200
    assert "cycleway" not in classes_on(van, by_van)
    # The van cannot use those cycleways at all: none of their ways is in its network.
    ways = set(rider.edge_way_id[by_bike.edges][on_cycleway].tolist())
    assert ways and not ways & set(van.edge_way_id.tolist())
    tags = dict(way_tags(helpers.HELSINKI, ways))
    assert {t["highway"] for t in tags.values()} == {"cycleway"}
    # The bike's way is a third of the van's (one-way streets and the station area).
    assert by_bike.distance_m < 0.4 * by_van.distance_m


def test_bikes_and_walkers_never_use_a_motorway() -> None:
    motorways = {ROAD_CLASSES.index("motorway"), ROAD_CLASSES.index("motorway_link")}
    car = network("MONACO", "car")
    assert set(np.unique(car.edge_class).tolist()) & motorways
    for profile in ("cargo_bike", "bicycle", "foot"):
        net = network("MONACO", profile)
        assert not set(np.unique(net.edge_class).tolist()) & motorways, profile
        # Not even a way the car's motorways share: no motorway way id at all.
        car_motorway_ways = set(car.edge_way_id[np.isin(car.edge_class, list(motorways))].tolist())
        assert not car_motorway_ways & set(net.edge_way_id.tolist()), profile


#: Monaco: two points 80 m apart across a residential street signed 3.5 t.
MONACO_A, MONACO_B = (7.401376, 43.745883), (7.4007987, 43.7462176)


def test_in_monaco_a_truck_avoids_a_street_signed_for_3_5_tonnes() -> None:
    van, truck = network("MONACO", "van"), network("MONACO", "truck")
    by_van = route(van, MONACO_A, MONACO_B)
    by_truck = route(truck, MONACO_A, MONACO_B)
    van_ways = set(van.edge_way_id[by_van.edges].tolist())
    weak = {wid for wid, tags in way_tags(helpers.MONACO, van_ways) if tags.get("maxweight")}
    assert weak, "the van's short way crosses a street with a weight limit"
    for _, tags in way_tags(helpers.MONACO, weak):
        assert float(tags["maxweight"]) < 7.5
    assert not weak & set(truck.edge_way_id.tolist())
    assert by_van.distance_m < 150
    assert by_truck.distance_m > 10 * by_van.distance_m


def test_no_way_limited_below_the_truck_is_in_its_network() -> None:
    for extract in ("MONACO", "HELSINKI"):
        path = getattr(helpers, extract)
        van, truck = network(extract, "van"), network(extract, "truck")
        low: set[int] = set()
        for wid, tags in way_tags(path, set(van.edge_way_id.tolist())):
            weight = profiles_module.parse_weight_t(tags.get("maxweight"))
            height = profiles_module.parse_height_m(tags.get("maxheight"))
            if (weight is not None and weight < 7.5) or (height is not None and height < 3.5):
                low.add(wid)
        assert low, f"{extract} has ways the van may use and the truck may not"
        assert not low & set(truck.edge_way_id.tolist())


#: Monaco: from Boulevard Albert 1er up to the Rock, by the stairs on foot.
FOOT_A, FOOT_B = (7.4175291, 43.733972), (7.4122358, 43.730036)


def test_on_foot_in_monaco_the_steps_cut_the_way_short() -> None:
    van, foot = network("MONACO", "van"), network("MONACO", "foot")
    by_van = route(van, FOOT_A, FOOT_B)
    on_foot = route(foot, FOOT_A, FOOT_B)
    assert {"steps", "footway"} <= classes_on(foot, on_foot)
    assert on_foot.distance_m < 0.6 * by_van.distance_m
    # At walking pace: never faster than 5 km/h, the steps slower still.
    assert on_foot.duration_s > on_foot.distance_m / (5 / 3.6)
    assert on_foot.duration_s < on_foot.distance_m / (3 / 3.6)
    assert on_foot.duration_s > 2 * by_van.duration_s
    classes = {foot.class_names[c] for c in np.unique(foot.edge_class)}
    assert {"steps", "pedestrian", "footway"} <= classes


def test_the_cache_is_keyed_by_the_rules_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pbf = tmp_path / helpers.HELSINKI.name
    pbf.write_bytes(helpers.HELSINKI.read_bytes())
    RoadNetwork.from_pbf(pbf, profile="truck")
    first = set(tmp_path.glob("*.truck.*.lastmile.npz"))
    assert len(first) == 1
    RoadNetwork.from_pbf(pbf, profile="truck")
    assert set(tmp_path.glob("*.truck.*.lastmile.npz")) == first
    monkeypatch.setattr(profiles_module, "RULES_VERSION", profiles_module.RULES_VERSION + 1)
    again = RoadNetwork.from_pbf(pbf, profile="truck")
    files = set(tmp_path.glob("*.truck.*.lastmile.npz"))
    assert len(files) == 2 and first < files
    assert again.profile == "truck"
