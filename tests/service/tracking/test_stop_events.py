"""Stop events through ``POST /routes/{route_id}/events``: orders move through their
lifecycle, a batch applies all or nothing, and a route whose stops are all
finished is completed.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lastmile.service.tracking.models import StopEvent

from ..conftest import DAY, World  # type: ignore[import-not-found]
from .conftest import pings, route_of  # type: ignore[import-not-found]


def event(eid: str, kind: str, seq: int, minute: int, **kw: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "kind": kind,
        "sequence": seq,
        "at": f"{DAY}T10:{minute:02d}:00+02:00",
    } | kw


def test_stop_events_move_orders_through_their_lifecycle(app: FastAPI, tw: World) -> None:
    t = tw.tenant
    route = route_of(tw, "d2")
    rid = route["id"]
    jobs = [v for v in route["visits"] if v["order_id"]]
    first, second = jobs[0], jobs[1]
    link = t.ok("post", f"/orders/{second['order_id']}/tracking-links", status=201)
    # A dispatcher's fixes at 10:40-10:42, before the route has started.
    fixes = pings("shared", 3, start_min=100)
    t.ok("post", f"/routes/{rid}/pings", "dispatcher", json={"pings": fixes})

    r = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d2",
        json={
            "events": [
                event("e1", "arrived", first["sequence"], 0),
                event("e2", "delivered", first["sequence"], 4, note="left at the door"),
            ]
        },
    )
    assert [e["order_status"] for e in r["events"]] == ["en_route", "completed"]
    assert t.ok("get", f"/orders/{first['order_id']}")["status"] == "completed"
    # The first report started the route: its other orders are on their way.
    assert t.ok("get", f"/routes/{rid}")["status"] == "started"
    assert t.ok("get", f"/orders/{second['order_id']}")["status"] == "en_route"

    # Sent again: reported as duplicates, nothing changes.
    again = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d2",
        json={"events": [event("e2", "delivered", first["sequence"], 4)]},
    )
    assert again["events"][0]["duplicate"] is True

    # The ETA refresh after the events moved the customer's tracking page.
    eta = t.ok("get", f"/routes/{rid}/eta")
    # From the newest report: a dispatcher's fix at 10:40 beats the delivery at 10:04.
    assert eta["done"] == 1 and eta["origin"] == "position"
    assert all(s["sequence"] != first["sequence"] for s in eta["stops"])
    page = t.client.get(f"/track/{link['token']}").json()
    live = next(s for s in eta["stops"] if s["sequence"] == second["sequence"])
    gap = abs(dt.datetime.fromisoformat(page["eta_at"]) - dt.datetime.fromisoformat(live["eta_at"]))
    assert gap < dt.timedelta(seconds=30)

    # Failed with a reason, by order id instead of sequence.
    failed = t.ok(
        "post",
        f"/routes/{rid}/events",
        "d2",
        json={
            "events": [
                {
                    "event_id": "e3",
                    "kind": "failed",
                    "order_id": second["order_id"],
                    "at": f"{DAY}T10:20:00+02:00",
                    "reason": "not_home",
                }
            ]
        },
    )
    # The old code reads as its new name; the order is tried again the next day
    # (back to pending), as after a failure reported with a proof of delivery.
    assert failed["events"][0]["order_status"] == "pending"
    assert failed["events"][0]["reattempt_on"] == str(DAY + dt.timedelta(days=1))
    assert failed["events"][0]["sequence"] == second["sequence"]
    history = t.ok("get", f"/routes/{rid}/events", "d2")
    assert [e["event_id"] for e in history] == ["e1", "e2", "e3"]
    assert history[2]["reason"] == "recipient_absent"


@pytest.mark.parametrize(
    ("bad", "column", "words"),
    [
        ({"kind": "picked_up"}, "events[1].kind", "use delivered"),
        ({"sequence": 0}, "events[1]", "is a start"),
        ({"sequence": 999}, "events[1]", "no visit 999"),
        ({"sequence": None, "order_id": str(uuid.uuid4())}, "events[1]", "not on this route"),
    ],
)
def test_stop_events_are_all_or_nothing(
    app: FastAPI, tw: World, bad: dict[str, Any], column: str, words: str
) -> None:
    t = tw.tenant
    route = route_of(tw, "d2")
    last = [v for v in route["visits"] if v["order_id"]][-1]
    good = event("ok-1", "arrived", last["sequence"], 30)
    wrong = event("bad-1", "delivered", last["sequence"], 31) | bad
    r = t.post(f"/routes/{route['id']}/events", "d2", json={"events": [good, wrong]})
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert errors[0]["column"] == column and words in errors[0]["reason"], errors
    with app.state.sessionmaker() as session:
        ids = set(session.scalars(select(StopEvent.event_id).where(StopEvent.event_id == "ok-1")))
    assert ids == set()


def test_a_failed_stop_needs_a_reason(tw: World) -> None:
    route = route_of(tw, "d2")
    r = tw.tenant.post(
        f"/routes/{route['id']}/events", "d2", json={"events": [event("f", "failed", 1, 0)]}
    )
    assert r.status_code == 422 and "reason" in r.text


def test_a_route_whose_stops_are_all_finished_is_completed(app: FastAPI, tw: World) -> None:
    t = tw.tenant
    route = route_of(tw, "d1")
    events = [
        event(f"done-{v['sequence']}", "delivered", v["sequence"], v["sequence"])
        for v in route["visits"]
        if v["order_id"]
    ]
    r = t.ok("post", f"/routes/{route['id']}/events", "d1", json={"events": events})
    assert {e["order_status"] for e in r["events"]} == {"completed"}
    assert t.ok("get", f"/routes/{route['id']}")["status"] == "completed"
    eta = t.ok("get", f"/routes/{route['id']}/eta")
    assert eta["remaining"] == 0 and [s["kind"] for s in eta["stops"]] == ["end"]
    # A completed route still takes positions (the drive back to the depot).
    assert (
        t.post(f"/routes/{route['id']}/pings", "d1", json={"pings": pings("back", 2)}).status_code
        == 200
    )
