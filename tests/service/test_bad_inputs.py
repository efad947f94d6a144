"""Out-of-range input is refused with a 4xx naming the field, never a 500.

A table per kind of input: dates whose conversion to UTC leaves the calendar
(``9999-12-31T23:59:59-14:00``, ``0001-01-01T00:00:00+14:00``) or lie far
outside any delivery day, integers above 2^63-1, broken bodies and files.
Every case also checks that the same client's next request still works (the
connection survives the refusal).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.errors import Unprocessable
from lastmile.service.fleet.shift_import import parse_shifts
from lastmile.service.orders.csv_import import parse_orders_csv
from lastmile.service.tracking.osmand import decode_osmand

from .conftest import DAY, Tenant, World, build_world  # type: ignore[import-not-found]

#: Valid ISO 8601, but out of range once converted to UTC.
LATE = "9999-12-31T23:59:59-14:00"
EARLY = "0001-01-01T00:00:00+14:00"
#: Valid, convertible, but nowhere near a delivery day.
FAR = "0001-01-02T00:00:00Z"
BAD_TIMES = [LATE, EARLY, FAR]
NOW = dt.datetime(2025, 5, 2, 8, 0, tzinfo=dt.UTC)
#: One more than the largest 64-bit signed integer, and much more.
HUGE = [2**63, 10**30]


@pytest.fixture(scope="module")
def world(app: FastAPI, client: TestClient) -> World:
    """A dispatched plan of this module's own (its tests add trackers and links).
    Searched in a thread of this process like the suite's ``world``, with twice its
    time limit."""
    return build_world(app, client, time_limit_s=1.0)


def refused(response: httpx.Response, field: str, tenant: Tenant) -> None:
    """A 4xx in the error shape naming ``field``; the client still works after it."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    named = [e["column"] for e in body.get("errors", [])] + [body["detail"]]
    assert any(field in text for text in named), body
    assert tenant.get("/auth/me").status_code == 200


def route_of(world: World, who: str = "d1") -> dict[str, Any]:
    driver = str(world.tenant.driver_ids[who])
    return next(r for r in world.plan["routes"] if r["driver_id"] == driver)


def order_body(**delivery: Any) -> dict[str, Any]:
    return {
        "external_id": f"bad-{uuid.uuid4().hex[:8]}",
        "delivery": {"lon": 2.3, "lat": 48.85} | delivery,
        "amount": [1],
    }


# -- dates -----------------------------------------------------------------------------------------

Call = Callable[[World, str], httpx.Response]


def _window(world: World, when: str) -> httpx.Response:
    window = {"start": when, "end": f"{DAY}T18:00:00+02:00"}
    return world.tenant.post("/orders", json=order_body(time_windows=[window]))


def _window_patch(world: World, when: str) -> httpx.Response:
    order = world.orders[0]
    window = {"start": f"{DAY}T09:00:00+02:00", "end": when}
    return world.tenant.patch(
        f"/orders/{order['id']}", json={"delivery": order_body(time_windows=[window])["delivery"]}
    )


def _shift(world: World, when: str) -> httpx.Response:
    body = {
        "driver_id": str(world.tenant.driver_ids["d1"]),
        "vehicle_id": world.vehicles[0]["id"],
        "start_at": when,
        "end_at": f"{DAY}T20:00:00+02:00",
    }
    return world.tenant.post("/shifts", json=body)


def _shift_patch(world: World, when: str) -> httpx.Response:
    return world.tenant.patch(f"/shifts/{world.objects['shift_id']}", json={"end_at": when})


def _shift_break(world: World, when: str) -> httpx.Response:
    body = {
        "driver_id": str(world.tenant.driver_ids["d1"]),
        "vehicle_id": world.vehicles[0]["id"],
        "start_at": f"{DAY}T07:00:00+02:00",
        "end_at": f"{DAY}T20:00:00+02:00",
        "breaks": [
            {"window_start": when, "window_end": f"{DAY}T13:00:00+02:00", "duration_s": 600}
        ],
    }
    return world.tenant.post("/shifts", json=body)


