"""Re-planning answers people read: vehicles and orders by name, external id and
id; costs whose change adds up, with their unit; a broken-down route kept in its
plan with its status."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.naming import cost_change, order_label, vehicle_label

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]
from .test_replan import PARIS, route_of, start_and_deliver, tasks


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Callable[[int, int], None]]:
    """Set the app's clock to ``h:m`` in Paris on the plan day."""

    def at(h: int, m: int = 0) -> None:
        moment = dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=PARIS)
        app.state.clock = lambda: moment

    at(8)
    yield at
    del app.state.clock


COST = re.compile(r"cost ([\d,]+) -> ([\d,]+) \(([+-])([\d,]+) cost units\)")


def _cost(summary: str) -> tuple[int, int, int]:
    """Before, after and the change a summary states."""
    found = COST.search(summary)
    assert found is not None, summary
    before, after, sign, delta = found.groups()
    value = int(delta.replace(",", ""))
    return (
        int(before.replace(",", "")),
        int(after.replace(",", "")),
        -value if sign == "-" else value,
    )


def _named_world(app: FastAPI, client: TestClient) -> World:
    world = build_world(app, client)
    for k, van in enumerate(world.vehicles):
        world.tenant.ok("patch", f"/vehicles/{van['id']}", json={"registration": f"AB-{k}23"})
    return world


def test_labels_and_cost_changes() -> None:
    assert vehicle_label("1f3e", name="van-02", registration="AB-123") == (
        "vehicle van-02 (reg AB-123, id 1f3e)"
    )
    assert vehicle_label("1f3e") == "vehicle 1f3e"
    assert order_label("9c0d", external_id="EXT-42", customer="Alice") == (
        "order EXT-42 (Alice, id 9c0d)"
    )
    assert order_label("9c0d") == "order 9c0d"
    assert cost_change(1234, 1200) == "cost 1,234 -> 1,200 (-34 cost units)"
    assert cost_change(1200, 1234) == "cost 1,200 -> 1,234 (+34 cost units)"


def test_an_insertion_names_the_order_and_the_vehicle(
    app: FastAPI, client: TestClient, clock: Any
) -> None:
    world = _named_world(app, client)
    t = world.tenant
    urgent = t.order(60, external_id="URGENT-60", customer={"name": "Camille Roux"})
    r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    (route,) = [rt for rt in r["routes"] if urgent["id"] in tasks(rt)]
    van = next(v for v in world.vehicles if v["id"] == route["vehicle_id"])
    summary = r["summary"]
    assert f"order URGENT-60 (Camille Roux, id {urgent['id']})" in summary
    assert f"vehicle {van['name']} (reg {van['registration'] or 'AB-'}" in summary
    assert f"id {van['id']})" in summary
    # The change shown is the change of the plan's cost.
    before, after, delta = _cost(summary)
    assert (before, after) == (r["cost_before"], r["cost_after"])
    assert delta == after - before
    assert t.ok("get", f"/plans/{world.plan['id']}")["cost"] == after
    (logged,) = t.ok("get", f"/plans/{world.plan['id']}/changes")
    assert logged["summary"] == summary
    assert (logged["cost_before"], logged["cost_after"]) == (before, after)
    # Errors name the order too.
    again = t.post(f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    assert again.status_code == 409
    assert f"order URGENT-60 (Camille Roux, id {urgent['id']})" in again.json()["detail"]


def test_reoptimising_states_a_cost_change_that_adds_up(
    app: FastAPI, client: TestClient, clock: Any
) -> None:
    world = _named_world(app, client)
    t = world.tenant
    start_and_deliver(world, "d1", 1)
    clock(9, 30)
    r = t.ok("post", f"/plans/{world.plan['id']}/reoptimise", json={"time_limit_s": 1.0})
    if not r["applied"]:
        assert "kept" in r["summary"] and r["cost_before"] == r["cost_after"]
        return
    before, after, delta = _cost(r["summary"])
    assert (before, after) == (r["cost_before"], r["cost_after"])
    assert delta == after - before


def test_a_broken_down_route_stays_in_its_plan(
    app: FastAPI, client: TestClient, clock: Any
) -> None:
    world = _named_world(app, client)
    t = world.tenant
    d2 = str(t.driver_ids["d2"])
    route = route_of(world.plan, d2)
    van = next(v for v in world.vehicles if v["id"] == route["vehicle_id"])
    clock(8, 30)  # before it left the depot
    r = t.ok(
        "post", f"/plans/{world.plan['id']}/breakdown", json={"vehicle_id": route["vehicle_id"]}
    )
    assert r["applied"] is True, r
    summary = r["summary"]
    assert summary.startswith(f"vehicle {van['name']} (reg ")
    assert f"id {van['id']}) broke down" in summary
    before, after, delta = _cost(summary)
    assert (before, after, delta) == (r["cost_before"], r["cost_after"], after - before)
    # The route is still in the plan, with its status and none of the moved stops.
    plan = t.ok("get", f"/plans/{world.plan['id']}")
    broken = route_of(plan, d2)
    assert broken["id"] == route["id"] and broken["status"] == "broken_down"
    assert tasks(broken) == []
    others = [rt for rt in plan["routes"] if rt["id"] != route["id"]]
    moved = {o for rt in others for o in tasks(rt)}
    left = {u["order_id"] for u in plan["unassigned"]}
    assert set(tasks(route)) <= moved | left
    for u in r["unassigned"]:
        assert u["order"].endswith(f"id {u['order_id']})")
    # Its driver still sees it, with its status; the plan takes further changes
    # without it.
    (mine,) = t.ok("get", "/me/routes", "d2")
    assert mine["status"] == "broken_down"
    urgent = t.order(61, external_id="URGENT-61")
    r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    if r["applied"]:
        assert all(rt["vehicle_id"] != route["vehicle_id"] for rt in r["routes"])
    again = t.post(f"/plans/{world.plan['id']}/breakdown", json={"vehicle_id": route["vehicle_id"]})
    assert again.status_code == 409
    assert van["name"] in again.json()["detail"]
    # Dispatching again leaves the broken-down route as it is.
    plan = t.ok("post", f"/plans/{world.plan['id']}/dispatch", json={})
    assert route_of(plan, d2)["status"] == "broken_down"


def test_a_breakdown_on_the_road_keeps_the_stops_done(
    app: FastAPI, client: TestClient, clock: Any
) -> None:
    world = _named_world(app, client)
    t = world.tenant
    d1 = str(t.driver_ids["d1"])
    route = start_and_deliver(world, "d1", 2)
    clock(9, 40)
    # No handover: the goods on board stay unassigned.
    r = t.ok(
        "post",
        f"/plans/{world.plan['id']}/breakdown",
        json={"vehicle_id": route["vehicle_id"], "transfer_s": None},
    )
    assert r["applied"] is True, r
    plan = t.ok("get", f"/plans/{world.plan['id']}")
    broken = route_of(plan, d1)
    assert broken["status"] == "broken_down"
    assert tasks(broken) == tasks(route)[:2]
    # The goods on board are named among the unassigned.
    on_board = [u for u in plan["unassigned"] if u["code"] == "on_board"]
    assert on_board and all(u["order"].startswith("order ord-") for u in on_board)
    assert f"{DAY}" in broken["start_at"] and broken["start_at"].endswith("+02:00")
