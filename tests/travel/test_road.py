"""Road travel models: the travel model protocol, route geometry, time-dependent edge times."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import polyline
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel import TravelModel
from lastmile.travel.matrix import TravelMatrix
from lastmile.travel.network import RoadNetwork, haversine_m_array
from lastmile.travel.road import RoadTravelModel, RoutePath


def _load(name: str) -> ModuleType:
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(helpers.MONACO, profile="car")


@pytest.fixture(scope="module")
def model(monaco: RoadNetwork) -> RoadTravelModel:
    return RoadTravelModel(monaco)


PLACES = [
    Location(7.4197, 43.7311, name="Fontvieille"),
    Location(7.4271, 43.7404, name="Casino"),
    Location(7.4300, 43.7400),
    Location(7.4128, 43.7270),
]


def test_model_follows_the_travel_model_protocol(model: RoadTravelModel) -> None:
    proto: TravelModel = model
    m = proto.matrix(PLACES)
    assert isinstance(m, TravelMatrix) and m.size == 4
    dur, dist = model.float_matrix(PLACES)
    np.testing.assert_array_equal(m.durations, np.rint(dur))
    np.testing.assert_array_equal(m.distances, np.rint(dist))
    assert "monaco.osm.pbf" in model.description
    assert "OpenStreetMap contributors" in model.description
    # Across Monaco by car: minutes, kilometres.
    assert 60 < m.durations[0, 1] < 900 and 1000 < m.distances[0, 1] < 6000
    assert model.matrix([]).size == 0


def test_route_geometry_geojson_and_polyline(model: RoadTravelModel) -> None:
    route = model.path(PLACES[0], PLACES[1])
    assert isinstance(route, RoutePath)
    dur, dist = model.float_matrix(PLACES[:2])
    assert route.duration_s == pytest.approx(dur[0, 1], abs=1e-6)
    assert route.distance_m == pytest.approx(dist[0, 1], abs=1e-6)
    gj = route.geojson()
    assert gj["type"] == "LineString" and len(gj["coordinates"]) >= 2
    assert gj["coordinates"][0] == list(route.coordinates[0])
    feature = route.feature()
    assert feature["properties"]["duration_s"] == route.duration_s
    assert "OpenStreetMap" in feature["properties"]["attribution"]
    assert all(s < 200 for s in route.snap_m)
    decoded = polyline.decode(route.polyline())
    assert len(decoded) == len(route.coordinates)
    for (lat, lon), (x, y) in zip(decoded, route.coordinates, strict=True):
        assert lat == pytest.approx(y, abs=1e-5) and lon == pytest.approx(x, abs=1e-5)
    # The line is about as long as the route says.
    c = np.array(route.coordinates)
    length = haversine_m_array(c[:-1, 0], c[:-1, 1], c[1:, 0], c[1:, 1]).sum()
    assert length == pytest.approx(route.distance_m, rel=1e-3)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-180, 180, allow_nan=False), st.floats(-89.9, 89.9, allow_nan=False)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from([5, 6]),
)
def test_polyline_round_trip(points: list[tuple[float, float]], precision: int) -> None:
    route = RoutePath(duration_s=1.0, distance_m=1.0, coordinates=tuple(points))
    decoded = polyline.decode(route.polyline(precision=precision), precision)
    step = 10.0**-precision
    for (lat, lon), (x, y) in zip(decoded, points, strict=True):
        assert abs(lat - y) <= step and abs(lon - x) <= step


def test_time_dependent_edge_times_are_applied(monaco: RoadNetwork) -> None:
    def slower_at_rush_hour(departure: int | None) -> np.ndarray:
        factor = 2.0 if departure is not None and 7 * 3600 <= departure < 9 * 3600 else 1.0
        return monaco.edge_freeflow_s * factor

    model = RoadTravelModel(monaco, edge_times=slower_at_rush_hour)
    night, _ = model.float_matrix(PLACES, departure=3 * 3600)
    rush, _ = model.float_matrix(PLACES, departure=8 * 3600)
    np.testing.assert_allclose(rush, 2 * night, rtol=1e-12)
    assert model.path(PLACES[0], PLACES[1], departure=8 * 3600).duration_s == pytest.approx(
        rush[0, 1]
    )
    assert "time-dependent" in model.description


def test_far_and_non_geographic_locations(monaco: RoadNetwork) -> None:
    sea = Location(7.42, 43.68)
    strict = RoadTravelModel(monaco, strict_snap=True)
    with pytest.raises(InputError, match="location 1"):
        strict.matrix([PLACES[0], sea])
    lenient = RoadTravelModel(monaco)
    assert lenient.snap([PLACES[0], sea]).far_indices == [1]
    assert lenient.matrix([PLACES[0], sea]).size == 2
    with pytest.raises(InputError, match="location 0"):
        lenient.matrix([Location(1.0, 2.0, planar=True)])
    with pytest.raises(InputError, match="max_snap_m"):
        RoadTravelModel(monaco, max_snap_m=-5)