def _ping(world: World, when: str) -> httpx.Response:
    ping = {"event_id": f"bad-{uuid.uuid4().hex[:8]}", "at": when, "lon": 2.3, "lat": 48.85}
    return world.tenant.post(f"/routes/{route_of(world)['id']}/pings", "d1", json={"pings": [ping]})


def _stop_event(world: World, when: str) -> httpx.Response:
    route = route_of(world)
    visit = next(v for v in route["visits"] if v["order_id"])
    event = {"event_id": "bad-e", "kind": "arrived", "sequence": visit["sequence"], "at": when}
    return world.tenant.post(f"/routes/{route['id']}/events", "d1", json={"events": [event]})


def _proof(world: World, when: str) -> httpx.Response:
    route = route_of(world)
    visit = next(v for v in route["visits"] if v["order_id"])
    body = {"event_id": "bad-p", "order_id": visit["order_id"], "outcome": "failed", "at": when}
    body["failure_reason"] = "recipient_absent"
    return world.tenant.post(f"/routes/{route['id']}/pod", "d1", json=body)


def _reply(world: World, when: str) -> httpx.Response:
    order = world.orders[-1]
    link = world.tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)
    body = {"kind": "new_window", "window_start": when, "window_end": f"{DAY}T18:00:00+02:00"}
    headers = {"Authorization": f"Bearer {link['token']}"}
    return world.tenant.client.post("/track/replies", json=body, headers=headers)


def _shifts_filter(world: World, when: str) -> httpx.Response:
    return world.tenant.get("/shifts", params={"start": when})


def _positions_filter(world: World, when: str) -> httpx.Response:
    return world.tenant.get(f"/routes/{route_of(world)['id']}/positions", params={"since": when})


def _orders_day(world: World, when: str) -> httpx.Response:
    return world.tenant.get("/orders", params={"day": when[:10]})


def _plan(world: World, when: str) -> httpx.Response:
    return world.tenant.post("/plans", json={"date": when[:10]})


def _osmand(world: World, when: str) -> httpx.Response:
    identifier = f"bad-{uuid.uuid4().hex[:6]}"
    tracker = world.tenant.ok(
        "post",
        "/trackers",
        json={"identifier": identifier, "vehicle_id": world.vehicles[0]["id"]},
        status=201,
    )
    params = {"id": identifier, "token": tracker["token"], "lat": "48.85", "lon": "2.3"}
    params["timestamp"] = when
    return world.tenant.client.get("/osmand", params=params)


def _csv_window(world: World, when: str) -> httpx.Response:
    text = f"external_id,lon,lat,window_start,window_end\nW1,2.3,48.85,{when},{DAY}T18:00+02:00\n"
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    return world.tenant.post("/orders/import", files=files)


def _csv_shift(world: World, when: str) -> httpx.Response:
    text = f"driver,vehicle,start_at,end_at\nDriver d1,,{when},{DAY}T17:00+02:00\n"
    return world.tenant.post("/shifts/import", files={"file": ("s.csv", text.encode())})


DATE_CASES: dict[str, tuple[Call, str]] = {
    "order window": (_window, "start"),
    "order window (PATCH)": (_window_patch, "end"),
    "shift": (_shift, "start_at"),
    "shift (PATCH)": (_shift_patch, "end_at"),
    "shift break": (_shift_break, "window_start"),
    "ping": (_ping, "at"),
    "stop event": (_stop_event, "at"),
    "proof": (_proof, "at"),
    "customer reply": (_reply, "window_start"),
    "shift list filter": (_shifts_filter, "start"),
    "position list filter": (_positions_filter, "since"),
    "order list day": (_orders_day, "day"),
    "plan date": (_plan, "date"),
    "OsmAnd timestamp": (_osmand, "timestamp"),
    "CSV window": (_csv_window, "window_start"),
    "shift import": (_csv_shift, "start_at"),
}


@pytest.mark.parametrize("when", BAD_TIMES)
@pytest.mark.parametrize("case", list(DATE_CASES))
def test_dates_out_of_range_are_refused(world: World, case: str, when: str) -> None:
    call, field = DATE_CASES[case]
    refused(call(world, when), field, world.tenant)


