"""The service on a road network (``LASTMILE_NETWORK``, ``serve --network``): start-up
checks, ``GET /health``, plans re-timed on the roads with traffic, ETAs and an
insertion on the same model.

The app here runs on the Helsinki extract shipped with the tests, with default
(rush-hour) traffic, on SQLite; the network is loaded once for the module (and
from its disk cache after the first run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import uuid
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile import cli
from lastmile.domain import Location, VisitKind
from lastmile.domain import Plan as DomainPlan
from lastmile.exceptions import InputError
from lastmile.planning import build_route
from lastmile.planning.schedule import Step
from lastmile.planning.validate import validate
from lastmile.service.app import create_app
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.snapshot import build_snapshot
from lastmile.service.tracking.eta import compute_eta
from lastmile.service.travel import (
    HeldRoadModel,
    RoadModelAt,
    ServiceTravel,
    TravelConfig,
    public_url,
)
from lastmile.travel import HaversineModel, TravelMatrix
from lastmile.travel.network import RoadNetwork
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import StaticWeather

from .conftest import Tenant, make_settings, new_tenant  # type: ignore[import-not-found]

HELSINKI = Path(__file__).resolve().parents[1] / "data" / "osm" / "helsinki.osm.pbf"
ZONE = "Europe/Helsinki"
DAY = dt.date(2025, 5, 2)  # a Friday: weekday traffic
#: Inside the extract (24.935-24.953 E, 60.164-60.179 N).
DEPOT = (24.9440, 60.1700)
ROAD = {
    "kind": "road",
    "network": "helsinki.osm.pbf",
    "traffic": "default",
    "weather": "clear",
    "time_dependent": True,
}


def at(hhmm: str) -> str:
    return f"{DAY}T{hhmm}:00+03:00"


def epoch_of_day() -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(0), tzinfo=zoneinfo.ZoneInfo(ZONE))


@pytest.fixture(scope="module")
def road_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, TestClient]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('road') / 'road.db'}"
    settings = make_settings(
        url, network=str(HELSINKI), traffic="default", weather="clear", live_view_ttl_s=0
    )
    app = create_app(settings, geocode=None)
    with TestClient(app) as client:
        yield app, client


@pytest.fixture(scope="module")
def model() -> TimeDependentModel:
    """The road model of the plan's day, built here from the library alone."""
    network = RoadNetwork.from_pbf(HELSINKI, profile="car")
    return TimeDependentModel(
        network, TrafficProfile.default(), StaticWeather(), epoch=epoch_of_day()
    )


@dataclasses.dataclass
class RoadDay:
    tenant: Tenant
    plan: dict[str, Any]


@pytest.fixture(scope="module")
def day(road_app: tuple[FastAPI, TestClient]) -> RoadDay:
    """Two vans, ten deliveries across central Helsinki, a plan made by the
    planning job (in its worker process), dispatched."""
    app, client = road_app
    t = new_tenant(app, client, timezone=ZONE)
    depot = t.depot(lon=DEPOT[0], lat=DEPOT[1])
    vtype = t.vehicle_type(capacity=[6], profile="car")
    vans = [t.vehicle(vtype["id"], depot["id"], name=f"Van {k}") for k in range(2)]
    for who, van in zip(("d1", "d2"), vans, strict=True):
        body = {
            "driver_id": str(t.driver_ids[who]),
            "vehicle_id": van["id"],
            "start_at": at("07:00"),
            "end_at": at("20:00"),
        }
        t.ok("post", "/shifts", json=body, status=201)
    for i in range(10):
        body = {
            "external_id": f"hki-{i}",
            "delivery": {
                "lon": round(24.937 + 0.0016 * i, 5),
                "lat": round(60.166 + 0.0011 * ((i * 7) % 11), 5),
                "service_s": 180,
                "time_windows": [{"start": at("07:30"), "end": at("19:00")}],
            },
            "amount": [1],
        }
        t.ok("post", "/orders", json=body, status=201)
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1.0}, status=202)
    job = t.wait_for_job(plan["id"], timeout_s=120)
    assert job["status"] == "succeeded", (job["error"], job["message"])
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    return RoadDay(t, plan)


