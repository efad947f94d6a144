"""/traffic: an organisation's speeds learned from its own trips, end to end.

Vans drive central Helsinki (the extract shipped with the tests) on the last
weekdays at "true" speeds 40 % below the configured profile's; their pings and
stop events are stored as the tracking API stores them. An admin's
``POST /traffic/learn`` map-matches them, fits the profile, checks it on
held-out legs and puts it in use; the organisation's next plan and ETAs are
timed with it; other organisations keep the configured profile. Runs on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import time
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
from lastmile.service.app import create_app
from lastmile.service.learning import service as learning
from lastmile.service.learning.settings import LearningSettings
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Plan, Route
from lastmile.service.plans.snapshot import build_snapshot
from lastmile.service.plans.worker import road_legs
from lastmile.service.tracking.eta import compute_eta
from lastmile.service.tracking.models import PositionPing, StopEvent
from lastmile.service.travel import ServiceTravel, org_traffic
from lastmile.travel.mapmatch import simulate_day
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

from ..conftest import Tenant, make_settings, new_tenant  # type: ignore[import-not-found]

HELSINKI = Path(__file__).resolve().parents[2] / "data" / "osm" / "helsinki.osm.pbf"
ZONE = zoneinfo.ZoneInfo("Europe/Helsinki")
#: The vans' true speeds: the configured (default) profile's, 40 % slower.
SLOWER = 0.6


def last_weekdays(n: int) -> list[dt.date]:
    """The ``n`` weekdays before today (Helsinki), oldest first."""
    day = dt.datetime.now(ZONE).date()
    out: list[dt.date] = []
    while len(out) < n:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            out.append(day)
    return out[::-1]


def next_weekday() -> dt.date:
    day = dt.datetime.now(ZONE).date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture(scope="module")
def road_app(database_url: str) -> Iterator[tuple[FastAPI, TestClient]]:
    settings = make_settings(
        database_url, network=str(HELSINKI), traffic="default", weather="clear"
    )
    app = create_app(settings, geocode=None)
    app.state.learning_settings = LearningSettings(learn_min_legs=10, learn_days=14)
    with TestClient(app) as client:
        yield app, client


def drive_days(app: FastAPI, t: Tenant) -> int:
    """Two vans a day on the last two weekdays: their pings and stop events stored
    (each van-day a dispatched route of its own, started when the van left its
    depot). Returns how many legs they drove."""
    depot = t.depot(lon=24.944, lat=60.170)
    vtype = t.vehicle_type(capacity=[10], profile="car")
    vehicle = t.vehicle(vtype["id"], depot["id"])
    travel: ServiceTravel = app.state.travel_model
    network = travel.network("car")
    base = TrafficProfile.default()
    truth = TrafficProfile(
        road_classes=base.road_classes, factors=base.factors * SLOWER, slice_s=base.slice_s
    )
    rng = np.random.default_rng(4)
    legs = 0
    with app.state.sessionmaker() as session:
        for d, day in enumerate(last_weekdays(2)):
            model = TimeDependentModel(network, truth, epoch=dt.datetime.combine(day, dt.time()))
            nodes = model._largest_component()
            midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZONE)
            plan = Plan(org_id=t.org_id, epoch=midnight, status="dispatched")
            session.add(plan)
            session.flush()
            for v in range(2):
                route = Route(
                    org_id=t.org_id,
                    plan_id=plan.id,
                    position=v,
                    vehicle_id=uuid.UUID(vehicle["id"]),
                    status="completed",
                    start_at=midnight + dt.timedelta(hours=7),
                    end_at=midnight + dt.timedelta(hours=18),
                )
                session.add(route)
                session.flush()
                stops = [int(x) for x in rng.choice(nodes, size=10, replace=False)]
                sim = simulate_day(
                    model,
                    stops,
                    vehicle=str(route.id),
                    depart_s=(8 + 3 * v) * 3600,
                    interval_s=10.0,
                    noise_m=8.0,
                    seed=10 * d + v,
                )
                legs += len(sim.legs)
                for k, p in enumerate(sim.pings):
                    at = p.t.replace(tzinfo=ZONE)
                    session.add(
                        PositionPing(
                            org_id=t.org_id,
                            source="driver:test",
                            event_id=f"{route.id}-p{k}",
                            route_id=route.id,
                            recorded_at=at,
                            received_at=at,
                            lon=p.lon,
                            lat=p.lat,
                        )
                    )
                # The van leaves the depot when the driver starts the route (no event).
                route.started_at = sim.events[0].t.replace(tzinfo=ZONE)
                for k, e in enumerate(sim.events[1:]):
                    at = e.t.replace(tzinfo=ZONE)
                    session.add(
                        StopEvent(
                            org_id=t.org_id,
                            source="driver:test",
                            event_id=f"{route.id}-e{k}",
                            route_id=route.id,
                            sequence=k,
                            kind="arrived" if e.kind == "arrived" else "delivered",
                            recorded_at=at,
                            received_at=at,
                        )
                    )
        session.commit()
    return legs


@pytest.fixture(scope="module")
def learned(road_app: tuple[FastAPI, TestClient]) -> tuple[Tenant, dict[str, Any], int]:
    app, client = road_app
    t = new_tenant(app, client, timezone="Europe/Helsinki")
    legs = drive_days(app, t)
    body = t.ok("post", "/traffic/learn", json={})
    return t, body, legs


def test_an_admin_learns_the_organisations_speeds(
    learned: tuple[Tenant, dict[str, Any], int],
) -> None:
    t, body, legs = learned
    assert body["revision"] == 1 and body["in_use"], body
    assert body["network"] == "helsinki.osm.pbf" and body["routes"] == 4
    assert body["legs_matched"] >= 0.9 * legs
    assert body["legs_used"] >= 0.8 * legs and body["legs_held_out"] >= 5
    assert body["cells_updated"] > 0
    before, after = body["error_before"], body["error_after"]
    # The configured profile is 1 / 0.6 = 1.67 times too fast: about 40 % off.
    assert before["median_rel"] > 0.25
    assert after["median_abs_s"] < 0.5 * before["median_abs_s"]
    assert body["trigger"].startswith("user:")
    shown = t.ok("get", "/traffic", "dispatcher")
    assert shown["road_network"] is True and shown["schedule_s"] == 0
    assert shown["learned"]["revision"] == 1 and shown["learned"]["in_use"]
    assert t.get("/traffic", "d1").status_code == 403
    assert t.post("/traffic/learn", "dispatcher", json={}).status_code == 403


def test_the_next_plans_and_etas_use_the_learned_speeds(
    road_app: tuple[FastAPI, TestClient], learned: tuple[Tenant, dict[str, Any], int]
) -> None:
    app, client = road_app
    t, _, _ = learned
    other = new_tenant(app, client, timezone="Europe/Helsinki")
    travel: ServiceTravel = app.state.travel_model
    epoch = dt.datetime.combine(next_weekday(), dt.time(), tzinfo=ZONE)
    durations = {}
    for who in (t, other):
        depot = who.depot(lon=24.944, lat=60.170)
        vtype = who.vehicle_type(capacity=[10], profile="car")
        van = who.vehicle(vtype["id"], depot["id"])
        orders = []
        for i in range(4):
            when = f"{epoch.date()}T{9 + i:02d}:00:00+03:00"
            body = {
                "external_id": f"o{i}",
                "delivery": {
                    "lon": 24.938 + 0.004 * i,
                    "lat": 60.166 + 0.003 * (i % 3),
                    "service_s": 120,
                    "time_windows": [{"start": when, "end": f"{epoch.date()}T18:00:00+03:00"}],
                },
                "amount": [1],
            }
            orders.append(who.ok("post", "/orders", json=body, status=201))
        with app.state.sessionmaker() as session:
            org = session.get(Organisation, who.org_id)
            snap = build_snapshot(
                session,
                org=org,
                epoch=epoch,
                order_ids=[uuid.UUID(o["id"]) for o in orders],
                vehicle_ids=[uuid.UUID(van["id"])],
                travel_model=travel,
            )
            traffic = org_traffic(session, who.org_id, travel)
        durations[who.slug] = np.array(snap.problem.matrices["car"].durations, dtype=float)
        legs = travel.job_legs(snap.problem, snap.epoch, snap.timezone, snap.traffic)
        assert legs is not None
        if who is t:
            assert traffic is not None and snap.traffic == traffic
            assert "learned" in snap.problem.travel_note
            assert legs.traffic == traffic
            # The planning worker process builds the same learned model.
            road = (legs.spec, legs.profile, legs.epoch, traffic.profile)
            bound = road_legs(snap.problem, road)
            assert bound is not None
        else:
            assert traffic is None and snap.traffic is None
            assert "learned" not in snap.problem.travel_note
    mine, theirs = durations[t.slug], durations[other.slug]
    off = ~np.eye(len(mine), dtype=bool) & (theirs > 60)
    # Same places, same day: the learned speeds are slower (the vans' truth is 0.6x).
    assert np.median(mine[off] / theirs[off]) > 1.25


def test_the_scheduled_job_refits_and_revisions_go_up(
    road_app: tuple[FastAPI, TestClient], learned: tuple[Tenant, dict[str, Any], int]
) -> None:
    app, _ = road_app
    t, _, _ = learned
    done = learning.learn_all(
        app.state.sessionmaker, travel=app.state.travel_model, settings=app.state.learning_settings
    )
    assert done >= 1
    shown = t.ok("get", "/traffic")["learned"]
    assert shown["revision"] == 2 and shown["trigger"] == "schedule"


def test_nothing_to_learn_from_is_a_conflict_that_says_why(
    road_app: tuple[FastAPI, TestClient],
) -> None:
    app, client = road_app
    t = new_tenant(app, client)
    r = t.post("/traffic/learn", json={"days": 3})
    assert r.status_code == 409 and "nothing to learn from" in r.json()["detail"]
    assert t.ok("get", "/traffic")["learned"] is None


def test_without_a_road_network_learning_is_refused(tenant: Tenant) -> None:
    r = tenant.post("/traffic/learn")
    assert r.status_code == 409
    assert "LASTMILE_NETWORK" in r.json()["detail"]
    shown = tenant.ok("get", "/traffic", "dispatcher")
    assert shown == {"road_network": False, "schedule_s": 0.0, "learned": None}


def test_lastmile_learn_reads_the_same_trips_from_the_database(
    database_url: str,
    learned: tuple[Tenant, dict[str, Any], int],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t, body, _ = learned
    days = last_weekdays(2)
    out = tmp_path / "traffic.csv"
    code = cli.main(
        [
            "learn",
            "--network",
            str(HELSINKI),
            "--database-url",
            database_url,
            "--org",
            t.slug,
            "--from",
            str(days[0]),
            "--to",
            str(days[-1]),
            "-o",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"legs used: {body['legs_used']} " in printed
    assert "error after" in printed
    profile = TrafficProfile.from_csv(out)
    base = TrafficProfile.default()
    residential = base.class_index("residential")
    assert profile.factors[0, residential].mean() < base.factors[0, residential].mean()
    nobody = ["--org", "nobody", "--from", str(days[0]), "--to", str(days[-1]), "-o", str(out)]
    code = cli.main(["learn", "--network", str(HELSINKI), "--database-url", database_url, *nobody])
    assert code == 2 and "no organisation 'nobody'" in capsys.readouterr().err


def test_the_schedule_runs_in_the_app_when_an_interval_is_set(
    database_url: str, learned: tuple[Tenant, dict[str, Any], int]
) -> None:
    """``LASTMILE_LEARN_INTERVAL_S``: the app's own periodic task refits the organisation."""
    t, _, _ = learned
    before = t.ok("get", "/traffic")["learned"]["revision"]
    settings = make_settings(
        database_url, network=str(HELSINKI), traffic="default", weather="clear"
    )
    app = create_app(settings, geocode=None)
    app.state.learning_settings = LearningSettings(
        learn_interval_s=0.2, learn_min_legs=10, learn_days=14
    )
    with TestClient(app):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = t.ok("get", "/traffic")["learned"]
            if shown["revision"] > before:
                break
            time.sleep(0.2)
    assert shown["revision"] > before and shown["trigger"] == "schedule"