# -- integers --------------------------------------------------------------------------------------

LISTS = [
    "/users",
    "/depots",
    "/vehicle-types",
    "/vehicles",
    "/drivers",
    "/shifts",
    "/orders",
    "/plans",
    "/me/routes",
]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", LISTS)
def test_list_offsets_above_64_bits_are_refused(world: World, path: str, number: int) -> None:
    refused(world.tenant.get(path, params={"offset": str(number)}), "offset", world.tenant)


def _vehicle_type(world: World, field: str, number: int) -> httpx.Response:
    value: Any = [number] if field == "capacity" else number
    return world.tenant.post("/vehicle-types", json={"name": "Big", "capacity": [1], field: value})


def _vehicle_type_patch(world: World, field: str, number: int) -> httpx.Response:
    value: Any = [number] if field == "capacity" else number
    return world.tenant.patch(f"/vehicle-types/{world.vehicle_type['id']}", json={field: value})


def _depot(world: World, field: str, number: int) -> httpx.Response:
    return world.tenant.post("/depots", json={"name": "D", "lon": 2.3, "lat": 48.8, field: number})


def _depot_patch(world: World, field: str, number: int) -> httpx.Response:
    return world.tenant.patch(f"/depots/{world.depot['id']}", json={field: number})


def _vehicle(world: World, field: str, number: int) -> httpx.Response:
    body = {"name": "Big", "type_id": world.vehicle_type["id"], "depot_id": world.depot["id"]}
    return world.tenant.post("/vehicles", json=body | {field: number})


def _vehicle_patch(world: World, field: str, number: int) -> httpx.Response:
    return world.tenant.patch(f"/vehicles/{world.vehicles[0]['id']}", json={field: number})


def _order(world: World, field: str, number: int) -> httpx.Response:
    body = order_body()
    if field == "quantity":
        body["items"] = [{"barcode": "B1", "quantity": number}]
    else:
        body[field] = [number]
    return world.tenant.post("/orders", json=body)


def _version(world: World, field: str, number: int) -> httpx.Response:
    return world.tenant.get(f"/plans/{world.plan['id']}/versions/{number}")


IntCall = Callable[[World, str, int], httpx.Response]
INT_CASES: list[tuple[IntCall, str]] = [
    *((_vehicle_type, f) for f in ("fixed_cost", "cost_per_hour", "cost_per_km", "capacity")),
    *((_vehicle_type_patch, f) for f in ("fixed_cost", "cost_per_hour", "cost_per_km")),
    (_depot, "reload_time_s"),
    (_depot_patch, "reload_time_s"),
    *((_vehicle, f) for f in ("max_tasks", "max_duration_s", "max_distance_m", "max_reloads")),
    *((_vehicle_patch, f) for f in ("max_tasks", "max_duration_s", "max_distance_m")),
    (_order, "quantity"),
    (_order, "amount"),
    (_version, "number"),
]


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    ("call", "field"), INT_CASES, ids=[f"{c.__name__[1:]}-{f}" for c, f in INT_CASES]
)
def test_integers_above_64_bits_are_refused(
    world: World, call: IntCall, field: str, number: int
) -> None:
    refused(call(world, field, number), field, world.tenant)


# -- bodies and files ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b'{"location": ', b"[1,"])
def test_osmand_with_a_broken_json_body_is_refused(world: World, body: bytes) -> None:
    r = world.tenant.client.post(
        "/osmand", content=body, headers={"Content-Type": "application/json"}
    )
    refused(r, "body", world.tenant)


CSV_HEADER = "external_id,lon,lat,instructions\n"
#: A data row of the file (its second line), and the column named in the answer.
CSV_ROWS = {
    "longitude above 180": ("C1,200,48.85,\n", "lon"),
    "latitude below -90": ("C1,2.3,-100,\n", "lat"),
    "longitude nan": ("C1,nan,48.85,\n", "lon"),
    "latitude infinite": ("C1,2.3,inf,\n", "lat"),
    "longitude -infinity": ("C1,-Infinity,48.85,\n", "lon"),
    "field over the reader's limit": (f'C1,2.3,48.85,"{"x" * 200_000}"\n', ""),
}


