"""Position pings through ``POST /routes/{route_id}/pings``: stored once per sender
and event id, refused field by field when bad, batches bounded.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from lastmile.service.tracking.models import PositionPing

from ..conftest import DAY, World  # type: ignore[import-not-found]
from .conftest import pings, route_of  # type: ignore[import-not-found]


def stored(app: FastAPI, route_id: str) -> int:
    with app.state.sessionmaker() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(PositionPing)
                .where(PositionPing.route_id == uuid.UUID(route_id))
            )
            or 0
        )


def test_a_ping_batch_is_stored_once(app: FastAPI, tw: World) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    before = stored(app, rid)
    batch = pings("a", 50)
    assert t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": batch}) == {
        "accepted": 50,
        "duplicates": 0,
    }
    # A retry with ten new fixes stores only those; an id twice in a batch counts once.
    again = batch[10:] + pings("b", 10) + [pings("b", 1)[0]]
    assert t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": again}) == {
        "accepted": 10,
        "duplicates": 41,
    }
    assert stored(app, rid) == before + 60
    track = t.ok("get", f"/routes/{rid}/positions", "d1", params={"since": f"{DAY}T09:00:00+02:00"})
    times = [p["at"] for p in track]
    assert times == sorted(times) and {p["event_id"] for p in track} >= {"a-0", "a-49", "b-9"}
    assert track[0]["speed_kph"] == 25.0 and track[0]["heading_deg"] == 90.0


def test_event_ids_are_unique_per_sender(app: FastAPI, tw: World) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    key = t.ok("post", "/api-keys", json={"name": "telematics"}, status=201)["key"]
    before = stored(app, rid)
    same = pings("shared", 3, start_min=100)
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": same})
    r = t.client.post(
        f"/routes/{rid}/pings", headers={"Authorization": f"Bearer {key}"}, json={"pings": same}
    )
    assert r.status_code == 200 and r.json()["accepted"] == 3
    # Dispatchers may post for any route of the organisation, drivers only their own.
    other = route_of(tw, "d2")["id"]
    assert t.post(f"/routes/{other}/pings", "dispatcher", json={"pings": same}).status_code == 200
    assert t.post(f"/routes/{other}/pings", "d1", json={"pings": same}).status_code == 403
    assert stored(app, rid) == before + 6


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"at": "2025-05-02T09:00:00"}, "at"),
        ({"lon": 200.0}, "lon"),
        ({"lat": None}, "lat"),
        ({"event_id": ""}, "event_id"),
        ({"speed_kph": -3}, "speed_kph"),
    ],
)
def test_bad_pings_are_refused_naming_the_field(
    tw: World, change: dict[str, Any], column: str
) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    batch = pings("bad", 2)
    batch[1] = batch[1] | change
    r = t.post(f"/routes/{rid}/pings", "d1", json={"pings": batch})
    assert r.status_code == 422, r.text
    assert any(e["column"] == f"body.pings.1.{column}" for e in r.json()["errors"]), r.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [("accuracy_m", "Infinity"), ("altitude_m", "NaN"), ("altitude_m", "-Infinity")],
)
def test_non_finite_numbers_in_pings_are_refused(tw: World, field: str, value: str) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    batch = pings("nonfinite", 2)
    batch[1][field] = "VALUE"
    body = json.dumps({"pings": batch}).replace('"VALUE"', value)
    headers = t.headers("d1") | {"Content-Type": "application/json"}
    r = t.client.post(f"/routes/{rid}/pings", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == [f"body.pings.1.{field}"]


def test_batch_size_is_bounded(tw: World) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    assert t.post(f"/routes/{rid}/pings", "d1", json={"pings": []}).status_code == 422
    too_many = pings("big", 1001)
    assert t.post(f"/routes/{rid}/pings", "d1", json={"pings": too_many}).status_code == 422
