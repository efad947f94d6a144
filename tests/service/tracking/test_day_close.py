"""The day closes: a route completes when every order stop on it has a final
outcome on that route (a failed stop rescheduled to another day included), and
a dispatcher can close a route explicitly.

Each test builds its own dispatched plan (two vans, ten orders, Paris).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ..conftest import DAY, Tenant, World, build_world  # type: ignore[import-not-found]
from .conftest import route_of  # type: ignore[import-not-found]


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


@pytest.fixture
def evening(app: FastAPI) -> Iterator[None]:
    """The app's clock at 17:00 in Paris on the plan day."""
    moment = dt.datetime(
        DAY.year, DAY.month, DAY.day, 17, tzinfo=dt.timezone(dt.timedelta(hours=2))
    )
    app.state.clock = lambda: moment
    yield
    del app.state.clock


def event(eid: str, kind: str, seq: int, minute: int) -> dict[str, Any]:
    return {"event_id": eid, "kind": kind, "sequence": seq, "at": f"{DAY}T10:{minute:02d}:00+02:00"}


def jobs(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in route["visits"] if v["order_id"]]


def test_a_route_completes_after_a_rescheduled_failure(world: World) -> None:
    t = world.tenant
    route = route_of(world, "d1")
    rid = route["id"]
    first, *rest = jobs(route)
    failed = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={"events": [event("f", "failed", first["sequence"], 0) | {"reason": "refused"}]},
    )
    assert failed["events"][0]["order_status"] == "failed"  # a refusal is final
    # A failure that is tried again sends its order back to pending for the next day.
    second = rest.pop(0)
    again = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={
            "events": [event("g", "failed", second["sequence"], 5) | {"reason": "recipient_absent"}]
        },
    )
    assert again["events"][0]["order_status"] == "pending"
    assert again["events"][0]["reattempt_on"] == "2025-05-03"
    assert t.ok("get", f"/routes/{rid}")["status"] == "started"
    done = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={
            "events": [
                event(f"d{k}", "delivered", v["sequence"], 10 + k) for k, v in enumerate(rest)
            ]
        },
    )
    assert {e["order_status"] for e in done["events"]} == {"completed"}
    # The rescheduled order is pending, yet its stop here has its final outcome.
    assert t.ok("get", f"/orders/{second['order_id']}")["status"] == "pending"
    after = t.ok("get", f"/routes/{rid}")
    assert after["status"] == "completed" and after["completed_at"] is not None
    assert after["closed_by_id"] is None and after["closed_at"] is None
    outcomes = {o["order_id"]: o for o in t.ok("get", f"/routes/{rid}/outcomes", "d1")}
    assert outcomes[first["order_id"]]["outcome"] == "failed"
    assert outcomes[first["order_id"]]["reason"] == "refused"
    assert outcomes[second["order_id"]]["outcome"] == "failed"
    assert outcomes[second["order_id"]]["reason"] == "recipient_absent"
    assert {outcomes[v["order_id"]]["outcome"] for v in rest} == {"delivered"}