@pytest.mark.parametrize("case", list(CSV_ROWS))
def test_csv_rows_with_impossible_values_are_refused(tenant: Tenant, case: str) -> None:
    row, column = CSV_ROWS[case]
    files = {"file": ("orders.csv", (CSV_HEADER + row).encode(), "text/csv")}
    r = tenant.post("/orders/import", files=files)
    refused(r, column, tenant)
    assert any(e["row"] == 2 and e["column"] == column for e in r.json()["errors"]), r.json()
    assert tenant.ok("get", "/orders") == []


# -- linking a driver to a user --------------------------------------------------------------------


def test_relinking_a_driver_is_refused_like_creating_one(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    d1, d2 = (str(tenant.driver_ids[d]) for d in ("d1", "d2"))
    unknown = {"user_id": str(uuid.uuid4())}
    refused(tenant.post("/drivers", json={"name": "X"} | unknown), "user_id", tenant)
    refused(tenant.patch(f"/drivers/{d2}", json=unknown), "user_id", tenant)

    taken = {"user_id": tenant.ok("get", f"/drivers/{d1}")["user_id"]}
    created = tenant.post("/drivers", json={"name": "X"} | taken)
    assert created.status_code == 409, created.text
    patched = tenant.patch(f"/drivers/{d2}", json=taken)
    assert patched.status_code == 409, patched.text
    assert "user_id" in patched.json()["detail"]
    assert tenant.ok("get", f"/drivers/{d2}")["user_id"] != taken["user_id"]

    # A free driver account of the same organisation can be linked.
    with app.state.sessionmaker() as session:
        user = create_user(
            session,
            org_id=tenant.org_id,
            email=f"d3@{tenant.slug}.example",
            password="correct horse battery",
            role=Role.DRIVER,
        )
    moved = tenant.ok("patch", f"/drivers/{d2}", json={"user_id": str(user.id)})
    assert moved["user_id"] == str(user.id)
    del client


# -- the parsers on their own ---------------------------------------------------------------------


@pytest.mark.parametrize("when", [LATE, EARLY, FAR, "1899-12-31T23:59:59Z", "2201-01-01T00:00Z"])
def test_parsers_name_the_row_and_column_of_a_time_out_of_range(when: str) -> None:
    text = f"external_id,lon,lat,window_start,window_end\nW1,2.3,48.85,09:00,{when}\n"
    parsed, errors = parse_orders_csv(text, dimensions=[], date=DAY)
    assert parsed == []
    assert [(e.row, e.column) for e in errors] == [(2, "window_end")], errors

    shifts = f"driver,start_at,end_at\nDriver d1,{when},17:00\n".encode()
    parsed_shifts, errors = parse_shifts(shifts, fmt="csv", date=DAY)
    assert parsed_shifts == []
    assert [(e.row, e.column) for e in errors] == [(2, "start_at")], errors

    with pytest.raises(Unprocessable) as caught:
        decode_osmand({"id": "x", "lat": "48.8", "lon": "2.3", "timestamp": when}, None, now=NOW)
    assert [e.column for e in caught.value.errors] == ["timestamp"]


def test_parsers_name_the_row_the_csv_reader_cannot_read() -> None:
    long = "x" * 200_000
    text = f'external_id,lon,lat,instructions\nA,2.3,48.8,\nB,2.3,48.8,"{long}"\nC,2.3,48.8,\n'
    parsed, errors = parse_orders_csv(text, dimensions=[])
    assert [p.row for p in parsed] == [2]
    assert [(e.row, e.column) for e in errors] == [(3, "")], errors
    assert "not read" in errors[0].reason

    shifts = f'driver,start_at,end_at,vehicle\nD,{DAY}T08:00Z,{DAY}T17:00Z,"{long}"\n'.encode()
    _, errors = parse_shifts(shifts, fmt="csv")
    assert [(e.row, e.column) for e in errors] == [(2, "")], errors
