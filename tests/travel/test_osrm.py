"""OSRM client against a fake transport, and against a real osrm-routed on 127.0.0.1.

The real server is prepared once per session from the Monaco extract (programs
from the osrm-bindings wheel, cached in .cache/osrm; about 10 s the first time).
Where it cannot run the test is skipped with the reason, except under CI=true,
where it must run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote

import httpx
import numpy as np
import pytest

from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.travel.osrm import OSRMClient, OSRMError, OSRMTravelModel, OSRMUnavailable
from lastmile.travel.road import RoadTravelModel


def _load(name: str) -> ModuleType:
    key = f"lastmile_tests_travel_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


helpers = _load("road_helpers")

A, B, C = (7.4197, 43.7311), (7.4271, 43.7404), (7.43, 43.74)


def fake(handler: object) -> OSRMClient:
    return OSRMClient("http://osrm.test", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_table_request_and_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "code": "Ok",
                "durations": [[0, 10.5], [12.25, 0]],
                "distances": [[0, 100.0], [120.0, 0]],
            },
        )

    client = fake(handler)
    table = client.table([A, B])
    assert table.durations_s.tolist() == [[0, 10.5], [12.25, 0]]
    assert table.distances_m[1, 0] == 120.0
    url = seen[0].url
    assert unquote(url.path) == "/table/v1/driving/7.419700,43.731100;7.427100,43.740400"
    assert url.params["annotations"] == "duration,distance"
    client.table([A, B], sources=[0], destinations=[1])
    assert seen[1].url.params["sources"] == "0" and seen[1].url.params["destinations"] == "1"


def test_route_request_and_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["geometries"] == "geojson"
        assert request.url.params["overview"] == "full"
        return httpx.Response(
            200,
            json={
                "code": "Ok",
                "routes": [
                    {
                        "duration": 164.6,
                        "distance": 1878.6,
                        "geometry": {"type": "LineString", "coordinates": [list(A), list(B)]},
                    }
                ],
                "waypoints": [{"distance": 3.5}, {"distance": 7.0}],
            },
        )

    route = fake(handler).route([A, B])
    assert route.duration_s == 164.6 and route.distance_m == 1878.6
    assert route.coordinates == (A, B)
    assert route.snap_m == (3.5, 7.0)
    assert route.geojson()["coordinates"] == [list(A), list(B)]


def test_error_codes_are_raised_with_osrm_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"code": "TooBig", "message": "Too many table coordinates"})

    with pytest.raises(OSRMError, match="TooBig: Too many table coordinates") as info:
        fake(handler).table([A, B])
    assert info.value.code == "TooBig"


def test_non_json_and_unreachable_servers() -> None:
    with pytest.raises(OSRMError, match="HTTP 502 without a JSON answer"):
        fake(lambda r: httpx.Response(502, text="<html>bad gateway</html>")).table([A, B])

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(OSRMUnavailable, match="cannot reach"):
        fake(refuse).route([A, B])
    with pytest.raises(OSRMError, match="without a usable route"):
        fake(lambda r: httpx.Response(200, json={"code": "Ok", "routes": []})).route([A, B])


def test_input_checks_name_the_coordinate() -> None:
    client = fake(lambda r: httpx.Response(500))
    with pytest.raises(InputError, match="coordinate 1"):
        client.table([A, (43.7, 200.0)])
    with pytest.raises(InputError, match="two coordinates"):
        client.route([A])


def test_travel_model_rounds_and_refuses_unreachable_pairs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = len(unquote(request.url.path).split("/")[-1].split(";"))
        durations = [[0.0 if i == j else 10.4 + i for j in range(n)] for i in range(n)]
        distances = [[0.0 if i == j else 99.6 for j in range(n)] for i in range(n)]
        if n == 3:
            durations[2][0] = None  # type: ignore[call-overload]
        return httpx.Response(
            200, json={"code": "Ok", "durations": durations, "distances": distances}
        )

    model = OSRMTravelModel(fake(handler))
    m = model.matrix([Location(*A), Location(*B)])
    assert m.durations.tolist() == [[0, 10], [11, 0]]
    assert m.distances.tolist() == [[0, 100], [100, 0]]
    assert "OSRM at http://osrm.test" in model.description
    with pytest.raises(InputError, match="no route from 2 to 0"):
        model.matrix([Location(*A), Location(*B), Location(*C)])


# -- a real osrm-routed ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def osrm_server() -> Iterator[object]:
    from lastmile.travel import osrm_server

    try:
        base = osrm_server.prepare(helpers.MONACO, cache_dir=helpers.REPO / ".cache" / "osrm")
        server = osrm_server.OSRMServer(base, cache_dir=helpers.REPO / ".cache" / "osrm").start()
    except OSRMUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"osrm-routed must run in CI: {exc}")
        pytest.skip(f"osrm-routed cannot run here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.service
def test_real_osrm_table_and_route_agree_with_the_road_network(osrm_server: object) -> None:
    from lastmile.travel.osrm_server import OSRMServer

    assert isinstance(osrm_server, OSRMServer)
    assert osrm_server.url.startswith("http://127.0.0.1:")
    with osrm_server.client() as client:
        _compare_with_road_network(client)


def _compare_with_road_network(client: OSRMClient) -> None:
    ours = RoadTravelModel.from_pbf(helpers.MONACO)
    rng = np.random.default_rng(11)
    net = ours.network
    k = rng.choice(net.n_nodes, 25, replace=False)
    places = [Location(float(net.node_lon[i]), float(net.node_lat[i])) for i in k]
    theirs = OSRMTravelModel(client)
    o_dur, o_dist = theirs.float_matrix(places)
    l_dur, l_dist = ours.float_matrix(places)
    assert o_dur.shape == (25, 25) and np.isfinite(o_dur).all()
    off = ~np.eye(25, dtype=bool)
    # Same roads, same extract: distances close; OSRM adds turn and signal penalties.
    ratio_dist = np.median(o_dist[off] / np.maximum(l_dist[off], 1.0))
    ratio_dur = np.median(o_dur[off] / np.maximum(l_dur[off], 1.0))
    assert 0.8 < ratio_dist < 1.25, ratio_dist
    assert 0.7 < ratio_dur < 2.0, ratio_dur
    route = theirs.path(places[0], places[1])
    assert route.duration_s == pytest.approx(o_dur[0, 1], abs=0.5)
    assert len(route.coordinates) >= 2
    json.dumps(route.feature())
    with pytest.raises(OSRMError) as info:
        client.table([A], sources=[5])
    assert info.value.code


@pytest.mark.service
def test_server_stops_by_its_own_pid(osrm_server: object) -> None:
    from lastmile.travel.osrm_server import OSRMServer

    assert isinstance(osrm_server, OSRMServer)
    second = OSRMServer(osrm_server.osrm_base, cache_dir=helpers.REPO / ".cache" / "osrm")
    with second:
        pid = second.pid
        assert pid is not None and pid != osrm_server.pid
        with second.client() as client:
            assert client.table([A, B]).durations_s.shape == (2, 2)
    assert second.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    # The first server is still up.
    with osrm_server.client() as client:
        assert client.table([A, B]).durations_s.shape == (2, 2)


def test_every_vehicle_profile_has_an_osrm_profile() -> None:
    from lastmile.travel.network import PROFILE_NAMES
    from lastmile.travel.osrm_server import PROFILES

    assert set(PROFILE_NAMES) <= set(PROFILES)
    assert PROFILES["cargo_bike"] == PROFILES["bicycle"] == "bicycle.lua"
    assert PROFILES["truck"] == "car.lua"


def test_server_serves_mld_by_default_or_ch_and_nothing_else(tmp_path: Path) -> None:
    from lastmile.travel.osrm_server import OSRMServer

    assert OSRMServer(tmp_path / "map.osrm", port=1).algorithm == "mld"
    assert OSRMServer(tmp_path / "map.osrm", port=1, algorithm="ch").algorithm == "ch"
    with pytest.raises(ValueError, match="'mld' or 'ch'"):
        OSRMServer(tmp_path / "map.osrm", port=1, algorithm="corech")
