"""ETAs through the service: an untouched route gives back its plan, a GPS fix
moves the origin, and stops newly predicted late are announced once.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.domain import VisitKind
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Route, Visit
from lastmile.service.tracking.eta import (
    EtaAnswer,
    RecentEtas,
    RouteStopsCache,
    compute_eta,
    refresh_eta,
)
from lastmile.service.tracking.schemas import RouteEtaOut

from ..conftest import World, build_world  # type: ignore[import-not-found]
from .conftest import route_of  # type: ignore[import-not-found]

PARIS = dt.timezone(dt.timedelta(hours=2))


def test_eta_of_an_untouched_route_is_its_plan(app: FastAPI, tw: World) -> None:
    rid = uuid.UUID(route_of(tw, "d2")["id"])
    runtime = app.state.tracking
    with app.state.sessionmaker() as session:
        route = session.get(Route, rid)
        assert route is not None
        early = route.start_at - dt.timedelta(hours=1)
        comp = compute_eta(
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


def test_late_stops_are_announced_once(app: FastAPI, tw: World) -> None:
    rid = uuid.UUID(route_of(tw, "d2")["id"])
    runtime = app.state.tracking
    late_now = dt.datetime(2025, 5, 2, 17, 55, tzinfo=PARIS)  # windows close at 18:00
    with runtime.sessions() as session:

        def refresh(now: dt.datetime) -> list[dict[str, Any]]:
            return refresh_eta(
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
    # Alerts read in the organisation's time zone and name the van and the order.
    assert a["eta_at"].endswith("+02:00") and first[0]["computed_at"].endswith("+02:00")
    van = next(v for v in tw.vehicles if v["id"] == route_of(tw, "d2")["vehicle_id"])
    order = next(o for o in tw.orders if o["id"] == a["order_id"])
    assert a["message"].startswith(f"vehicle {van['name']} (id {van['id']}) is forecast late")
    assert f"order {order['external_id']} (Customer " in a["message"]
    assert f"id {order['id']})" in a["message"]
    # lateness is judged on the predicted start of service, which the message gives
    start = dt.datetime.fromisoformat(a["start_at"])
    assert a["start_at"].endswith("+02:00") and start >= dt.datetime.fromisoformat(a["eta_at"])
    assert f"service expected to start at {start:%H:%M}" in a["message"]


def test_kept_stops_are_read_again_once_what_they_come_from_changes(
    app: FastAPI, client: TestClient
) -> None:
    # A fresh plan: this test changes an order's window and the plan's routes.
    w = build_world(app, client)
    t = w.tenant
    rid = uuid.UUID(route_of(w, "d1")["id"])
    runtime = app.state.tracking
    kept = RouteStopsCache()
    now = dt.datetime(2025, 5, 2, 9, 0, tzinfo=PARIS)

    def eta(route_id: uuid.UUID = rid) -> Any:
        with app.state.sessionmaker() as session:
            return compute_eta(
                session,
                route_id=route_id,
                travel_model=runtime.travel_model,
                margin_s=0,
                now=now,
                kept=kept,
            ).out

    first = eta()
    assert len(kept) == 1
    assert eta().stops == first.stops  # kept, and the same answer
    # Any write to an order's windows raises the organisation's planning revision:
    # the stops are read again with the new window.
    stop = next(s for s in first.stops if s.kind is VisitKind.JOB)
    new_end = dt.datetime(2025, 5, 2, 12, 30, tzinfo=PARIS)
    with app.state.sessionmaker() as session:
        order = session.get(Order, stop.order_id)
        assert order is not None
        order.delivery_windows = [
            {"start": w_["start"], "end": new_end.astimezone(dt.UTC).isoformat()}
            for w_ in order.delivery_windows
        ]
        session.commit()
    moved = next(s for s in eta().stops if s.sequence == stop.sequence)
    assert moved.window_end_at == new_end and stop.window_end_at != new_end
    # A change to the plan (logged, as every change to its visits is): the route
    # that takes the urgent order has it in its ETAs at once.
    urgent = t.order(70, external_id="urgent-70")
    app.state.clock = lambda: now
    try:
        r = t.ok("post", f"/plans/{w.plan['id']}/orders", json={"order_id": urgent["id"]})
    finally:
        del app.state.clock
    assert r["applied"] is True, r
    ids = {
        str(s.order_id)
        for route in w.plan["routes"]
        for s in eta(uuid.UUID(route["id"])).stops
        if s.order_id is not None
    }
    assert urgent["id"] in ids


def test_an_eta_is_answered_again_until_what_it_comes_from_moves(
    app: FastAPI, client: TestClient
) -> None:
    # A fresh plan: this test starts a route, reports on it and changes the plan.
    w = build_world(app, client)
    t = w.tenant
    rid = route_of(w, "d1")["id"]
    other = route_of(w, "d2")["id"]
    runtime = app.state.tracking
    fresh = runtime.recent_etas.fresh
    assert fresh > dt.timedelta(0)  # the default bound
    start = dt.datetime(2025, 5, 2, 9, 0, tzinfo=PARIS)
    clock = {"now": start}
    app.state.clock = lambda: clock["now"]

    def at(answer: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(answer["computed_at"])

    def recomputed(now: dt.datetime) -> RouteEtaOut:
        with app.state.sessionmaker() as session:
            return compute_eta(
                session,
                route_id=uuid.UUID(rid),
                travel_model=runtime.travel_model,
                margin_s=runtime.settings.late_margin_s,
                now=now,
            ).out

    try:
        # A change to the plan (before the vans leave the depot, the urgent order's
        # goods with them): the route that takes the urgent order has it at once.
        before = {r: t.ok("get", f"/routes/{r}/eta") for r in (rid, other)}
        urgent = t.order(71, external_id="urgent-71")
        r = t.ok("post", f"/plans/{w.plan['id']}/orders", json={"order_id": urgent["id"]})
        assert r["applied"] is True, r
        after = {r: t.ok("get", f"/routes/{r}/eta") for r in (rid, other)}
        assert any(urgent["id"] in {s["order_id"] for s in a["stops"]} for a in after.values())
        assert not any(urgent["id"] in {s["order_id"] for s in b["stops"]} for b in before.values())

        t.ok("post", f"/routes/{rid}/start")
        first = t.ok("get", f"/routes/{rid}/eta", "d1")
        assert at(first) == start
        # Nothing it comes from moved, the clock is within the bound: the same
        # answer, which says when it was computed, and is what computing it then gives.
        clock["now"] = start + fresh / 2
        assert t.ok("get", f"/routes/{rid}/eta", "dispatcher") == first
        assert RouteEtaOut.model_validate(first) == recomputed(start)
        # Another margin is another answer.
        other_margin = t.ok("get", f"/routes/{rid}/eta", "d1", params={"margin_s": 0})
        assert other_margin["margin_s"] == 0 and at(other_margin) == clock["now"]
        # Past the bound: computed again.
        clock["now"] = start + fresh + dt.timedelta(seconds=1)
        later = t.ok("get", f"/routes/{rid}/eta", "d1")
        assert at(later) == clock["now"]
        assert RouteEtaOut.model_validate(later) == recomputed(clock["now"])

        # A GPS fix: computed again at once, from the fix.
        clock["now"] += fresh / 4
        fix = {"event_id": "fix-1", "at": clock["now"].isoformat(), "lon": 2.341, "lat": 48.851}
        t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": [fix]})
        moved = t.ok("get", f"/routes/{rid}/eta", "d1")
        assert at(moved) == clock["now"] and moved["origin"] == "position"
        assert moved["position"]["lon"] == 2.341
        assert RouteEtaOut.model_validate(moved) == recomputed(clock["now"])

        # A stop event: computed again at once, the stop done.
        clock["now"] += fresh / 4
        first_stop = next(s for s in moved["stops"] if s["order_id"])
        report = {
            "event_id": "done-1",
            "kind": "delivered",
            "sequence": first_stop["sequence"],
            "at": clock["now"].isoformat(),
        }
        t.ok("post", f"/routes/{rid}/events", "d1", json={"events": [report]})
        done = t.ok("get", f"/routes/{rid}/eta", "d1")
        assert at(done) == clock["now"] and done["done"] == moved["done"] + 1
        assert first_stop["sequence"] not in {s["sequence"] for s in done["stops"]}
        assert RouteEtaOut.model_validate(done) == recomputed(clock["now"])

    finally:
        del app.state.clock


def test_recent_etas_are_kept_per_route_and_margin_within_their_bound() -> None:
    now = dt.datetime(2025, 5, 2, 9, 0, tzinfo=dt.UTC)
    rid = uuid.uuid4()
    out = RouteEtaOut(
        route_id=rid,
        status="started",
        computed_at=now,
        origin="start",
        margin_s=600,
        done=0,
        failed=0,
        remaining=0,
        position=None,
        end_at=None,
        stops=[],
    )
    answer = EtaAnswer.of(out)
    assert RouteEtaOut.model_validate_json(answer.body) == out
    recent = RecentEtas(fresh_s=2.0, size=2)
    recent.put(rid, 600, ("rows", 1), answer)
    assert recent.get(rid, 600, ("rows", 1), now + dt.timedelta(seconds=2)) is answer
    assert recent.get(rid, 600, ("rows", 2), now) is None  # its rows moved
    assert recent.get(rid, 0, ("rows", 1), now) is None  # another margin
    assert recent.get(rid, 600, ("rows", 1), now, "Europe/Paris") is None  # another zone
    assert recent.get(rid, 600, ("rows", 1), now + dt.timedelta(seconds=2.5)) is None
    assert recent.get(rid, 600, ("rows", 1), now - dt.timedelta(seconds=1)) is None
    for _ in range(2):
        recent.put(uuid.uuid4(), 600, ("rows", 1), answer)
    assert len(recent) == 2 and recent.get(rid, 600, ("rows", 1), now) is None
    # A bound of 0 keeps nothing: every request computes.
    never = RecentEtas(fresh_s=0)
    never.put(rid, 600, ("rows", 1), answer)
    assert len(never) == 0 and never.get(rid, 600, ("rows", 1), now) is None
