"""Listing orders for the dashboard: text search, the day of the time windows,
paging after filtering, and the route (vehicle, driver) each order is on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from lastmile.service.app import create_app

from ..conftest import DAY, Tenant, make_settings, new_tenant  # type: ignore[import-not-found]


@pytest.fixture
def planner(database_url: str) -> Iterator[Tenant]:
    """A tenant of an app that plans in threads (no worker process to start)."""
    settings = make_settings(database_url, planning_executor="thread")
    with TestClient(create_app(settings, geocode=None)) as client:
        yield new_tenant(client.app, client)


def windowed(start: str, end: str) -> dict[str, object]:
    return {"lon": 2.3, "lat": 48.85, "time_windows": [{"start": start, "end": end}]}


def external_ids(tenant: Tenant, **params: object) -> list[str]:
    return [o["external_id"] for o in tenant.ok("get", "/orders", params=params)]


def test_search_finds_external_id_customer_and_address(tenant: Tenant) -> None:
    tenant.order(1, customer={"name": "Alice Martin"})
    tenant.order(2, customer={"name": "Bob Durand"})
    tenant.order(3, delivery={"address": "12 Rue de la Paix, Paris", "lon": 2.33, "lat": 48.87})
    assert external_ids(tenant, q="alice") == ["ord-1"]
    assert external_ids(tenant, q="ORD-2") == ["ord-2"]
    assert external_ids(tenant, q="rue de la paix") == ["ord-3"]
    assert external_ids(tenant, q="ord-") == ["ord-1", "ord-2", "ord-3"]
    # LIKE's wildcards are searched for as text.
    assert external_ids(tenant, q="%") == []
    assert external_ids(tenant, q="ord_1") == []


def test_day_is_read_in_the_organisation_time_zone(tenant: Tenant) -> None:
    day = dt.date.fromisoformat(str(DAY))
    after = day + dt.timedelta(days=1)
    tenant.order(1)  # 09:00-18:00 Paris time on DAY
    # 00:30 Paris time the next day is still DAY in UTC: not on DAY here.
    tenant.order(2, delivery=windowed(f"{after}T00:30:00+02:00", f"{after}T02:00:00+02:00"))
    # 23:30 Paris time on DAY is the next day in UTC: on DAY here.
    tenant.order(3, delivery=windowed(f"{DAY}T23:30:00+02:00", f"{after}T01:00:00+02:00"))
    tenant.order(4, delivery={"lon": 2.3, "lat": 48.85})  # no window: on no day
    assert external_ids(tenant, day=str(DAY)) == ["ord-1", "ord-3"]
    assert external_ids(tenant, day=str(after)) == ["ord-2", "ord-3"]
    assert external_ids(tenant, day=str(DAY), q="ord-3") == ["ord-3"]


def test_paging_counts_only_matching_orders(tenant: Tenant) -> None:
    for i in range(5):
        tenant.order(i)
    tenant.order(9, delivery=windowed("2020-01-01T09:00:00+01:00", "2020-01-01T10:00:00+01:00"))
    assert external_ids(tenant, day=str(DAY), limit=2) == ["ord-0", "ord-1"]
    assert external_ids(tenant, day=str(DAY), limit=2, offset=4) == ["ord-4"]
    assert external_ids(tenant, q="ord-", limit=2, offset=2) == ["ord-2", "ord-3"]


def test_orders_carry_their_route_by_vehicle_and_driver(planner: Tenant) -> None:
    t = planner
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[2])  # four orders of 1: both vans are needed
    vehicles = [t.vehicle(vtype["id"], depot["id"], name=f"Van {k}") for k in range(2)]
    t.shift("d1", vehicles[0]["id"])
    t.shift("d2", vehicles[1]["id"])
    orders = [t.order(i) for i in range(4)]
    waiting = t.order(
        9, delivery=windowed("2020-01-01T09:00:00+01:00", "2020-01-01T10:00:00+01:00")
    )
    body = {"date": str(DAY), "time_limit_s": 0.5, "order_ids": [o["id"] for o in orders]}
    plan = t.ok("post", "/plans", json=body, status=202)
    job = t.wait_for_job(plan["id"], timeout_s=120)
    assert job["status"] == "succeeded", job["error"]
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    names = {v["id"]: v["name"] for v in vehicles}
    drivers = {d["id"]: d["name"] for d in t.ok("get", "/drivers")}
    expected = {
        v["order_id"]: (route["id"], names[route["vehicle_id"]], drivers[route["driver_id"]])
        for route in plan["routes"]
        for v in route["visits"]
        if v["order_id"]
    }
    assert len(expected) == 4
    listed = {o["id"]: o["route"] for o in t.ok("get", "/orders")}
    assert listed[waiting["id"]] is None  # pending: on no route
    assert {
        i: (r["route_id"], r["vehicle_name"], r["driver_name"])
        for i, r in listed.items()
        if r is not None and r["plan_id"] == plan["id"]
    } == expected
    # One order read alone has no route in its answer (only the list names it).
    assert t.ok("get", f"/orders/{orders[0]['id']}")["route"] is None


def test_unknown_query_values_are_refused(tenant: Tenant) -> None:
    assert tenant.get("/orders", params={"day": "tomorrow"}).status_code == 422
    assert tenant.get("/orders", params={"q": "x" * 201}).status_code == 422
