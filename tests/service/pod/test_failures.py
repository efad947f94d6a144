"""A failure reported as a stop event and the same failure reported with a proof
of delivery give the same outcome: the same reason code (one list), the same
order status and the same re-attempt.

Each test builds its own dispatched plan and a local file store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.notifications.models import CustomerNotification
from lastmile.service.pod.settings import PodSettings
from lastmile.service.pod.storage import LocalFileStore

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]


@pytest.fixture
def world(app: FastAPI, client: TestClient, tmp_path: Path) -> Iterator[World]:
    app.state.pod_settings = PodSettings(pod_max_attempts=2)
    app.state.pod_store = LocalFileStore(tmp_path)
    yield build_world(app, client)
    del app.state.pod_store
    del app.state.pod_settings


def stops(world: World, who: str) -> tuple[str, list[dict[str, Any]]]:
    t = world.tenant
    route = next(r for r in world.plan["routes"] if r["driver_id"] == str(t.driver_ids[who]))
    return route["id"], [v for v in route["visits"] if v["order_id"]]


def by_event(world: World, route_id: str, visit: dict[str, Any], eid: str, reason: str) -> Any:
    body = {
        "event_id": eid,
        "kind": "failed",
        "sequence": visit["sequence"],
        "at": f"{DAY}T10:00:00+02:00",
        "reason": reason,
    }
    r = world.tenant.ok("post", f"/routes/{route_id}/events", "d1", json={"events": [body]})
    return r["events"][0]


def by_proof(world: World, route_id: str, visit: dict[str, Any], eid: str, reason: str) -> Any:
    body = {
        "event_id": eid,
        "order_id": visit["order_id"],
        "outcome": "failed",
        "failure_reason": reason,
        "at": f"{DAY}T10:00:00+02:00",
    }
    return world.tenant.ok("post", f"/routes/{route_id}/pod", "d2", json=body)


def test_the_same_failure_gives_the_same_outcome_by_either_path(app: FastAPI, world: World) -> None:
    t = world.tenant
    r1, s1 = stops(world, "d1")
    r2, s2 = stops(world, "d2")
    pairs = [
        ("access_denied", s1[0], s2[0]),  # tried again tomorrow
        ("no_access", s1[1], s2[1]),  # the old code reads as access_denied
        ("refused", s1[2], s2[2]),  # final: not tried again
    ]
    for k, (reason, mine, theirs) in enumerate(pairs):
        ev = by_event(world, r1, mine, f"e{k}", reason)
        proof = by_proof(world, r2, theirs, f"p{k}", reason)
        a = t.ok("get", f"/orders/{mine['order_id']}")
        b = t.ok("get", f"/orders/{theirs['order_id']}")
        assert a["status"] == b["status"] == ev["order_status"] == proof["order_status"]
        assert ev["reattempt_on"] == proof["reattempt_on"]
        assert ev["reattempt_note"] == proof["reattempt_note"]
        assert a["delivery"]["time_windows"] == b["delivery"]["time_windows"]
        pod_event = next(e for e in t.ok("get", f"/routes/{r2}/events") if e["event_id"] == f"p{k}")
        assert ev["reason"] == pod_event["reason"] == proof["failure_reason"]
        assert pod_event["reattempt_on"] == proof["reattempt_on"]
    assert [s["reason"] for s in t.ok("get", f"/routes/{r1}/outcomes")][:3] == [
        "access_denied",
        "access_denied",
        "refused",
    ]
    first = t.ok("get", f"/orders/{s1[0]['order_id']}")
    assert first["status"] == "pending"
    assert (
        first["delivery"]["time_windows"][0]["start"] == "2025-05-03T09:00:00+02:00"
    )  # 07:00 UTC, answered in Paris time
    assert t.ok("get", f"/orders/{s1[2]['order_id']}")["status"] == "failed"
    # Either way the customer is told of the failure, even when the order is
    # back to pending by the time the request answers.
    with app.state.sessionmaker() as session:
        told = set(
            session.scalars(
                select(CustomerNotification.order_id).where(CustomerNotification.event == "failed")
            )
        )
    assert {str(o) for o in told} >= {v["order_id"] for _, a, b in pairs for v in (a, b)}


def test_stop_events_follow_the_re_attempt_settings(app: FastAPI, world: World) -> None:
    """One rule, one set of settings: with one attempt allowed, a failure reported
    as a stop event is not tried again either."""
    t = world.tenant
    app.state.pod_settings = PodSettings(pod_max_attempts=1)
    r1, s1 = stops(world, "d1")
    ev = by_event(world, r1, s1[0], "only", "recipient_absent")
    assert ev["order_status"] == "failed" and ev["reattempt_on"] is None
    assert ev["reattempt_note"] == "not tried again: 1 attempts failed (at most 1)"
    assert t.ok("get", f"/orders/{s1[0]['order_id']}")["status"] == "failed"
