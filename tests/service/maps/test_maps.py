"""Maps offline: the roads of the road network (``GET /map/roads``) and routes along
them (``GET /plans/{id}/geometry``, ``GET /routes/{id}/geometry``) on the Monaco
extract; a service on straight lines has no roads (404) and draws straight routes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.app import create_app
from lastmile.service.errors import NotFound
from lastmile.service.maps.service import RoadMap, no_network_reason
from lastmile.service.travel import ServiceTravel, TravelConfig
from lastmile.travel.network import RoadNetwork

from ..conftest import Tenant, World, make_settings, new_tenant  # type: ignore[import-not-found]

MONACO = Path(__file__).resolve().parents[2] / "data" / "osm" / "monaco.osm.pbf"
ZONE = "Europe/Monaco"
DAY = dt.date(2025, 5, 2)
#: La Condamine, by the port.
DEPOT = (7.4215, 43.7355)
STOPS = [
    (7.4160, 43.7310),
    (7.4240, 43.7300),
    (7.4275, 43.7395),
    (7.4300, 43.7420),
    (7.4190, 43.7330),
    (7.4250, 43.7370),
]


def at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00+02:00"


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return RoadNetwork.from_pbf(MONACO, profile="car")


@pytest.fixture(scope="module")
def road_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, TestClient]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('maps') / 'maps.db'}"
    settings = make_settings(url, network=str(MONACO), traffic="none", weather="clear")
    app = create_app(settings, geocode=None)
    with TestClient(app) as client:
        yield app, client


@dataclass
class MonacoDay:
    tenant: Tenant
    plan: dict[str, Any]


@pytest.fixture(scope="module")
def day(road_app: tuple[FastAPI, TestClient]) -> MonacoDay:
    """Two vans from one depot, six deliveries around the port, planned and dispatched."""
    app, client = road_app
    t = new_tenant(app, client, timezone=ZONE)
    depot = t.depot(lon=DEPOT[0], lat=DEPOT[1])
    vtype = t.vehicle_type(capacity=[3], profile="car")
    vans = [t.vehicle(vtype["id"], depot["id"], name=f"Van {k}") for k in range(2)]
    for who, van in zip(("d1", "d2"), vans, strict=True):
        body = {
            "driver_id": str(t.driver_ids[who]),
            "vehicle_id": van["id"],
            "start_at": at("07:00"),
            "end_at": at("20:00"),
        }
        t.ok("post", "/shifts", json=body, status=201)
    for i, (lon, lat) in enumerate(STOPS):
        body = {
            "external_id": f"mc-{i}",
            "delivery": {
                "lon": lon,
                "lat": lat,
                "service_s": 120,
                "time_windows": [{"start": at("08:00"), "end": at("18:00")}],
            },
            "amount": [1],
        }
        t.ok("post", "/orders", json=body, status=201)
    # Planned in a thread of this process (no worker process to start): 2 s leave
    # time to search once the road matrix is built; a longer limit if the machine
    # is too busy for that.
    for time_limit_s in (2.0, 10.0):
        body = {"date": str(DAY), "time_limit_s": time_limit_s}
        plan = t.ok("post", "/plans", json=body, status=202)
        job = t.wait_for_job(plan["id"], timeout_s=120)
        if job["status"] == "succeeded":
            break
    assert job["status"] == "succeeded", (job["error"], job["message"])
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    assert len(plan["routes"]) == 2, plan
    return MonacoDay(t, plan)


def _inside(point: list[float], box: tuple[float, float, float, float], slack: float = 0) -> bool:
    return (
        box[0] - slack <= point[0] <= box[2] + slack
        and box[1] - slack <= point[1] <= box[3] + slack
    )


def test_the_roads_are_geojson_lines_inside_the_extract_with_major_roads(
    day: MonacoDay, network: RoadNetwork
) -> None:
    r = day.tenant.get("/map/roads")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    roads = r.json()
    assert roads["type"] == "FeatureCollection"
    features = roads["features"]
    assert len(features) > 500
    for feature in features:
        assert feature["type"] == "Feature"
        assert feature["geometry"]["type"] == "LineString"
        coordinates = feature["geometry"]["coordinates"]
        assert len(coordinates) >= 2
        assert all(_inside(p, network.bounds, slack=1e-5) for p in coordinates)
        assert isinstance(feature["properties"]["major"], bool)
    majors = sum(f["properties"]["major"] for f in features)
    assert 0 < majors < len(features)
    # Every road vertex lies on the network: a node, within rounding.
    vertices = np.array([p for f in features for p in f["geometry"]["coordinates"]])
    snapped = network.snap(vertices[:, 0], vertices[:, 1])
    assert float(snapped.distance_m.max()) < 2.0


def test_browsers_may_keep_the_roads_and_ask_again(day: MonacoDay) -> None:
    first = day.tenant.get("/map/roads", "d1")  # drivers see the map too
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = day.tenant.client.get(
        "/map/roads", headers={**day.tenant.headers("dispatcher"), "If-None-Match": etag}
    )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    # Compressed for clients that take gzip (the same GeoJSON once decoded).
    assert first.headers["content-encoding"] == "gzip"
    assert first.num_bytes_downloaded * 4 < len(first.content)
    plain = day.tenant.client.get(
        "/map/roads", headers={**day.tenant.headers(), "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert plain.content == first.content
    other = day.tenant.get("/map/roads", params={"simplify": 0})
    assert other.headers["etag"] != etag
    assert len(other.content) > len(first.content)  # simplification keeps it smaller


def test_a_box_keeps_only_the_roads_that_cross_it(day: MonacoDay) -> None:
    everything = day.tenant.ok("get", "/map/roads")["features"]
    box = (7.415, 43.728, 7.425, 43.736)
    inside = day.tenant.ok("get", "/map/roads", params={"bbox": ",".join(map(str, box))})
    found = inside["features"]
    assert 0 < len(found) < len(everything) / 2
    for feature in found:
        xs = [p[0] for p in feature["geometry"]["coordinates"]]
        ys = [p[1] for p in feature["geometry"]["coordinates"]]
        assert min(xs) <= box[2] and max(xs) >= box[0]
        assert min(ys) <= box[3] and max(ys) >= box[1]


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"bbox": "7.4,43.7,7.5"}, "4 numbers"),
        ({"bbox": "7.5,43.7,7.4,43.8"}, "minimum"),
        ({"bbox": "a,b,c,d"}, "numbers"),
        ({"simplify": -1}, "simplify"),
    ],
)
def test_a_bad_box_or_tolerance_is_refused_naming_it(
    day: MonacoDay, params: dict[str, Any], words: str
) -> None:
    r = day.tenant.get("/map/roads", params=params)
    assert r.status_code == 422, r.text
    assert words in r.text


def _visits(route: dict[str, Any]) -> list[tuple[float, float]]:
    return [(v["lon"], v["lat"]) for v in route["visits"] if v["lon"] is not None]


def test_a_plans_routes_follow_the_roads_from_the_depot_and_back(
    day: MonacoDay, network: RoadNetwork
) -> None:
    plan = day.plan
    answer = day.tenant.get(f"/plans/{plan['id']}/geometry")
    assert answer.headers["content-type"].startswith("application/geo+json")
    geometry = answer.json()
    assert geometry["type"] == "FeatureCollection"
    features = geometry["features"]
    assert [f["properties"]["route_id"] for f in features] == [r["id"] for r in plan["routes"]]
    for k, (feature, route) in enumerate(zip(features, plan["routes"], strict=True)):
        props = feature["properties"]
        assert props == {
            "route_id": route["id"],
            "vehicle_id": route["vehicle_id"],
            "vehicle_name": day.tenant.ok("get", f"/routes/{route['id']}")["vehicle_name"],
            "colour": k,
            "geometry": "road",
        }
        coordinates = feature["geometry"]["coordinates"]
        places = _visits(route)
        assert len(coordinates) > 2 * len(places)
        assert tuple(coordinates[0]) == pytest.approx(DEPOT, abs=1e-6)
        assert tuple(coordinates[-1]) == pytest.approx(DEPOT, abs=1e-6)
        # Every vertex is on a road, except the visits themselves (kerb to door).
        on_road = np.array(
            [p for p in coordinates if not any(p == pytest.approx(q, abs=1e-6) for q in places)]
        )
        snapped = network.snap(on_road[:, 0], on_road[:, 1])
        assert float(snapped.distance_m.max()) < 1.0
        # Each stop is on the line, in the route's order.
        index = [
            next(i for i, p in enumerate(coordinates) if p == pytest.approx(q, abs=1e-6))
            for q in places[1:-1]
        ]
        assert index == sorted(index)


def test_route_lines_are_simplified_keeping_every_stop(day: MonacoDay) -> None:
    url = f"/plans/{day.plan['id']}/geometry"
    default = day.tenant.ok("get", url)["features"]
    full = day.tenant.ok("get", url, params={"simplify": 0})["features"]
    coarse = day.tenant.ok("get", url, params={"simplify": 50})["features"]
    for a, b, c, route in zip(default, full, coarse, day.plan["routes"], strict=True):
        sizes = [len(f["geometry"]["coordinates"]) for f in (c, a, b)]
        assert sizes == sorted(sizes) and sizes[0] < sizes[2]
        for feature in (a, b, c):
            line = feature["geometry"]["coordinates"]
            for place in _visits(route):
                assert any(p == pytest.approx(place, abs=1e-6) for p in line)
    assert day.tenant.get(url, params={"simplify": 1000}).status_code == 422


def test_a_driver_draws_their_own_route(day: MonacoDay) -> None:
    t = day.tenant
    mine = t.ok("get", "/me/routes", "d1")[0]
    geometry = t.ok("get", f"/routes/{mine['id']}/geometry", "d1")
    [feature] = geometry["features"]
    assert feature["properties"]["route_id"] == mine["id"]
    assert feature["properties"]["geometry"] == "road"
    whole = t.ok("get", f"/plans/{day.plan['id']}/geometry")
    same = next(f for f in whole["features"] if f["properties"]["route_id"] == mine["id"])
    assert feature == same
    assert t.get(f"/routes/{mine['id']}/geometry", "d2").status_code == 403
    assert t.get(f"/plans/{day.plan['id']}/geometry", "d1").status_code == 403


def test_without_a_road_network_there_are_no_roads_and_routes_are_straight(
    world: World,
) -> None:
    t = world.tenant
    r = t.get("/map/roads")
    assert r.status_code == 404
    assert "straight lines" in r.json()["detail"]
    assert "LASTMILE_NETWORK" in r.json()["detail"]
    geometry = t.ok("get", f"/plans/{world.plan['id']}/geometry")
    assert len(geometry["features"]) == len(world.plan["routes"]) == 2
    for feature, route in zip(geometry["features"], world.plan["routes"], strict=True):
        assert feature["properties"]["geometry"] == "straight_line"
        places = _visits(route)
        distinct = [p for k, p in enumerate(places) if k == 0 or p != places[k - 1]]
        found = feature["geometry"]["coordinates"]
        assert np.allclose(found, distinct, atol=1e-6)


def test_the_404_says_why_there_are_no_roads() -> None:
    osrm = ServiceTravel(TravelConfig(osrm_url="http://osrm.example:5000"))
    with pytest.raises(NotFound, match="OSRM server"):
        RoadMap(osrm).roads(bbox=None, tolerance_m=5.0)
    straight = ServiceTravel(TravelConfig())
    with pytest.raises(NotFound, match="straight lines"):
        RoadMap(straight).roads(bbox=None, tolerance_m=5.0)
    assert no_network_reason(ServiceTravel(TravelConfig(network=str(MONACO)))) is None


def test_a_customer_link_gets_the_roads_around_its_own_stop_only(day: MonacoDay) -> None:
    orders = day.tenant.ok("get", "/orders")
    order = next(o for o in orders if o["external_id"] == "mc-0")
    link = day.tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)
    token = link["token"]
    client = day.tenant.client
    r = client.get(f"/track/{token}/roads")  # no credential but the link itself
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    features = r.json()["features"]
    everything = day.tenant.ok("get", "/map/roads")["features"]
    assert 0 < len(features) <= len(everything)
    lon, lat = STOPS[0]
    # Only roads that may cross the square of about 2 km around the stop.
    near = (lon - 0.05, lat - 0.03, lon + 0.05, lat + 0.03)
    for feature in features:
        points = feature["geometry"]["coordinates"]
        assert any(_inside(p, near) for p in points) or len(points) == 2
    assert client.get("/track/not-a-link/roads").status_code == 404
    day.tenant.ok("delete", f"/orders/{order['id']}/tracking-links", status=204)
    assert client.get(f"/track/{token}/roads").status_code == 404


@pytest.mark.parametrize("path", ["/plans/{plan_id}/geometry", "/routes/{route_id}/geometry"])
def test_geometry_errors_are_documented_as_the_json_they_are(client: TestClient, path: str) -> None:
    r = client.get(path.format(plan_id=uuid.uuid4(), route_id=uuid.uuid4()))
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/json"
    responses = client.get("/openapi.json").json()["paths"][path]["get"]["responses"]
    assert list(responses["200"]["content"]) == ["application/geo+json"]
    for status in ("401", "403", "404"):
        assert list(responses[status]["content"]) == ["application/json"], status