def test_a_dispatcher_closes_a_route(world: World, other_tenant: Tenant, evening: None) -> None:
    t = world.tenant
    route = route_of(world, "d2")
    rid = route["id"]
    first, *rest = jobs(route)
    t.ok(
        "post",
        f"/routes/{rid}/events",
        "d2",
        json={"events": [event("a", "delivered", first["sequence"], 0)]},
    )
    # Drivers cannot close a route; other organisations do not see it.
    assert t.post(f"/routes/{rid}/close", "d2", json={}).status_code == 403
    assert other_tenant.post(f"/routes/{rid}/close", json={}).status_code == 404
    closed = t.ok("post", f"/routes/{rid}/close", "dispatcher", json={"note": "van back at 16:00"})
    assert closed["status"] == "completed" and closed["close_note"] == "van back at 16:00"
    assert closed["not_attempted"] == len(rest)
    by_order = {s["order_id"]: s for s in closed["stops"]}
    assert by_order[first["order_id"]]["outcome"] == "delivered"
    assert by_order[first["order_id"]]["order_status"] == "completed"
    for v in rest:
        stop = by_order[v["order_id"]]
        assert stop["outcome"] == "not_attempted" and stop["reason"] == "not_attempted"
        # Back to pending, its window moved to the next open day, same local time.
        order = t.ok("get", f"/orders/{v['order_id']}")
        assert stop["order_status"] == order["status"] == "pending"
        window = order["delivery"]["time_windows"][0]
        assert window["start"] == "2025-05-03T09:00:00+02:00"  # 07:00 UTC, answered in Paris time
    history = t.ok("get", f"/routes/{rid}/events")
    skipped = [e for e in history if e["kind"] == "not_attempted"]
    assert len(skipped) == len(rest)
    assert {e["note"] for e in skipped} == {"van back at 16:00"}
    assert {e["reattempt_on"] for e in skipped} == {"2025-05-03"}
    assert {e["at"] for e in skipped} == {"2025-05-02T17:00:00+02:00"}  # 15:00 UTC in Paris time
    route_now = t.ok("get", f"/routes/{rid}")
    assert route_now["status"] == "completed" and route_now["closed_by_id"] is not None
    # Marked closed by the dispatcher (its van takes no more work that day).
    assert route_now["closed_at"] == "2025-05-02T17:00:00+02:00"
    # Closed once: closing again is a conflict.
    again = t.post(f"/routes/{rid}/close", json={})
    assert again.status_code == 409 and "completed" in again.json()["detail"]
    # A route that never started closes the same way, every stop not attempted.
    other = route_of(world, "d1")
    shut = t.ok("post", f"/routes/{other['id']}/close")
    assert shut["not_attempted"] == len(jobs(other))
    assert {s["order_status"] for s in shut["stops"]} == {"pending"}


def test_drivers_cannot_report_not_attempted_or_unknown_reasons(world: World) -> None:
    t = world.tenant
    route = route_of(world, "d1")
    seq = jobs(route)[0]["sequence"]
    r = t.post(
        f"/routes/{route['id']}/events",
        "d1",
        json={"events": [event("n", "not_attempted", seq, 0)]},
    )
    assert r.status_code == 422 and "closes the route" in r.text
    r = t.post(
        f"/routes/{route['id']}/events",
        "d1",
        json={"events": [event("u", "failed", seq, 0) | {"reason": "lost"}]},
    )
    assert r.status_code == 422
    assert "unknown failure reason 'lost'; one of: recipient_absent" in r.text
    assert t.ok("get", f"/orders/{jobs(route)[0]['order_id']}")["status"] == "dispatched"


@pytest.fixture(params=[17, 21, 24 * 400])  # 21:00: after every shift; a year later
def late(app: FastAPI, request: pytest.FixtureRequest) -> Iterator[None]:
    """The app's clock at 17:00 or 21:00 in Paris on the plan day."""
    start = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    moment = start + dt.timedelta(hours=request.param)
    app.state.clock = lambda: moment
    yield
    del app.state.clock


def test_re_optimising_after_a_route_is_closed_leaves_that_route_alone(
    world: World, late: None
) -> None:
    t = world.tenant
    closed = route_of(world, "d2")
    t.ok("post", f"/routes/{closed['id']}/close", "dispatcher", json={})
    r = t.post(f"/plans/{world.plan['id']}/reoptimise", "dispatcher", json={"time_limit_s": 1})
    assert r.status_code == 200, r.text
    plan = t.ok("get", f"/plans/{world.plan['id']}")
    after = next(rt for rt in plan["routes"] if rt["id"] == closed["id"])
    assert after["status"] == "completed"
    assert [v["order_id"] for v in jobs(after)] == [v["order_id"] for v in jobs(closed)]