def test_a_planning_job_and_its_etas_use_the_learned_speeds(
    road_app: tuple[FastAPI, TestClient], learned: tuple[Tenant, dict[str, Any], int]
) -> None:
    """Through the planning worker process and the tracking ETAs: the plan says it was
    timed with the learned speeds, and ETAs asked before the start give back its
    arrivals to the second (timed on the same, learned, model)."""
    app, _ = road_app
    t, _, _ = learned
    day = next_weekday() + dt.timedelta(days=7)
    depot = t.depot(lon=24.944, lat=60.170)
    vtype = t.vehicle_type(capacity=[10], profile="car")
    van = t.vehicle(vtype["id"], depot["id"])
    body = {
        "driver_id": str(t.driver_ids["d1"]),
        "vehicle_id": van["id"],
        "start_at": f"{day}T07:00:00+02:00",
        "end_at": f"{day}T19:00:00+02:00",
    }
    t.ok("post", "/shifts", json=body, status=201)
    for i in range(4):
        order = {
            "external_id": f"eta-{i}",
            "delivery": {
                "lon": 24.938 + 0.004 * i,
                "lat": 60.166 + 0.003 * (i % 3),
                "service_s": 120,
                "time_windows": [
                    {"start": f"{day}T08:00:00+02:00", "end": f"{day}T18:00:00+02:00"}
                ],
            },
            "amount": [1],
        }
        t.ok("post", "/orders", json=order, status=201)
    plan = t.ok("post", "/plans", json={"date": str(day), "time_limit_s": 3.0}, status=202)
    job = t.wait_for_job(plan["id"], timeout_s=120)
    assert job["status"] == "succeeded", (job["error"], job["message"])
    plan = t.ok("get", f"/plans/{plan['id']}")
    assert "speeds learned from the organisation's trips" in plan["travel_note"]
    route = next(r for r in plan["routes"] if len(r["visits"]) > 2)
    epoch = dt.datetime.combine(day, dt.time(), tzinfo=ZONE)

    def seconds(when: str) -> int:
        return int((dt.datetime.fromisoformat(when) - epoch).total_seconds())

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
    etas = {s.sequence: seconds(s.eta_at.isoformat()) for s in comp.out.stops}
    assert etas and etas == {seq: at for seq, at in planned.items() if seq in etas}
