"""The dispatched plan is kept as it was sent out: later changes make new
versions, and planned versus actual is answered per stop.

Each test builds its own dispatched plan (two vans, ten orders, Paris).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ..conftest import DAY, Tenant, World, build_world  # type: ignore[import-not-found]

PARIS = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> Iterator[World]:
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=PARIS)
    app.state.clock = lambda: moment
    yield build_world(app, client)
    del app.state.clock


def at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_the_dispatched_version_stays_as_sent(world: World, other_tenant: Tenant) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    versions = t.ok("get", f"/plans/{plan_id}/versions")
    assert [(v["number"], v["kind"]) for v in versions] == [(1, "dispatch")]
    sent = t.ok("get", f"/plans/{plan_id}/versions/1")
    # Version 1 is the plan as dispatched: same routes, same visits, same times.
    assert [r["route_id"] for r in sent["routes"]] == [r["id"] for r in world.plan["routes"]]
    for mine, theirs in zip(sent["routes"], world.plan["routes"], strict=True):
        assert mine["driver_id"] == theirs["driver_id"]
        assert [(v["order_id"], at(v["arrival_at"])) for v in mine["visits"]] == [
            (v["order_id"], at(v["arrival_at"])) for v in theirs["visits"]
        ]
    # Dispatching again with the same drivers changes nothing: no new version.
    t.ok("post", f"/plans/{plan_id}/dispatch", json={})
    assert len(t.ok("get", f"/plans/{plan_id}/versions")) == 1

    urgent = t.order(60, external_id="urgent-60")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    versions = t.ok("get", f"/plans/{plan_id}/versions")
    assert [(v["number"], v["kind"]) for v in versions] == [(1, "dispatch"), (2, "insert_order")]
    assert versions[1]["change_id"] == r["change"]["id"]
    assert t.ok("get", f"/plans/{plan_id}/versions/1") == sent
    latest = t.ok("get", f"/plans/{plan_id}/versions/2")
    on = [r for r in latest["routes"] if urgent["id"] in {v["order_id"] for v in r["visits"]}]
    assert len(on) == 1
    assert not any(urgent["id"] in {v["order_id"] for v in r["visits"]} for r in sent["routes"])
    assert t.get(f"/plans/{plan_id}/versions/3").status_code == 404
    # Staff only, and only in their own organisation.
    assert t.get(f"/plans/{plan_id}/versions", "d1").status_code == 403
    assert other_tenant.get(f"/plans/{plan_id}/versions").status_code == 404
    assert other_tenant.get(f"/plans/{plan_id}/planned-vs-actual").status_code == 404


def test_planned_versus_actual_per_stop(world: World) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    # Events on the fuller van, so the other (not started) has room for the urgent order.
    route = max(world.plan["routes"], key=lambda r: sum(1 for v in r["visits"] if v["order_id"]))
    who = next(w for w, d in t.driver_ids.items() if str(d) == route["driver_id"])
    first, second, *_ = [v for v in route["visits"] if v["order_id"]]
    late = at(first["arrival_at"]) + dt.timedelta(minutes=12)
    done = late + dt.timedelta(minutes=3)
    t.ok(
        "post",
        f"/routes/{route['id']}/events",
        who,
        json={
            "events": [
                {
                    "event_id": "a1",
                    "kind": "arrived",
                    "sequence": first["sequence"],
                    "at": late.isoformat(),
                },
                {
                    "event_id": "d1",
                    "kind": "delivered",
                    "sequence": first["sequence"],
                    "at": done.isoformat(),
                },
                {
                    "event_id": "f1",
                    "kind": "failed",
                    "sequence": second["sequence"],
                    "reason": "damaged",
                    "at": (done + dt.timedelta(minutes=20)).isoformat(),
                },
            ]
        },
    )
    urgent = t.order(61, external_id="urgent-61")
    ins = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert ins["applied"], ins

    report = t.ok("get", f"/plans/{plan_id}/planned-vs-actual")
    assert report["dispatched_version"] == 1 and report["latest_version"] == 2
    stops = {s["order_id"]: s for s in report["stops"]}
    assert len(stops) == 11
    one = stops[first["order_id"]]
    assert at(one["dispatched_arrival_at"]) == at(first["arrival_at"])
    assert at(one["dispatched_start_at"]) == at(first["start_at"])
    assert at(one["actual_arrival_at"]) == late and at(one["actual_completed_at"]) == done
    assert one["outcome"] == "delivered" and one["delay_min"] == 12.0
    assert one["dispatched_route_id"] == one["latest_route_id"] == route["id"]
    two = stops[second["order_id"]]
    assert two["outcome"] == "failed" and two["reason"] == "damaged"
    # Not yet served: planned both times, nothing happened.
    waiting = [s for s in report["stops"] if s["outcome"] is None and s["order_id"] != urgent["id"]]
    assert len(waiting) == 8
    assert all(s["actual_arrival_at"] is None and s["delay_min"] is None for s in waiting)
    assert all(s["latest_arrival_at"] is not None for s in waiting)
    # The urgent order was not in the plan as dispatched.
    new = stops[urgent["id"]]
    assert new["dispatched_route_id"] is None and new["dispatched_arrival_at"] is None
    assert new["latest_route_id"] is not None and new["latest_arrival_at"] is not None
    assert report["stops"][-1]["order_id"] == urgent["id"]


def test_a_plan_not_dispatched_has_no_versions(app: FastAPI, client: TestClient) -> None:
    world = build_world(app, client)
    t = world.tenant
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 0.2}, status=202)
    t.wait_for_job(plan["id"])
    assert t.ok("get", f"/plans/{plan['id']}/versions") == []
    r = t.get(f"/plans/{plan['id']}/planned-vs-actual")
    assert r.status_code == 409 and "once dispatched" in r.json()["detail"]


def test_each_version_after_changes_is_the_plan_as_it_stands(world: World) -> None:
    # Later versions copy the routes a change left alone from the version before:
    # after each change, every route of the latest version is as the plan has it.
    t = world.tenant
    plan_id = world.plan["id"]
    for i in range(2):
        urgent = t.order(61 + i, external_id=f"urgent-{61 + i}")
        r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
        assert r["applied"] is True, r
        versions = t.ok("get", f"/plans/{plan_id}/versions")
        latest = t.ok("get", f"/plans/{plan_id}/versions/{versions[-1]['number']}")
        plan = t.ok("get", f"/plans/{plan_id}")
        assert [r["route_id"] for r in latest["routes"]] == [r["id"] for r in plan["routes"]]
        for mine, theirs in zip(latest["routes"], plan["routes"], strict=True):
            assert (mine["driver_id"], mine["cost"]) == (theirs["driver_id"], theirs["cost"])
            assert [
                (v["sequence"], v["kind"], v["order_id"], at(v["arrival_at"]), at(v["start_at"]))
                for v in mine["visits"]
            ] == [
                (v["sequence"], v["kind"], v["order_id"], at(v["arrival_at"]), at(v["start_at"]))
                for v in theirs["visits"]
            ]