def seconds(when: str) -> int:
    return int((dt.datetime.fromisoformat(when) - epoch_of_day()).total_seconds())


def legs_of(route: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Consecutive visits at different places (the legs the route drives)."""
    visits = route["visits"]
    return [
        (a, b)
        for a, b in itertools.pairwise(visits)
        if (a["lon"], a["lat"]) != (b["lon"], b["lat"])
    ]


def leg_s(model: TimeDependentModel, a: dict[str, Any], b: dict[str, Any], leave: int) -> int:
    found = RoadModelAt(model, leave).between([_loc(a)], [_loc(b)])[0]
    return int(found[0, 0])


def _loc(v: dict[str, Any]) -> Location:
    return Location(v["lon"], v["lat"])


# -- configuration --------------------------------------------------------------------------


def test_health_shows_the_road_network_traffic_and_weather(
    road_app: tuple[FastAPI, TestClient],
) -> None:
    health = road_app[1].get("/health").json()
    assert health["travel"] == ROAD


def test_health_shows_straight_lines_when_nothing_is_configured(client: TestClient) -> None:
    assert client.get("/health").json()["travel"] == {
        "kind": "straight_line",
        "speed_kph": 30.0,
        "detour_factor": 1.3,
        "time_dependent": False,
    }


def test_an_osrm_server_is_shown_without_its_secrets() -> None:
    config = TravelConfig(osrm_url="https://user:secret@osrm.example:5000/base?key=k1#x")
    assert config.public() == {
        "kind": "osrm",
        "url": "https://osrm.example:5000/base",
        "time_dependent": False,
    }
    travel = ServiceTravel(config)
    assert "secret" not in str(travel.describe()) and "k1" not in str(travel.describe())
    assert public_url("http://osrm:5000") == "http://osrm:5000"


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (TravelConfig(network="x.osm.pbf", osrm_url="http://osrm:5000"), "LASTMILE_OSRM_URL"),
        (TravelConfig(traffic="none"), "LASTMILE_TRAFFIC"),
        (TravelConfig(weather="rain"), "LASTMILE_WEATHER"),
        (TravelConfig(osrm_url="osrm:5000"), "LASTMILE_OSRM_URL"),
    ],
)
def test_settings_that_do_not_go_together_are_refused(config: TravelConfig, where: str) -> None:
    with pytest.raises(InputError) as caught:
        config.check()
    assert caught.value.where == where


def test_serve_stops_at_a_missing_network_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LASTMILE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    missing = tmp_path / "nowhere.osm.pbf"
    assert cli.main(["serve", "--network", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such file" in err
    # The same from the environment.
    monkeypatch.setenv("LASTMILE_NETWORK", str(missing))
    assert cli.main(["serve"]) == 2
    assert str(missing) in capsys.readouterr().err


def test_serve_stops_at_an_unreadable_network_or_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LASTMILE_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not an extract")
    assert cli.main(["serve", "--network", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
    assert cli.main(["serve", "--network", str(HELSINKI), "--weather", "snowstorm"]) == 2
    assert "snowstorm" in capsys.readouterr().err
    assert cli.main(["serve", "--traffic", "none"]) == 2
    assert "LASTMILE_TRAFFIC" in capsys.readouterr().err


# -- planning -------------------------------------------------------------------------------


def test_a_plan_is_timed_on_the_roads_with_traffic(
    road_app: tuple[FastAPI, TestClient], day: RoadDay, model: TimeDependentModel
) -> None:
    app = road_app[0]
    plan = day.tenant.ok("get", f"/plans/{day.plan['id']}")
    assert plan["travel_model"] == ROAD
    assert "road network" in plan["travel_note"] and "time-dependent" in plan["travel_note"]
    assert not plan["unassigned"] and len(plan["routes"]) == 2
    straight = HaversineModel(speed_kph=30, detour_factor=1.3)
    differ = 0
    for route in plan["routes"]:
        for a, b in legs_of(route):
            leave = seconds(a["departure_at"])
            driven = b["travel_s"] - a["travel_s"]
            # Each leg takes what the road model says for that moment of the day.
            assert driven == leg_s(model, a, b, leave), (a["sequence"], b["sequence"])
            line = int(straight.between([_loc(a)], [_loc(b)])[0][0, 0])
            differ += abs(driven - line) > 5
    assert differ > 0

    # The independent validator accepts every route on a matrix holding those legs.
    with app.state.sessionmaker() as session:
        org = session.get(Organisation, day.tenant.org_id)
        assert org is not None
        snapshot = build_snapshot(
            session,
            org=org,
            epoch=epoch_of_day(),
            order_ids=[
                uuid.UUID(v["order_id"])
                for r in plan["routes"]
                for v in r["visits"]
                if v["order_id"]
            ],
            vehicle_ids=[uuid.UUID(r["vehicle_id"]) for r in plan["routes"]],
            travel_model=app.state.travel_model,
        )
    problem = snapshot.problem
    row_of = {(loc.lon, loc.lat): i for i, loc in enumerate(problem.locations)}
    for route in plan["routes"]:
        vehicle = problem.vehicle(route["vehicle_id"])
        matrix = problem.matrix_for(vehicle)
        durations = np.array(matrix.durations)
        for a, b in legs_of(route):
            i, j = row_of[(a["lon"], a["lat"])], row_of[(b["lon"], b["lat"])]
            durations[i, j] = b["travel_s"] - a["travel_s"]
        own = dataclasses.replace(
            problem,
            matrices={
                **problem.matrices,
                vehicle.type.profile: TravelMatrix(
                    durations=durations, distances=np.array(matrix.distances)
                ),
            },
        )
        steps = [
            Step(VisitKind(v["kind"]), order_id=v["order_id"])
            for v in route["visits"]
            if v["order_id"]
        ]
        rebuilt = build_route(own, vehicle, steps)
        assert [seconds(v["arrival_at"]) for v in route["visits"]] == [
            v.arrival for v in rebuilt.visits
        ]
        # Checked alone: the other route's orders show as unserved, nothing else may.
        report = validate(own, DomainPlan((rebuilt,)))
        mine = {v["order_id"] for v in route["visits"] if v["order_id"]}
        assert [v for v in report.violations if v.code != "unserved" or v.order_id in mine] == []
        assert report.travel == route["travel_s"]


# -- ETAs and insertion ---------------------------------------------------------------------


def test_eta_of_an_untouched_route_is_its_plan_on_the_roads(
    road_app: tuple[FastAPI, TestClient], day: RoadDay
) -> None:
    app = road_app[0]
    route = day.plan["routes"][0]
    with app.state.sessionmaker() as session:
        early = dt.datetime.fromisoformat(route["start_at"]) - dt.timedelta(hours=2)
        comp = compute_eta(
            session,
            route_id=uuid.UUID(route["id"]),
            travel_model=app.state.travel_model,
            margin_s=0,
            now=early,
        )
    planned = {v["sequence"]: seconds(v["arrival_at"]) for v in route["visits"]}
    # Legs timed when they are driven, on the plan's model: the plan comes back (the
    # first pass, every leg leaving two hours early in lighter traffic, does not).
    assert {s.sequence: seconds(s.eta_at.isoformat()) for s in comp.out.stops} == {
        seq: t for seq, t in planned.items() if seq > 0
    }


def test_an_insertion_is_timed_on_the_roads_at_that_moment(
    road_app: tuple[FastAPI, TestClient], day: RoadDay, model: TimeDependentModel
) -> None:
    app = road_app[0]
    t = day.tenant
    now = dt.datetime.fromisoformat(at("07:10"))
    app.state.clock = lambda: now
    try:
        body = {
            "external_id": "urgent",
            "delivery": {
                "lon": 24.9450,
                "lat": 60.1745,
                "service_s": 120,
                "time_windows": [{"start": at("09:00"), "end": at("18:00")}],
            },
            "amount": [1],
        }
        order = t.ok("post", "/orders", json=body, status=201)
        answer = t.ok("post", f"/plans/{day.plan['id']}/orders", json={"order_id": order["id"]})
    finally:
        del app.state.clock
    assert answer["applied"], answer
    (route,) = [
        r for r in answer["routes"] if any(v["order_id"] == order["id"] for v in r["visits"])
    ]
    # Re-planning times every leg on the road model with the speeds of the moment of
    # the change (the library's frozen matrix), not on straight lines.
    leave = seconds(now.isoformat())
    held = HeldRoadModel(model, leave)
    legs = legs_of(route)
    assert legs
    for a, b in legs:
        assert b["travel_s"] - a["travel_s"] == held.between([_loc(a)], [_loc(b)])[0][0, 0]
    places = list(dict.fromkeys((v["lon"], v["lat"]) for v in route["visits"]))
    frozen = model.bind([Location(*p) for p in places]).frozen_matrix(leave)
    row = {p: i for i, p in enumerate(places)}
    for a, b in legs:
        i, j = row[(a["lon"], a["lat"])], row[(b["lon"], b["lat"])]
        assert b["travel_s"] - a["travel_s"] == frozen.durations[i, j]


def test_held_speeds_grow_by_rows_and_columns_as_the_library_computes_them(
    model: TimeDependentModel,
) -> None:
    rng = np.random.default_rng(3)
    places = [
        Location(float(x), float(y))
        for x, y in zip(
            rng.uniform(24.937, 24.9515, 40), rng.uniform(60.1655, 60.1775, 40), strict=True
        )
    ]
    leave = 8 * 3600 + 10 * 60
    held = HeldRoadModel(model, leave)
    whole = held.matrix(places)
    library = model.bind(places).frozen_matrix(leave)
    assert np.array_equal(whole.durations, library.durations)
    assert np.array_equal(whole.distances, library.distances)
    old, new = places[:37], places[37:]
    out_t, out_d = held.between(new, places)  # few origins: searched forwards
    in_t, in_d = held.between(old, new)  # few destinations: searched backwards
    assert np.array_equal(out_t, whole.durations[37:]) and np.array_equal(
        out_d, whole.distances[37:]
    )
    assert np.array_equal(in_t, whole.durations[:37, 37:])
    assert np.array_equal(in_d, whole.distances[:37, 37:])
    # Rush hour is slower than the night on the same roads.
    night = HeldRoadModel(model, 3 * 3600).matrix(places).durations
    assert (whole.durations >= night).all() and (whole.durations > night).any()


def test_eta_from_a_position_follows_the_road_model(
    road_app: tuple[FastAPI, TestClient], day: RoadDay, model: TimeDependentModel
) -> None:
    app = road_app[0]
    t = day.tenant
    route = t.ok("get", f"/plans/{day.plan['id']}")["routes"][1]
    driver = next(who for who, d in t.driver_ids.items() if str(d) == route["driver_id"])
    t.ok("post", f"/routes/{route['id']}/start", driver)
    fix = {"event_id": "fix-1", "at": at("08:05"), "lon": 24.9500, "lat": 60.1760}
    t.ok("post", f"/routes/{route['id']}/pings", driver, json={"pings": [fix]})
    now = dt.datetime.fromisoformat(at("08:06"))
    with app.state.sessionmaker() as session:
        comp = compute_eta(
            session,
            route_id=uuid.UUID(route["id"]),
            travel_model=app.state.travel_model,
            margin_s=0,
            now=now,
        )
    assert comp.out.origin == "position"
    ahead = {v["sequence"]: v for v in route["visits"]}
    first = comp.out.stops[0]
    here = {"lon": fix["lon"], "lat": fix["lat"]}
    leave = comp.eta.origin.ready_s  # when the fix was taken
    assert leave == seconds(fix["at"])
    assert seconds(first.eta_at.isoformat()) - leave == leg_s(
        model, here, ahead[first.sequence], leave
    )
    for a, b in itertools.pairwise(comp.out.stops):
        va, vb = ahead[a.sequence], ahead[b.sequence]
        if (va["lon"], va["lat"]) == (vb["lon"], vb["lat"]):
            continue
        left = seconds(a.departure_at.isoformat())
        assert seconds(b.eta_at.isoformat()) - left == leg_s(model, va, vb, left)


def test_a_fleet_on_two_road_profiles_plans_each_on_its_own(
    road_app: tuple[FastAPI, TestClient],
) -> None:
    """Vans on the car network, cargo bikes on the bike network: each route drives its
    own profile's matrix (rows leaving when they are expected to), validated by solve."""
    app, client = road_app
    t = new_tenant(app, client, timezone=ZONE)
    depot = t.depot(lon=DEPOT[0], lat=DEPOT[1])
    types = {
        "car": t.vehicle_type(name="Van", capacity=[4], profile="car"),
        "cargo_bike": t.vehicle_type(name="Bike", capacity=[4], profile="cargo_bike"),
    }
    for who, (profile, vtype) in zip(("d1", "d2"), types.items(), strict=True):
        vehicle = t.vehicle(vtype["id"], depot["id"], name=profile)
        body = {
            "driver_id": str(t.driver_ids[who]),
            "vehicle_id": vehicle["id"],
            "start_at": at("08:00"),
            "end_at": at("18:00"),
        }
        t.ok("post", "/shifts", json=body, status=201)
    for i in range(8):
        body = {
            "external_id": f"mix-{i}",
            "delivery": {
                "lon": round(24.938 + 0.0017 * i, 5),
                "lat": round(60.167 + 0.0013 * ((i * 5) % 9), 5),
                "service_s": 120,
                "time_windows": [{"start": at("08:00"), "end": at("17:00")}],
            },
            "amount": [1],
        }
        t.ok("post", "/orders", json=body, status=201)
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1.0}, status=202)
    job = t.wait_for_job(plan["id"], timeout_s=120)
    assert job["status"] == "succeeded", (job["error"], job["message"])
    plan = t.ok("get", f"/plans/{plan['id']}")
    assert plan["travel_model"] == ROAD and len(plan["routes"]) == 2
    with app.state.sessionmaker() as session:
        org = session.get(Organisation, t.org_id)
        assert org is not None
        snapshot = build_snapshot(
            session,
            org=org,
            epoch=epoch_of_day(),
            order_ids=[
                uuid.UUID(v["order_id"])
                for r in plan["routes"]
                for v in r["visits"]
                if v["order_id"]
            ],
            vehicle_ids=[uuid.UUID(r["vehicle_id"]) for r in plan["routes"]],
            travel_model=app.state.travel_model,
        )
    problem = snapshot.problem
    assert set(problem.matrices) == {"car", "cargo_bike"}
    assert problem.matrices["car"] is not problem.matrices["cargo_bike"]
    row_of = {(loc.lon, loc.lat): i for i, loc in enumerate(problem.locations)}
    differ = 0
    for route in plan["routes"]:
        vehicle = problem.vehicle(route["vehicle_id"])
        own = problem.matrix_for(vehicle).durations
        other = problem.matrices["car" if vehicle.type.profile != "car" else "cargo_bike"]
        for a, b in legs_of(route):
            i, j = row_of[(a["lon"], a["lat"])], row_of[(b["lon"], b["lat"])]
            assert b["travel_s"] - a["travel_s"] == own[i, j]
            differ += int(own[i, j]) != int(other.durations[i, j])
    assert differ > 0


def test_held_models_are_kept_per_day_and_moment(road_app: tuple[FastAPI, TestClient]) -> None:
    app, _ = road_app
    travel: ServiceTravel = app.state.travel_model
    epoch = epoch_of_day()
    leave = 9 * 3600
    first = travel.for_day(epoch, ZONE, departure=leave, held=True).model("car")
    again = travel.for_day(epoch, ZONE, departure=leave, held=True).model("car")
    assert isinstance(first, HeldRoadModel) and again is first
    later = travel.for_day(epoch, ZONE, departure=leave + 900, held=True).model("car")
    assert isinstance(later, HeldRoadModel) and later is not first
    assert later.departure == leave + 900
    other_day = travel.for_day(
        epoch + dt.timedelta(days=1), ZONE, departure=leave, held=True
    ).model("car")
    assert isinstance(other_day, HeldRoadModel)
    assert other_day is not first and other_day.model is not first.model
