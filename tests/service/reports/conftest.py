"""A day driven through the API, shared by the reports tests of a module.

The world's plan (two vans, ten orders) is dispatched; d1 starts, sends GPS
fixes from 09:30 to 10:30, delivers its first stop (arrived 10:00, delivered
10:04) and fails its second (arrived 10:20, failed 10:22, recipient absent);
a delay message was sent to the second stop's customer at 09:30 with an ETA
of 10:10. The dispatcher then closes d1's route at 11:00: its other stops are
not attempted. d2's route is not touched.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.notifications.models import CustomerNotification

from ..conftest import DAY, PARIS, World, build_world  # type: ignore[import-not-found]

ZONE = ZoneInfo(PARIS)


def local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), ZONE)


def seconds(hour: int, minute: int = 0) -> int:
    """Seconds since the day's local midnight."""
    return hour * 3600 + minute * 60


@dataclass
class Driven:
    world: World
    route: dict[str, Any]  # d1's route as dispatched
    first: dict[str, Any]  # its first order visit (delivered)
    second: dict[str, Any]  # its second (failed)
    pings: list[dict[str, Any]]


def drive_day(app: FastAPI, world: World) -> Driven:
    t = world.tenant
    d1 = str(t.driver_ids["d1"])
    route = next(r for r in world.plan["routes"] if r["driver_id"] == d1)
    rid = route["id"]
    jobs = [v for v in route["visits"] if v["order_id"]]
    first, second = jobs[0], jobs[1]
    t.ok("post", f"/routes/{rid}/start", "d1")
    # One fix a minute from 09:30 (at the depot) to 10:30, heading out west.
    fixes = [
        {
            "event_id": f"p{k}",
            "at": local(9, 30 + k).isoformat() if k < 30 else local(10, k - 30).isoformat(),
            "lon": 2.35 - (0.0 if k < 5 else 0.001 * (k - 4)),
            "lat": 48.85,
        }
        for k in range(61)
    ]
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": fixes})

    def event(eid: str, kind: str, visit: dict[str, Any], at: dt.datetime, **kw: Any) -> Any:
        body = {"event_id": eid, "kind": kind, "sequence": visit["sequence"], "at": at.isoformat()}
        return body | kw

    t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={
            "events": [
                event("e1", "arrived", first, local(10, 0)),
                event("e2", "delivered", first, local(10, 4)),
                event("e3", "arrived", second, local(10, 20)),
                event("e4", "failed", second, local(10, 22), reason="recipient_absent"),
            ]
        },
    )
    # The delay message the notifier would have queued and sent for the second stop.
    with app.state.sessionmaker() as session:
        session.info["lastmile_outbox_off"] = True
        session.add(
            CustomerNotification(
                org_id=t.org_id,
                order_id=uuid.UUID(second["order_id"]),
                event="delay",
                status="sent",
                detail={"eta": local(10, 10).astimezone(dt.UTC).isoformat()},
                created_at=local(9, 30),
                sent_at=local(9, 30),
            )
        )
        session.commit()
    app.state.clock = lambda: local(11, 0).astimezone(dt.UTC)
    try:
        t.ok("post", f"/routes/{rid}/close", "dispatcher", json={"note": "van back early"})
    finally:
        del app.state.clock
    return Driven(world, route, first, second, fixes)


@pytest.fixture(scope="module")
def driven(app: FastAPI, client: TestClient) -> Driven:
    return drive_day(app, build_world(app, client))
