"""Tracking routes: pings, stop events, ETAs, trackers and the OsmAnd protocol.

Runs against SQLite and PostgreSQL (see conftest.py). The module builds its
own dispatched plan (two routes: d1's and d2's) because it moves the orders
through their lifecycle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lastmile.service.errors import Unprocessable
from lastmile.service.plans.models import Route, Visit
from lastmile.service.tracking import service
from lastmile.service.tracking.models import PositionPing, StopEvent
from lastmile.service.tracking.osmand import decode_osmand

from .conftest import DAY, World, build_world  # type: ignore[import-not-found]

PARIS = dt.timezone(dt.timedelta(hours=2))
NOW = dt.datetime(2025, 5, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def tw(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def route_of(world: World, who: str) -> dict[str, Any]:
    driver = str(world.tenant.driver_ids[who])
    return next(r for r in world.plan["routes"] if r["driver_id"] == driver)


def pings(prefix: str, n: int, *, start_min: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{k}",
            "at": f"{DAY}T{9 + (start_min + k) // 60:02d}:{(start_min + k) % 60:02d}:00+02:00",
            "lon": 2.30 + 0.0005 * k,
            "lat": 48.85,
            "speed_kph": 25.0,
            "heading_deg": 90.0,
        }
        for k in range(n)
    ]


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


# -- pings --------------------------------------------------------------------------------------


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


def test_batch_size_is_bounded(tw: World) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    assert t.post(f"/routes/{rid}/pings", "d1", json={"pings": []}).status_code == 422
    too_many = pings("big", 1001)
    assert t.post(f"/routes/{rid}/pings", "d1", json={"pings": too_many}).status_code == 422


# -- ETAs ---------------------------------------------------------------------------------------


def test_eta_of_an_untouched_route_is_its_plan(app: FastAPI, tw: World) -> None:
    rid = uuid.UUID(route_of(tw, "d2")["id"])
    runtime = app.state.tracking
    with app.state.sessionmaker() as session:
        route = session.get(Route, rid)
        assert route is not None
        early = route.start_at - dt.timedelta(hours=1)
        comp = service.compute_eta(
            session, route_id=rid, travel_model=runtime.travel_model, margin_s=600, now=early
        )
        planned = {v.sequence: v.arrival_at for v in route.visits}
    assert comp.out.origin == "start" and comp.out.done == comp.out.failed == 0
    # Same travel model, same timing rule: the planner's arrivals come back.
    assert {s.sequence: s.eta_at for s in comp.out.stops} == {
        seq: at for seq, at in planned.items() if seq > 0
    }
    assert not any(s.late for s in comp.out.stops)


def test_eta_follows_the_last_position(tw: World) -> None:
    t, rid = tw.tenant, route_of(tw, "d1")["id"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fix = {"event_id": "now-1", "at": now.isoformat(), "lon": 2.36, "lat": 48.86}
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": [fix]})
    eta = t.ok("get", f"/routes/{rid}/eta", "d1", params={"margin_s": 0})
    assert eta["origin"] == "position" and eta["position"]["lon"] == 2.36
    assert eta["margin_s"] == 0 and eta["remaining"] == len(eta["stops"]) - 1  # + the end
    first = dt.datetime.fromisoformat(eta["stops"][0]["eta_at"])
    assert first >= now
    # The plan's day is over: every order stop is predicted past its window.
    assert all(s["late"] for s in eta["stops"] if s["kind"] == "job")
    assert eta["stops"][-1]["kind"] == "end"


# -- stop events -----------------------------------------------------------------------------


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
    assert failed["events"][0]["order_status"] == "failed"
    assert failed["events"][0]["sequence"] == second["sequence"]
    history = t.ok("get", f"/routes/{rid}/events", "d2")
    assert [e["event_id"] for e in history] == ["e1", "e2", "e3"]
    assert history[2]["reason"] == "not_home"


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


def test_late_stops_are_announced_once(app: FastAPI, tw: World) -> None:
    rid = uuid.UUID(route_of(tw, "d2")["id"])
    runtime = app.state.tracking
    late_now = dt.datetime(2025, 5, 2, 17, 55, tzinfo=PARIS)  # windows close at 18:00
    with runtime.sessions() as session:

        def refresh(now: dt.datetime) -> list[dict[str, Any]]:
            return service.refresh_eta(
                session, route_id=rid, travel_model=runtime.travel_model, margin_s=600, now=now
            )

        calm = refresh(dt.datetime(2025, 5, 2, 10, 45, tzinfo=PARIS))
        first = refresh(late_now)
        second = refresh(late_now)
        visits = {
            v.sequence: v for v in session.scalars(select(Visit).where(Visit.route_id == rid))
        }
    assert [e["type"] for e in calm] == ["eta"] and calm[0]["late"] == []
    alerts = [e for e in first if e["type"] == "late"]
    assert first[0]["type"] == "eta" and alerts
    assert {a["sequence"] for a in alerts} == set(first[0]["late"])
    assert [e["type"] for e in second] == ["eta"]
    # The stored ETA (what customers see) is the recomputed one.
    a = alerts[0]
    assert visits[a["sequence"]].eta_at == dt.datetime.fromisoformat(a["eta_at"])


# -- trackers and the OsmAnd protocol ------------------------------------------------------------


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
