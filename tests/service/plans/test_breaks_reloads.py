"""A day with a lunch break and a reload on one vehicle, planned through the API and
checked by the project's validator."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import FastAPI

from lastmile.domain import Plan, Route, Unassigned, Visit, VisitKind
from lastmile.planning.validate import validate
from lastmile.service.plans.service import snapshot_for_job
from lastmile.service.plans.snapshot import Snapshot

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


def _domain_plan(snapshot: Snapshot, detail: dict[str, Any]) -> Plan:
    """The stored plan as the library's Plan, in the snapshot's seconds and rows."""
    problem, epoch = snapshot.problem, snapshot.epoch

    def seconds(stamp: str) -> int:
        return int((dt.datetime.fromisoformat(stamp) - epoch).total_seconds())

    def row_of(visit: dict[str, Any]) -> int:
        if visit["order_id"] is not None:
            return problem.order(visit["order_id"]).single_stop.location
        if visit["depot_id"] is not None:
            return problem.depots[snapshot.depot_ids.index(uuid.UUID(visit["depot_id"]))].location
        place = (visit["lon"], visit["lat"])
        return next(i for i, loc in enumerate(problem.locations) if (loc.lon, loc.lat) == place)

    routes = []
    for r in detail["routes"]:
        visits = tuple(
            Visit(
                VisitKind(v["kind"]),
                row_of(v),
                seconds(v["arrival_at"]),
                seconds(v["start_at"]),
                seconds(v["departure_at"]),
                tuple(v["load"]),
                v["distance_m"],
                v["travel_s"],
                order_id=v["order_id"],
                break_id=v["break_id"],
                depot=(
                    snapshot.depot_ids.index(uuid.UUID(v["depot_id"])) if v["depot_id"] else None
                ),
            )
            for v in r["visits"]
        )
        routes.append(Route(r["vehicle_id"], visits, r["cost"]))
    unassigned = tuple(
        Unassigned(u["order_id"], u["reason"], u["code"]) for u in detail["unassigned"]
    )
    return Plan(tuple(routes), unassigned)


def test_lunch_break_and_reload_on_one_vehicle(app: FastAPI, tenant: Tenant) -> None:
    t = tenant
    depot = t.depot(reload_time_s=900)
    van = t.vehicle(t.vehicle_type(capacity=[3])["id"], depot["id"], reloads=True)
    shift = {
        "driver_id": str(t.driver_ids["d1"]),
        "vehicle_id": van["id"],
        "start_at": f"{DAY}T08:00:00+02:00",
        "end_at": f"{DAY}T18:00:00+02:00",
        "breaks": [
            {
                "id": "lunch",
                "window_start": f"{DAY}T12:00:00+02:00",
                "window_end": f"{DAY}T12:30:00+02:00",
                "duration_s": 2700,
            }
        ],
    }
    t.ok("post", "/shifts", json=shift, status=201)
    # Six parcels for a three-parcel van, some only in the afternoon: the day needs a
    # reload, and the route runs through lunch.
    windows = ["09:00", "09:00", "09:00", "13:30", "13:30", "13:30"]
    for i, opens in enumerate(windows):
        window = {"start": f"{DAY}T{opens}:00+02:00", "end": f"{DAY}T17:00:00+02:00"}
        t.order(
            i,
            delivery={
                "lon": 2.30 + 0.01 * i,
                "lat": 48.84,
                "service_s": 300,
                "time_windows": [window],
            },
        )
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 3}, status=202)
    job = t.wait_for_job(plan["id"])
    assert job["status"] == "succeeded", job
    detail = t.ok("get", f"/plans/{plan['id']}")
    assert detail["unassigned"] == []
    (route,) = detail["routes"]
    visits = route["visits"]
    kinds = [v["kind"] for v in visits]
    assert kinds.count("job") == 6 and kinds.count("break") == 1 and kinds.count("reload") >= 1

    paris = dt.timezone(dt.timedelta(hours=2))
    brk = next(v for v in visits if v["kind"] == "break")
    begins = dt.datetime.fromisoformat(brk["start_at"]).astimezone(paris)
    ends = dt.datetime.fromisoformat(brk["departure_at"]).astimezone(paris)
    assert brk["break_id"] == "lunch"
    assert dt.time(12, 0) <= begins.time() <= dt.time(12, 30)
    assert ends - begins == dt.timedelta(seconds=2700)
    for reload in (v for v in visits if v["kind"] == "reload"):
        assert reload["depot_id"] == depot["id"]
        spent = dt.datetime.fromisoformat(reload["departure_at"]) - dt.datetime.fromisoformat(
            reload["start_at"]
        )
        assert spent == dt.timedelta(seconds=900)
    assert max(v["load"][0] for v in visits) <= 3

    # The project's validator, on the problem rebuilt from the database.
    with app.state.sessionmaker() as session:
        snapshot = snapshot_for_job(
            session, job_id=uuid.UUID(job["id"]), travel_model=app.state.travel_model
        )
    vehicle = snapshot.problem.vehicle(van["id"])
    assert [b.id for b in vehicle.breaks] == ["lunch"]
    assert vehicle.reload_depots == (vehicle.start_depot,)
    report = validate(snapshot.problem, _domain_plan(snapshot, detail))
    assert report.ok, report.violations
