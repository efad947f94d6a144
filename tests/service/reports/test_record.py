"""The DayRecord the service builds from a day driven through its API: statuses,
times, reasons, positions, promises and the fleet's costs match what was sent.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.domain.day import DayRecord, StopStatus
from lastmile.domain.plan import VisitKind
from lastmile.service.errors import NotFound
from lastmile.service.reports.record import build_record, build_records

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]
from .conftest import Driven, local, seconds  # type: ignore[import-not-found]


def _s(iso: str) -> int:
    """Seconds since the day's local midnight of an answer's time."""
    at = dt.datetime.fromisoformat(iso)
    midnight = dt.datetime.combine(DAY, dt.time(0), at.tzinfo)
    return int((at - midnight).total_seconds())


def _record(app: FastAPI, driven: Driven) -> DayRecord:
    with app.state.sessionmaker() as session:
        return build_record(session, org_id=driven.world.tenant.org_id, day=DAY)


def test_the_record_has_every_route_and_stop_of_the_dispatched_plan(
    app: FastAPI, driven: Driven
) -> None:
    record = _record(app, driven)
    w = driven.world
    assert record.day == DAY and record.timezone == "Europe/Paris"
    assert sorted(r.vehicle_id for r in record.routes) == ["Van 0", "Van 1"]
    planned = {v["order_id"] for r in w.plan["routes"] for v in r["visits"] if v["order_id"]}
    names = {o["id"]: o["external_id"] for o in w.orders}
    assert sorted(s.order_id for s in record.stops) == sorted(names[o] for o in planned)
    assert record.dimensions == ("units",)
    # The plan's own times, per stop, on the vehicle it was planned on.
    vehicle_names = {v["id"]: v["name"] for v in w.vehicles}
    by_order = {s.order_id: s for s in record.stops}
    for route in w.plan["routes"]:
        for v in route["visits"]:
            if not v["order_id"]:
                continue
            stop = by_order[names[v["order_id"]]]
            assert stop.vehicle_id == vehicle_names[route["vehicle_id"]]
            assert stop.planned_arrival == _s(v["arrival_at"])
            assert stop.planned_start == _s(v["start_at"])
            assert stop.planned_departure == _s(v["departure_at"])
            assert (stop.window_start, stop.window_end) == (seconds(9), seconds(18))
            assert stop.kind is VisitKind.JOB
            assert not stop.inserted


def test_statuses_times_and_reasons_come_from_the_stop_events(app: FastAPI, driven: Driven) -> None:
    record = _record(app, driven)
    names = {o["id"]: o["external_id"] for o in driven.world.orders}
    by_order = {s.order_id: s for s in record.stops}
    first = by_order[names[driven.first["order_id"]]]
    second = by_order[names[driven.second["order_id"]]]
    assert first.status is StopStatus.DONE
    assert (first.arrival, first.departure) == (seconds(10), seconds(10, 4))
    assert first.failure_reason is None and first.on_time is True
    assert second.status is StopStatus.FAILED
    assert (second.arrival, second.departure) == (seconds(10, 20), seconds(10, 22))
    assert second.failure_reason == "recipient_absent" and second.attempt == 1
    # The failed order was moved to the next day; the record keeps the day's window.
    assert (second.window_start, second.window_end) == (seconds(9), seconds(18))
    # The legs driven: from the depot (left 09:36) and from the first stop.
    assert first.leg_travel_s == seconds(10) - seconds(9, 36)
    assert second.leg_travel_s == seconds(10, 20) - seconds(10, 4)
    assert first.leg_distance_m is not None and first.leg_distance_m > 1000
    # The stops left when the route was closed were not reached.
    closed = [
        s
        for s in record.stops
        if s.driver_id == "Driver d1" and s.order_id not in (first.order_id, second.order_id)
    ]
    assert closed
    assert all(s.status is StopStatus.NOT_REACHED for s in closed)
    assert all(s.failure_reason == "not_attempted" and s.arrival is None for s in closed)
    # The other route was not driven.
    untouched = [s for s in record.stops if s.driver_id == "Driver d2"]
    assert untouched and all(
        s.status is StopStatus.NOT_REACHED and s.failure_reason is None for s in untouched
    )


def test_routes_carry_positions_fleet_costs_and_actual_times(app: FastAPI, driven: Driven) -> None:
    record = _record(app, driven)
    w = driven.world
    route = next(r for r in record.routes if r.driver_id == "Driver d1")
    other = next(r for r in record.routes if r.driver_id == "Driver d2")
    dispatched = driven.route
    assert route.planned_start == _s(dispatched["start_at"])
    assert route.planned_end == _s(dispatched["end_at"])
    assert route.planned_distance_m == dispatched["distance_m"]
    # Left the depot at 09:36 (last fix within 150 m of it); back at the last fix.
    assert route.actual_start == seconds(9, 36)
    assert route.actual_end == seconds(10, 30)
    assert route.distance_m is not None and 4000 < route.distance_m < 4500  # 56 x 73 m
    assert (other.actual_start, other.actual_end, other.distance_m) == (None, None, None)
    # The fleet: depot, vehicle type and its costs, the organisation's waiting option.
    assert route.depot_id == w.depot["name"]
    assert (route.depot_lon, route.depot_lat) == (w.depot["lon"], w.depot["lat"])
    assert route.vehicle_type == w.vehicle_type["name"]
    assert route.capacity == (6,) and 1 <= route.peak_load[0] <= 6
    vt = w.vehicle_type
    assert (route.fixed_cost, route.cost_per_hour, route.cost_per_km) == (
        vt["fixed_cost"],
        vt["cost_per_hour"],
        vt["cost_per_km"],
    )
    assert route.paid_waiting is True
    # The drivers' shifts (07:00-20:00) that the routes were driven in.
    assert (route.shift_start, route.shift_end) == (seconds(7), seconds(20))
    assert (other.shift_start, other.shift_end) == (seconds(7), seconds(20))
    # Every fix, in time order, where it was sent.
    track = [p for p in record.positions if p.vehicle_id == route.vehicle_id]
    assert [(p.lon, p.lat) for p in track] == [(f["lon"], f["lat"]) for f in driven.pings]
    assert track[0].t == seconds(9, 30) and track[-1].t == seconds(10, 30)
    # Stops are where the orders are.
    by_id = {o["external_id"]: o for o in w.orders}
    for stop in record.stops:
        order = by_id[stop.order_id]
        assert (stop.lon, stop.lat) == (order["delivery"]["lon"], order["delivery"]["lat"])
    # The dispatcher's close is an incident.
    closed = [i for i in record.incidents if i.kind == "route_closed"]
    assert [i.detail for i in closed] == ["van back early"]


def test_the_promise_told_and_the_eta_it_came_from(app: FastAPI, driven: Driven) -> None:
    record = _record(app, driven)
    names = {o["id"]: o["external_id"] for o in driven.world.orders}
    second = next(s for s in record.stops if s.order_id == names[driven.second["order_id"]])
    # Told at 09:30 for 10:10: 10 min + 5 min per hour ahead (13 min 20 s), rounded
    # outwards to 5 minutes.
    assert (second.promised_start, second.promised_end) == (seconds(9, 55), seconds(10, 25))
    others = [s for s in record.stops if s is not second]
    assert all(s.promised_start is None and s.promised_end is None for s in others)
    assert [
        (e.order_id, e.asked_at, e.predicted_arrival, e.actual_arrival) for e in record.eta_samples
    ] == [(second.order_id, seconds(9, 30), seconds(10, 10), seconds(10, 20))]


def test_the_record_reads_back_from_json(app: FastAPI, driven: Driven) -> None:
    record = _record(app, driven)
    assert DayRecord.from_dict(record.to_dict()) == record


def test_only_the_organisations_own_plans_make_its_records(
    app: FastAPI, driven: Driven, other_world: World
) -> None:
    org_id = driven.world.tenant.org_id
    with app.state.sessionmaker() as session:
        records = build_records(
            session, org_id=org_id, first=DAY - dt.timedelta(days=3), last=DAY + dt.timedelta(3)
        )
        assert [r.day for r in records] == [DAY]
        assert len(records[0].routes) == 2
        empty = build_record(session, org_id=org_id, day=DAY + dt.timedelta(days=1))
        assert empty.routes == () and empty.stops == ()
        mine = build_record(
            session, org_id=org_id, day=DAY, plan_id=uuid.UUID(driven.world.plan["id"])
        )
        assert mine == records[0]
        with pytest.raises(NotFound):
            build_record(session, org_id=org_id, day=DAY, plan_id=uuid.UUID(other_world.plan["id"]))


def test_an_order_inserted_during_the_day_is_planned_as_inserted(
    app: FastAPI, client: TestClient
) -> None:
    world = build_world(app, client)
    t = world.tenant
    app.state.clock = lambda: local(10, 0).astimezone(dt.UTC)
    try:
        urgent = t.order(50, external_id="urgent-50")
        r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    finally:
        del app.state.clock
    assert r["applied"] is True, r
    (route,) = [
        rt for rt in r["routes"] if any(v["order_id"] == urgent["id"] for v in rt["visits"])
    ]
    visit = next(v for v in route["visits"] if v["order_id"] == urgent["id"])
    with app.state.sessionmaker() as session:
        record = build_record(session, org_id=t.org_id, day=DAY)
    stop = next(s for s in record.stops if s.order_id == "urgent-50")
    assert stop.inserted is True
    assert (stop.planned_arrival, stop.planned_start) == (
        _s(visit["arrival_at"]),
        _s(visit["start_at"]),
    )
    assert sum(s.inserted for s in record.stops) == 1 and len(record.stops) == 11
    (incident,) = record.incidents
    assert (incident.kind, incident.order_id, incident.vehicle_id) == (
        "urgent_order",
        "urgent-50",
        stop.vehicle_id,
    )
