"""Moving an order: previewed (nothing stored), then made, checked by the plan's validator.

Each test builds its own dispatched plan (two vans of 6 parcels, ten orders of
one parcel, 09:00-18:00 windows in Paris) with the app's clock at 08:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]

PARIS = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Callable[[int, int], None]]:
    def at(h: int, m: int = 0) -> None:
        moment = dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=PARIS)
        app.state.clock = lambda: moment

    at(8)
    yield at
    del app.state.clock


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def tasks(route: dict[str, Any]) -> list[str]:
    return [v["order_id"] for v in route["visits"] if v["order_id"]]


def routes(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """The plan's two routes as stored now, the longer first."""
    plan = world.tenant.ok("get", f"/plans/{world.plan['id']}")
    a, b = sorted(plan["routes"], key=lambda r: -len(tasks(r)))
    return a, b


def stored(world: World) -> dict[str, Any]:
    t, plan_id = world.tenant, world.plan["id"]
    return {
        "plan": t.ok("get", f"/plans/{plan_id}"),
        "changes": t.ok("get", f"/plans/{plan_id}/changes"),
        "versions": t.ok("get", f"/plans/{plan_id}/versions"),
    }


def label(order: dict[str, Any]) -> str:
    return str(order["external_id"])


def test_a_move_within_a_route_is_previewed_then_made(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    a, _ = routes(world)
    last = tasks(a)[-1]
    body = {"order_id": last, "to_route_id": a["id"], "position": 0}
    before = stored(world)
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", "dispatcher", json=body)
    assert preview["feasible"] is True and preview["applied"] is False, preview
    assert preview["violations"] == []
    assert preview["position"] == 0
    assert preview["cost_delta"] == preview["cost_after"] - preview["cost_before"]
    assert preview["cost_before"] == before["plan"]["cost"]
    assert preview["cost_unit"] == "cost units"
    assert "cost units" in preview["summary"] and "Van" in preview["summary"]
    (changed,) = preview["changed_routes"]
    assert changed["route_id"] == a["id"] and changed["removed"] is False
    moved = next(s for s in changed["stops"] if s["order_id"] == last)
    assert moved["position"] == 0
    assert moved["start_at"].endswith("+02:00")  # the organisation's time zone
    assert moved["start_at"] < moved["previous_start_at"]
    assert changed["cost_after"] - changed["cost_before"] == preview["cost_delta"]
    # A preview stores nothing.
    assert stored(world) == before

    made = t.ok("post", f"/plans/{plan_id}/moves", "dispatcher", json=body)
    assert made["applied"] is True and made["change"]["kind"] == "move_order"
    after = stored(world)
    assert tasks(next(r for r in after["plan"]["routes"] if r["id"] == a["id"]))[0] == last
    assert after["plan"]["cost"] == preview["cost_after"] == made["cost_after"]
    assert after["plan"]["cost"] - before["plan"]["cost"] == preview["cost_delta"]
    assert [c["kind"] for c in after["changes"]] == ["move_order"]
    # The plan was dispatched: the move is its next version.
    assert len(after["versions"]) == len(before["versions"]) + 1
    assert [r["id"] for r in made["routes"]] == [a["id"]]


def test_a_move_to_another_route(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    a, b = routes(world)
    moving = tasks(a)[1]
    body = {"order_id": moving, "to_vehicle_id": b["vehicle_id"]}
    before = t.ok("get", f"/plans/{plan_id}")
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
    assert preview["feasible"] is True, preview
    assert {r["route_id"] for r in preview["changed_routes"]} == {a["id"], b["id"]}
    assert (
        sum(r["cost_after"] - r["cost_before"] for r in preview["changed_routes"])
        == (preview["cost_delta"])
    )
    made = t.ok("post", f"/plans/{plan_id}/moves", json=body)
    assert made["applied"] is True
    after = t.ok("get", f"/plans/{plan_id}")
    by_id = {r["id"]: r for r in after["routes"]}
    assert moving not in tasks(by_id[a["id"]])
    assert tasks(by_id[b["id"]])[made["position"]] == moving
    assert after["cost"] - before["cost"] == preview["cost_delta"] == made["cost_delta"]
    assert t.ok("get", f"/orders/{moving}")["status"] == "dispatched"


def test_a_move_past_a_time_window_is_refused_naming_the_order(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    urgent = t.order(
        60,
        external_id="tight-60",
        delivery={
            "lon": 2.35,
            "lat": 48.85,
            "service_s": 240,
            "time_windows": [{"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T09:15:00+02:00"}],
        },
    )
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    a, _ = routes(world)
    # The last stop of the longer route: far past 09:15.
    end = len(tasks(a)) - (1 if urgent["id"] in tasks(a) else 0)
    body = {"order_id": urgent["id"], "to_route_id": a["id"], "position": end}
    before = stored(world)
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
    assert preview["feasible"] is False, preview
    codes = {v["code"] for v in preview["violations"]}
    assert "time_window" in codes
    tw = next(v for v in preview["violations"] if v["code"] == "time_window")
    assert tw["order_id"] == urgent["id"] and "tight-60" in tw["message"]
    assert "Van" in tw["message"]  # the vehicle by name
    assert "tight-60" in preview["summary"]
    refused = t.post(f"/plans/{plan_id}/moves", json=body)
    assert refused.status_code == 422, refused.text
    assert any("tight-60" in e["reason"] for e in refused.json()["errors"])
    assert stored(world) == before


def test_a_move_over_capacity_is_refused(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    a, b = routes(world)
    full = len(tasks(a))
    if full < 6:
        # The fuller van is full: one parcel more is over its capacity.
        t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [full]})
    moving = tasks(b)[0]
    body = {"order_id": moving, "to_route_id": a["id"]}
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
    assert preview["feasible"] is False
    (cap, *_) = [v for v in preview["violations"] if v["code"] == "capacity"]
    assert cap["vehicle_id"] == a["vehicle_id"] and "Van" in cap["message"]
    refused = t.post(f"/plans/{plan_id}/moves", json=body)
    assert refused.status_code == 422
    assert moving in tasks(next(r for r in routes(world) if r["id"] == b["id"]))


def test_what_is_served_in_progress_or_on_board_does_not_move(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    d1 = str(t.driver_ids["d1"])
    route = next(r for r in world.plan["routes"] if r["driver_id"] == d1)
    other = next(r for r in world.plan["routes"] if r["driver_id"] != d1)
    t.ok("post", f"/routes/{route['id']}/start", "d1")
    jobs = [v for v in route["visits"] if v["order_id"]]
    events = [
        {
            "event_id": "e1",
            "kind": "delivered",
            "at": f"{DAY}T09:10:00+02:00",
            "sequence": jobs[0]["sequence"],
        },
        {
            "event_id": "e2",
            "kind": "arrived",
            "at": f"{DAY}T09:20:00+02:00",
            "sequence": jobs[1]["sequence"],
        },
    ]
    t.ok("post", f"/routes/{route['id']}/events", "d1", json={"events": events})
    clock(9, 25)
    done = t.post(
        f"/plans/{plan_id}/moves/preview",
        json={"order_id": jobs[0]["order_id"], "to_route_id": route["id"], "position": 2},
    )
    assert done.status_code == 409 and "completed" in done.json()["detail"], done.text
    busy = t.post(
        f"/plans/{plan_id}/moves",
        json={"order_id": jobs[1]["order_id"], "to_route_id": route["id"], "position": 3},
    )
    assert busy.status_code == 409 and "in progress" in busy.json()["detail"], busy.text
    aboard = t.post(
        f"/plans/{plan_id}/moves/preview",
        json={"order_id": jobs[2]["order_id"], "to_route_id": other["id"]},
    )
    assert aboard.status_code == 422, aboard.text
    assert "on board" in aboard.json()["detail"] and "Van" in aboard.json()["detail"]
    before_done = t.post(
        f"/plans/{plan_id}/moves/preview",
        json={"order_id": jobs[2]["order_id"], "to_route_id": route["id"], "position": 0},
    )
    assert before_done.status_code == 422
    assert before_done.json()["errors"][0]["column"] == "position"
    # On board its own van, a parcel can change places.
    last = len(jobs) - 1
    own = t.ok(
        "post",
        f"/plans/{plan_id}/moves",
        json={"order_id": jobs[2]["order_id"], "to_route_id": route["id"], "position": last},
    )
    assert own["applied"] is True, own
    now = next(r for r in routes(world) if r["id"] == route["id"])
    assert tasks(now)[last] == jobs[2]["order_id"]
    assert tasks(now)[:2] == [jobs[0]["order_id"], jobs[1]["order_id"]]


def test_moves_are_for_the_plans_staff(
    world: World, other_world: World, client: TestClient, clock: Any
) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    body = {"order_id": world.orders[0]["id"], "to_vehicle_id": world.vehicles[0]["id"]}
    for path in ("/moves/preview", "/moves"):
        url = f"/plans/{plan_id}{path}"
        assert client.post(url, json=body).status_code == 401
        assert t.post(url, "d1", json=body).status_code == 403
        # Another organisation's plan does not exist for this one...
        assert other_world.tenant.post(url, json=body).status_code == 404
        # ...nor its orders.
        theirs = {"order_id": other_world.orders[0]["id"], "to_vehicle_id": body["to_vehicle_id"]}
        assert t.post(url, json=theirs).status_code == 404
    both = t.post(
        f"/plans/{plan_id}/moves/preview",
        json={**body, "to_route_id": world.plan["routes"][0]["id"]},
    )
    assert both.status_code == 422


def test_a_route_emptied_by_moves_goes_and_a_move_can_make_one(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [20]})
    a, b = routes(world)
    for k, order_id in enumerate(tasks(b)):
        body = {"order_id": order_id, "to_route_id": a["id"]}
        if k == len(tasks(b)) - 1:
            preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
            gone = next(r for r in preview["changed_routes"] if r["route_id"] == b["id"])
            assert gone["removed"] is True and gone["cost_after"] == 0
        made = t.ok("post", f"/plans/{plan_id}/moves", json=body)
        assert made["applied"] is True, made
    plan = t.ok("get", f"/plans/{plan_id}")
    assert [r["id"] for r in plan["routes"]] == [a["id"]]
    # Back onto the van, which has no route any more: the move makes one.
    body = {"order_id": tasks(b)[0], "to_vehicle_id": b["vehicle_id"]}
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
    new = next(r for r in preview["changed_routes"] if r["vehicle_id"] == b["vehicle_id"])
    assert new["route_id"] is None and new["cost_before"] == 0
    made = t.ok("post", f"/plans/{plan_id}/moves", json=body)
    assert made["applied"] is True and made["needs_dispatch"] is True
    assert made["cost_delta"] == preview["cost_delta"]
    plan = t.ok("get", f"/plans/{plan_id}")
    assert len(plan["routes"]) == 2 and plan["cost"] == made["cost_after"]


def test_a_stop_moves_onto_a_van_back_from_its_round(world: World, clock: Any) -> None:
    t, plan_id = world.tenant, world.plan["id"]
    a, b = routes(world)
    who = next(w for w in ("d1", "d2") if str(t.driver_ids[w]) == a["driver_id"])
    t.ok("post", f"/routes/{a['id']}/start", who)
    jobs = [v for v in a["visits"] if v["order_id"]]
    events = [
        {
            "event_id": f"{who}-{k}",
            "kind": "delivered",
            "at": f"{DAY}T09:{10 + 5 * k:02d}:00+02:00",
            "sequence": v["sequence"],
        }
        for k, v in enumerate(jobs)
    ]
    t.ok("post", f"/routes/{a['id']}/events", who, json={"events": events})
    assert t.ok("get", f"/routes/{a['id']}")["status"] == "completed"
    clock(13, 0)
    moving = tasks(b)[-1]
    body = {"order_id": moving, "to_route_id": a["id"]}
    before = t.ok("get", f"/plans/{plan_id}")
    preview = t.ok("post", f"/plans/{plan_id}/moves/preview", json=body)
    assert preview["feasible"] is True, preview
    # The completed route counts as written until the move reopens it.
    assert (
        sum(r["cost_after"] - r["cost_before"] for r in preview["changed_routes"])
        == preview["cost_delta"]
    )
    made = t.ok("post", f"/plans/{plan_id}/moves", json=body)
    assert made["applied"] is True, made
    after = t.ok("get", f"/plans/{plan_id}")
    by_id = {r["id"]: r for r in after["routes"]}
    assert by_id[a["id"]]["status"] == "started"
    assert tasks(by_id[a["id"]]) == [*tasks(a), moving]
    assert moving not in tasks(by_id[b["id"]])
    assert after["cost"] - before["cost"] == preview["cost_delta"] == made["cost_delta"]
    assert after["cost"] == sum(r["cost"] for r in after["routes"])
    assert t.ok("get", f"/orders/{moving}")["status"] == "en_route"
