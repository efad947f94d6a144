"""Tracker devices and the OsmAnd protocol: positions from registered trackers land
on their vehicle's route, unknown trackers are refused, staff manage them, and
OsmAnd fields decode as Traccar sends them.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.errors import Unprocessable
from lastmile.service.tracking.models import PositionPing
from lastmile.service.tracking.osmand import decode_osmand

from ..conftest import World  # type: ignore[import-not-found]
from .conftest import route_of  # type: ignore[import-not-found]

NOW = dt.datetime(2025, 5, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def tracker(tw: World) -> dict[str, Any]:
    van = route_of(tw, "d2")["vehicle_id"]
    created: dict[str, Any] = tw.tenant.ok(
        "post", "/trackers", json={"identifier": "van-2-phone", "vehicle_id": van}, status=201
    )
    return created


def osmand_pings(app: FastAPI, tracker: dict[str, Any]) -> list[PositionPing]:
    with app.state.sessionmaker() as session:
        return list(
            session.scalars(
                select(PositionPing)
                .where(PositionPing.source == f"tracker:{tracker['id']}")
                .order_by(PositionPing.recorded_at)
            )
        )


def test_osmand_positions_are_stored_on_the_vehicles_route(
    app: FastAPI, client: TestClient, tw: World, tracker: dict[str, Any]
) -> None:
    assert tracker["server_url"] == f"https://track.example/osmand?token={tracker['token']}"
    fields = {
        "id": "van-2-phone",
        "token": tracker["token"],
        "lat": "48.8566",
        "lon": "2.3522",
        "timestamp": str(int(dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC).timestamp())),
        "speed": "10",
        "bearing": "270",
        "batt": "81",
    }
    r = client.get("/osmand", params=fields)
    assert r.status_code == 200 and r.content == b""
    assert client.get("/osmand", params=fields).status_code == 200  # a retry: stored once
    # Form body (OsmAnd-style POST) and Traccar Client's JSON body.
    form = fields | {"timestamp": "2025-05-02 08:31:00"}
    assert client.post("/osmand", data=form).status_code == 200
    body = {
        "device_id": "van-2-phone",
        "location": {
            "timestamp": "2025-05-02T08:32:00.000Z",
            "coords": {"latitude": 48.857, "longitude": 2.353, "speed": 5.0, "heading": 90},
            "battery": {"level": 0.8},
        },
    }
    r = client.post("/osmand", params={"token": tracker["token"]}, json=body)
    assert r.status_code == 200, r.text
    rows = osmand_pings(app, tracker)
    assert len(rows) == 3
    route_id = uuid.UUID(route_of(tw, "d2")["id"])
    assert {r.route_id for r in rows} == {route_id}
    assert rows[0].speed_kph == pytest.approx(18.52) and rows[0].heading_deg == 270
    assert rows[0].battery_pct == 81
    assert rows[2].speed_kph == pytest.approx(18.0) and rows[2].battery_pct == 80
    listed = tw.tenant.ok("get", "/trackers")
    assert [x["identifier"] for x in listed] == ["van-2-phone"]
    assert listed[0]["last_seen_at"] is not None and "token" not in listed[0]


def test_osmand_refuses_unknown_trackers(client: TestClient, tracker: dict[str, Any]) -> None:
    base = {"lat": "48.85", "lon": "2.35"}
    for creds in (
        {"id": "van-2-phone", "token": "lmd_wrong"},
        {"id": "someone-else", "token": tracker["token"]},
    ):
        r = client.get("/osmand", params=base | creds)
        assert r.status_code == 401, (creds, r.text)
    r = client.get("/osmand", params={"id": "van-2-phone", "token": tracker["token"]})
    assert r.status_code == 422 and "lat" in r.text


def test_trackers_are_managed_by_staff(
    app: FastAPI, client: TestClient, tw: World, other_tenant: Any
) -> None:
    t = tw.tenant
    van = route_of(tw, "d1")["vehicle_id"]
    made = t.ok(
        "post",
        "/trackers",
        json={"identifier": "box-1", "vehicle_id": van, "name": "GPS box"},
        status=201,
    )
    dup = t.post("/trackers", json={"identifier": "box-1", "driver_id": str(t.driver_ids["d1"])})
    assert dup.status_code == 409
    both = t.post(
        "/trackers",
        json={"identifier": "x", "vehicle_id": van, "driver_id": str(t.driver_ids["d1"])},
    )
    assert both.status_code == 422
    # Another organisation's vehicle does not exist for this one.
    foreign = other_tenant.post("/trackers", json={"identifier": "box-9", "vehicle_id": van})
    assert foreign.status_code == 422 and "no such vehicle" in foreign.text
    assert other_tenant.delete("/trackers", params={"identifier": "box-1"}).status_code == 404
    fix = {"id": "box-1", "token": made["token"], "lat": "48.85", "lon": "2.35"}
    assert client.get("/osmand", params=fix).status_code == 200
    assert t.delete("/trackers", params={"identifier": "box-1"}).status_code == 204
    assert client.get("/osmand", params=fix).status_code == 401


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1746174600", dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC)),
        ("1746174600000", dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC)),
        ("2025-05-02T10:30:00+02:00", dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC)),
        ("2025-05-02T08:30:00Z", dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC)),
        ("2025-05-02 08:30:00", dt.datetime(2025, 5, 2, 8, 30, tzinfo=dt.UTC)),
        (None, NOW),
    ],
)
def test_osmand_timestamps_follow_traccar(value: str | None, expected: dt.datetime) -> None:
    fields = {"id": "x", "token": "t", "location": "48.85,2.35"}
    if value is not None:
        fields["timestamp"] = value
    fix = decode_osmand(fields, None, now=NOW)
    assert fix.ping.at == expected and (fix.ping.lat, fix.ping.lon) == (48.85, 2.35)
    assert fix.ping.event_id == f"osmand:{int(expected.timestamp() * 1000)}"


def test_osmand_lists_every_bad_field() -> None:
    with pytest.raises(Unprocessable) as info:
        decode_osmand({"lat": "north", "lon": "2.3", "timestamp": "yesterday"}, None, now=NOW)
    columns = {e.column for e in info.value.errors}
    assert {"lat", "timestamp"} <= columns
    with pytest.raises(Unprocessable):
        decode_osmand({"lat": "95", "lon": "2.3"}, None, now=NOW)
