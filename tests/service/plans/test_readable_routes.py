"""Answers people read: a driver's route spells out every stop, times are in the
organisation's time zone with its offset, unassigned orders are named."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ..conftest import DAY, Tenant, new_tenant  # type: ignore[import-not-found]

PARIS = ZoneInfo("Europe/Paris")


def _stop_orders(t: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    window = [{"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T18:00:00+02:00"}]
    delivery = t.order(
        1,
        external_id="EXT-42",
        delivery={
            "address": "12 rue de la Paix, Paris",
            "lon": 2.331,
            "lat": 48.869,
            "service_s": 120,
            "time_windows": window,
        },
        customer={"name": "Alice Martin", "phone": "+33 1 23 45 67 89"},
        instructions="Code 1234, third floor",
        items=[
            {"barcode": "PARCEL-1", "description": "shoes"},
            {"barcode": "PARCEL-2", "description": "books", "quantity": 2},
        ],
    )
    pickup = t.order(
        2,
        external_id="RET-7",
        kind="pickup",
        delivery=None,
        pickup={
            "address": "3 place des Vosges, Paris",
            "lon": 2.365,
            "lat": 48.855,
            "service_s": 120,
            "time_windows": window,
        },
        customer={"name": "Bruno Petit", "phone": "+33 6 00 00 00 00"},
        instructions="Return at the concierge",
        items=[{"barcode": "RET-BOX", "description": "a jacket to return"}],
    )
    return delivery, pickup


def _dispatched_route(t: Tenant) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[10])
    van = t.vehicle(vtype["id"], depot["id"], name="van-02", registration="AB-123-CD")
    t.shift("d1", van["id"])
    delivery, pickup = _stop_orders(t)
    plan = t.ok(
        "post",
        "/plans",
        json={"date": str(DAY), "time_limit_s": 0.5, "vehicle_ids": [van["id"]]},
        status=202,
    )
    assert t.wait_for_job(plan["id"])["status"] == "succeeded"
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    (route,) = plan["routes"]
    return route, delivery, pickup


def test_a_driver_reads_every_stop_of_their_route(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    route, delivery, pickup = _dispatched_route(t)
    (mine,) = t.ok("get", "/me/routes", "d1")
    assert mine["id"] == route["id"]
    assert mine["vehicle_name"] == "van-02" and mine["vehicle_registration"] == "AB-123-CD"
    assert mine["driver_name"] == "Driver d1"
    stops = {v["order_id"]: v["stop"] for v in mine["visits"] if v["order_id"]}
    shown = dict(stops[delivery["id"]])
    assert set(shown.pop("navigation")) == {"geo", "osmand", "google_maps", "apple_maps"}
    assert shown == {
        "order_id": delivery["id"],
        "external_id": "EXT-42",
        "kind": "delivery",
        "address": "12 rue de la Paix, Paris",
        "customer_name": "Alice Martin",
        "customer_phone": "+33 1 23 45 67 89",
        "instructions": "Code 1234, third floor",
        "parcels": [
            {"barcode": "PARCEL-1", "description": "shoes", "quantity": 1},
            {"barcode": "PARCEL-2", "description": "books", "quantity": 2},
        ],
        "time_windows": [
            {"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T18:00:00+02:00"},
        ],
    }
    back = stops[pickup["id"]]
    assert back["kind"] == "pickup" and back["address"] == "3 place des Vosges, Paris"
    assert back["customer_name"] == "Bruno Petit" and back["instructions"]
    assert [p["barcode"] for p in back["parcels"]] == ["RET-BOX"]
    # Depot steps carry no stop; every time is Paris time with its summer offset.
    assert all(v["stop"] is None for v in mine["visits"] if not v["order_id"])
    for v in mine["visits"]:
        for name in ("arrival_at", "start_at", "departure_at", "eta_at"):
            assert v[name].endswith("+02:00"), v[name]
            assert dt.datetime.fromisoformat(v[name]).date() == DAY
    assert mine["start_at"].endswith("+02:00")
    dispatched = dt.datetime.fromisoformat(mine["dispatched_at"])
    assert dispatched.utcoffset() == dispatched.astimezone(PARIS).utcoffset()
    # The route detail answers the same; the other driver may not see it.
    detail = t.ok("get", f"/routes/{route['id']}", "d1")
    assert detail["visits"] == mine["visits"]
    assert t.get(f"/routes/{route['id']}", "d2").status_code == 403
    assert t.ok("get", "/me/routes", "d2") == []
    # Dispatchers read the same stops.
    assert t.ok("get", f"/routes/{route['id']}", "dispatcher")["visits"] == mine["visits"]


def test_times_are_answered_in_the_organisations_time_zone(
    app: FastAPI, client: TestClient
) -> None:
    helsinki = new_tenant(app, client, timezone="Europe/Helsinki")
    depot = helsinki.depot()
    vtype = helsinki.vehicle_type()
    van = helsinki.vehicle(vtype["id"], depot["id"])
    body = {
        "driver_id": str(helsinki.driver_ids["d1"]),
        "vehicle_id": van["id"],
        # Requests take any offset.
        "start_at": "2026-11-24T08:00:00Z",
        "end_at": "2026-11-24T21:00:00+05:00",
    }
    shift = helsinki.ok("post", "/shifts", json=body, status=201)
    # Helsinki in winter: UTC+2.
    assert shift["start_at"] == "2026-11-24T10:00:00+02:00"
    assert shift["end_at"] == "2026-11-24T18:00:00+02:00"
    summer = dict(body, start_at="2026-06-24T08:00:00Z", end_at="2026-06-24T16:00:00Z")
    assert helsinki.ok("post", "/shifts", json=summer, status=201)["start_at"] == (
        "2026-06-24T11:00:00+03:00"
    )
    # Another organisation reads the same kind of answer in its own zone.
    utc = new_tenant(app, client, timezone="UTC")
    me = utc.ok("get", "/auth/me")
    assert me["user"]["created_at"].endswith("Z")


def test_unassigned_orders_are_named(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[5])
    van = t.vehicle(vtype["id"], depot["id"])
    t.shift("d1", van["id"])
    heavy = t.order(9, external_id="HEAVY-1", amount=[50], customer={"name": "Zoé Lemaire"})
    plan = t.ok(
        "post",
        "/plans",
        json={"date": str(DAY), "time_limit_s": 0.5, "order_ids": [heavy["id"]]},
        status=202,
    )
    assert t.wait_for_job(plan["id"])["status"] == "succeeded"
    (left,) = t.ok("get", f"/plans/{plan['id']}")["unassigned"]
    assert left["order_id"] == heavy["id"]
    assert left["order"] == f"order HEAVY-1 (Zoé Lemaire, id {heavy['id']})"
    assert left["code"] == "capacity" and left["reason"]
