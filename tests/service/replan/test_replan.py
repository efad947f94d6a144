"""Re-planning routes: insert an urgent order, a breakdown, re-optimise.

Each test builds its own dispatched plan (two vans, ten orders, 09:00-18:00
windows in Paris) and sets the app's clock to a moment of that day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.app import create_app

from ..conftest import (  # type: ignore[import-not-found]
    DAY,
    World,
    build_world,
    make_settings,
)

PARIS = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Callable[[int, int], None]]:
    """Set the app's clock to ``h:m`` in Paris on the plan day."""

    def at(h: int, m: int = 0) -> None:
        moment = dt.datetime(DAY.year, DAY.month, DAY.day, h, m, tzinfo=PARIS)
        app.state.clock = lambda: moment

    at(8)
    yield at
    del app.state.clock


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def route_of(plan: dict[str, Any], driver_id: str) -> dict[str, Any]:
    return next(r for r in plan["routes"] if r["driver_id"] == driver_id)


def tasks(route: dict[str, Any]) -> list[str]:
    return [v["order_id"] for v in route["visits"] if v["order_id"]]


def start_and_deliver(world: World, who: str, count: int) -> dict[str, Any]:
    """Driver ``who`` starts their route and delivers its first ``count`` stops."""
    t = world.tenant
    route = route_of(world.plan, str(t.driver_ids[who]))
    t.ok("post", f"/routes/{route['id']}/start", who)
    jobs = [v for v in route["visits"] if v["order_id"]][:count]
    events = [
        {
            "event_id": f"{who}-{k}",
            "kind": "delivered",
            "at": f"{DAY}T09:{10 + 5 * k:02d}:00+02:00",
            "sequence": v["sequence"],
        }
        for k, v in enumerate(jobs)
    ]
    t.ok("post", f"/routes/{route['id']}/events", who, json={"events": events})
    return route


def test_an_urgent_order_joins_the_dispatched_plan(world: World, clock: Any) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    urgent = t.order(50, external_id="urgent-50")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    assert r["change"]["kind"] == "insert_order"
    assert r["cost_after"] >= r["cost_before"]
    on = [rt for rt in r["routes"] if urgent["id"] in tasks(rt)]
    assert len(on) == 1
    assert t.ok("get", f"/orders/{urgent['id']}")["status"] == "dispatched"
    # The route's visits are changed in place: each keeps its id, one is added.
    before = next(rt for rt in world.plan["routes"] if rt["id"] == on[0]["id"])
    after = {v["id"]: v for v in on[0]["visits"]}
    assert {v["id"] for v in before["visits"]} <= set(after)
    (added,) = set(after) - {v["id"] for v in before["visits"]}
    assert after[added]["order_id"] == urgent["id"]
    assert [v["sequence"] for v in on[0]["visits"]] == list(range(len(after)))
    detail = t.ok("get", f"/plans/{plan_id}")
    assert detail["cost"] == r["cost_after"]
    changes = t.ok("get", f"/plans/{plan_id}/changes")
    assert [c["kind"] for c in changes] == ["insert_order"]
    again = t.post(f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert again.status_code == 409
    assert "dispatched" in again.json()["detail"]


def fuller(world: World) -> str:
    """The driver whose van carries more (so the other one has room left)."""
    t = world.tenant
    sizes = {who: len(tasks(route_of(world.plan, str(t.driver_ids[who])))) for who in ("d1", "d2")}
    return max(sizes, key=lambda who: sizes[who])


def test_a_van_on_the_road_takes_no_more_depot_goods(world: World, clock: Any) -> None:
    t = world.tenant
    who = fuller(world)
    d1 = str(t.driver_ids[who])
    route = start_and_deliver(world, who, 2)
    clock(9, 30)
    urgent = t.order(51, external_id="urgent-51")
    r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    # The answer carries the route the change rewrote; the van on the road is not it.
    assert [urgent["id"] in tasks(rt) for rt in r["routes"]] == [True]
    assert r["routes"][0]["driver_id"] != d1
    mine = route_of(t.ok("get", f"/plans/{world.plan['id']}"), d1)
    assert urgent["id"] not in tasks(mine)
    # What the van did stays as it was.
    assert tasks(mine)[:2] == tasks(route)[:2]
    assert t.ok("get", f"/orders/{urgent['id']}")["status"] == "dispatched"
    # A return to collect can go to the van on the road.
    back = t.order(
        52,
        external_id="return-52",
        delivery=None,
        kind="pickup",
        pickup={"lon": 2.31, "lat": 48.84, "service_s": 120},
    )
    r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": back["id"]})
    assert r["applied"] is True, r


def test_an_order_that_fits_nowhere_changes_nothing(world: World, clock: Any) -> None:
    t = world.tenant
    clock(17, 55)
    late = t.order(
        53,
        external_id="too-late",
        delivery={
            "lon": 2.33,
            "lat": 48.86,
            "service_s": 240,
            "time_windows": [{"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T10:00:00+02:00"}],
        },
    )
    before = t.ok("get", f"/plans/{world.plan['id']}")
    r = t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": late["id"]})
    assert r["applied"] is False
    assert r["unassigned"][0]["order_id"] == late["id"]
    assert r["unassigned"][0]["reason"]
    assert t.ok("get", f"/plans/{world.plan['id']}")["cost"] == before["cost"]
    assert t.ok("get", f"/orders/{late['id']}")["status"] == "pending"


def test_a_breakdown_without_transfer_leaves_the_goods_on_board(world: World, clock: Any) -> None:
    t = world.tenant
    d1 = str(t.driver_ids["d1"])
    route = start_and_deliver(world, "d1", 1)
    clock(9, 40)
    vehicle_id = route["vehicle_id"]
    r = t.ok(
        "post",
        f"/plans/{world.plan['id']}/breakdown",
        json={"vehicle_id": vehicle_id, "transfer_s": None},
    )
    assert r["applied"] is True, r
    broken = route_of(r, d1)
    assert broken["status"] == "broken_down"
    assert tasks(broken) == tasks(route)[:1]
    # No transfer asked for: its parcels wait on board, with the reason.
    left = {u["order_id"]: u for u in r["unassigned"]}
    assert set(left) == set(tasks(route)[1:])
    assert {u["code"] for u in left.values()} == {"on_board"}
    # The reason names the van as people know it, not by its id alone.
    assert all("Van " in u["reason"] for u in left.values()), left
    detail = t.ok("get", f"/plans/{world.plan['id']}")
    assert {u["order_id"] for u in detail["unassigned"]} >= set(left)
    refused = t.post(
        f"/plans/{world.plan['id']}/breakdown",
        json={"vehicle_id": world.depot["id"]},
    )
    assert refused.status_code == 422


def test_a_breakdown_hands_the_goods_on_board_over_to_another_van(
    app: FastAPI, world: World, clock: Any
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    d1 = str(t.driver_ids["d1"])
    route = start_and_deliver(world, "d1", 1)
    first = next(v for v in route["visits"] if v["order_id"])
    on_board = tasks(route)[1:]
    assert on_board
    clock(9, 40)
    r = t.ok("post", f"/plans/{plan_id}/breakdown", json={"vehicle_id": route["vehicle_id"]})
    assert r["applied"] is True, r
    assert route_of(r, d1)["status"] == "broken_down"
    # The other van has room and time: it collects every parcel where the broken
    # van stands (its last stop) and delivers it as ordered.
    assert r["unassigned"] == [], r["unassigned"]
    assert f"{len(on_board)} stop(s) moved" in r["summary"], r["summary"]
    detail = t.ok("get", f"/plans/{plan_id}")
    (rescue,) = [rt for rt in detail["routes"] if rt["status"] != "broken_down"]
    pickups = [v for v in rescue["visits"] if v["kind"] == "pickup"]
    assert {v["order_id"] for v in pickups} == set(on_board)
    assert {(v["lon"], v["lat"]) for v in pickups} == {(first["lon"], first["lat"])}
    for oid in on_board:
        order = t.ok("get", f"/orders/{oid}")
        assert order["kind"] == "shipment"
        assert "handover from Van" in order["pickup"]["address"]
        assert order["pickup"]["service_s"] == 600
        ahead = [v["kind"] for v in rescue["visits"] if v["order_id"] == oid]
        assert ahead == ["pickup", "job"] or ahead == ["pickup", "delivery"], ahead
    assert not {u["order_id"] for u in detail["unassigned"]} & set(on_board)

    # The plan as stored, rebuilt from the database, passes the validator.
    from lastmile.planning.validate import validate
    from lastmile.service.plans.models import Plan as PlanRow
    from lastmile.service.replan.context import load_live

    with app.state.sessionmaker() as session:
        row = session.get(PlanRow, uuid.UUID(plan_id))
        live = load_live(
            session, plan=row, travel_model=app.state.travel_model, now=app.state.clock()
        ).live
    report = validate(live.residual, live.residual_plan)
    assert report.ok, report.violations
    served = {v.order_id for rt in live.residual_plan.routes for v in rt.visits}
    assert set(on_board) <= served

    # The other van's driver collects and delivers them.
    other = next(w for w in ("d1", "d2") if str(t.driver_ids[w]) == rescue["driver_id"])
    t.ok("post", f"/routes/{rescue['id']}/start", other)
    oid = on_board[0]
    events = [
        {
            "event_id": "handover-1",
            "kind": "picked_up",
            "at": f"{DAY}T10:00:00+02:00",
            "order_id": oid,
        },
        {
            "event_id": "handover-2",
            "kind": "delivered",
            "at": f"{DAY}T10:30:00+02:00",
            "order_id": oid,
        },
    ]
    t.ok("post", f"/routes/{rescue['id']}/events", other, json={"events": events})
    assert t.ok("get", f"/orders/{oid}")["status"] == "completed"


def test_a_breakdown_says_why_goods_no_van_can_take_stay_behind(world: World, clock: Any) -> None:
    t = world.tenant
    route = start_and_deliver(world, "d1", 1)
    on_board = tasks(route)[1:]
    # A handover so long that nobody can deliver afterwards within the windows
    # (they end at 18:00): the parcels stay behind, each with the reason.
    clock(14, 0)
    r = t.ok(
        "post",
        f"/plans/{world.plan['id']}/breakdown",
        json={"vehicle_id": route["vehicle_id"], "transfer_s": 4 * 3600},
    )
    assert r["applied"] is True, r
    left = {u["order_id"]: u for u in r["unassigned"]}
    assert set(left) == set(on_board)
    for u in left.values():
        assert u["reason"].startswith("moved off vehicle Van "), u
        assert "broke down" in u["reason"] and u["code"] != "on_board", u
        # Why is judged on the vans still working, never the broken one.
        assert u["reason"].count(route["vehicle_id"]) == 1, u


def live_view(app: FastAPI, plan_id: str) -> Any:
    """The plan's live view, rebuilt from the database, checked by the validator."""
    from lastmile.planning.validate import validate
    from lastmile.service.plans.models import Plan as PlanRow
    from lastmile.service.replan.context import load_live

    with app.state.sessionmaker() as session:
        row = session.get(PlanRow, uuid.UUID(plan_id))
        live = load_live(
            session, plan=row, travel_model=app.state.travel_model, now=app.state.clock()
        ).live
    report = validate(live.residual, live.residual_plan)
    assert report.ok, report.violations
    return live


def finish_round(world: World, who: str) -> dict[str, Any]:
    """Driver ``who`` starts their route and delivers every stop (by 09:10 + 5 min a
    stop): the route completes by its stops' outcomes."""
    t = world.tenant
    route = start_and_deliver(world, who, len(tasks(route_of(world.plan, str(t.driver_ids[who])))))
    done = t.ok("get", f"/routes/{route['id']}")
    assert done["status"] == "completed" and done["closed_at"] is None, done
    return done


def test_a_van_back_from_its_round_takes_an_urgent_order_while_its_shift_lasts(
    app: FastAPI, world: World, clock: Any
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    rounds = {who: finish_round(world, who) for who in ("d1", "d2")}
    clock(13, 0)
    urgent = t.order(54, external_id="urgent-54")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    (route,) = r["routes"]
    who = next(w for w in rounds if rounds[w]["id"] == route["id"])
    before = rounds[who]
    # The route reopens: its van drives again, the stops it did are kept as they
    # were (same rows, same recorded times), the new stop comes after them.
    assert route["status"] == "started" and route["completed_at"] is None, route
    assert tasks(route) == [*tasks(before), urgent["id"]]
    old = {v["id"]: v for v in before["visits"] if v["order_id"]}
    for v in route["visits"]:
        if v["id"] in old:
            assert (v["arrival_at"], v["departure_at"]) == (
                old[v["id"]]["arrival_at"],
                old[v["id"]]["departure_at"],
            )
    # It sets off from its depot (back long ago) no earlier than now.
    new = next(v for v in route["visits"] if v["order_id"] == urgent["id"])
    assert dt.datetime.fromisoformat(new["arrival_at"]) > dt.datetime(
        DAY.year, DAY.month, DAY.day, 13, 0, tzinfo=PARIS
    )
    assert route["visits"][-1]["kind"] == "end"
    # The outcomes stay; the new stop has none yet; the order is on its way.
    outcomes = t.ok("get", f"/routes/{route['id']}/outcomes")
    assert [o["outcome"] for o in outcomes] == ["delivered"] * len(tasks(before)) + [None]
    assert t.ok("get", f"/orders/{urgent['id']}")["status"] == "en_route"
    told = [n["event"] for n in t.ok("get", f"/orders/{urgent['id']}/notifications")]
    assert "on_the_way" in told, told
    assert dt.datetime.fromisoformat(route["reopened_at"]) == dt.datetime(
        DAY.year, DAY.month, DAY.day, 13, 0, tzinfo=PARIS
    )
    # Tracking predicts it as re-planning does: from the depot the van went back
    # to (not from the stop it finished last), leaving now.
    eta = t.ok("get", f"/routes/{route['id']}/eta")
    assert eta["status"] == "started" and eta["remaining"] == 1, eta
    assert eta["origin"] == "depot", eta
    ahead = [s for s in eta["stops"] if s["order_id"] == urgent["id"]]
    assert ahead and dt.datetime.fromisoformat(ahead[0]["eta_at"]) >= dt.datetime(
        DAY.year, DAY.month, DAY.day, 13, 0, tzinfo=PARIS
    )
    predicted = dt.datetime.fromisoformat(ahead[0]["eta_at"])
    assert abs(predicted - dt.datetime.fromisoformat(new["arrival_at"])) <= dt.timedelta(
        minutes=1
    ), (ahead, new)
    # The driver's app shows it, with the new stop.
    (mine,) = t.ok("get", "/me/routes", who)
    assert mine["status"] == "started" and tasks(mine)[-1] == urgent["id"]
    # The other van's route is left as it was; the plan's cost adds up.
    other = next(w for w in rounds if w != who)
    plan = t.ok("get", f"/plans/{plan_id}")
    assert route_of(plan, str(t.driver_ids[other]))["status"] == "completed"
    assert plan["cost"] == r["cost_after"] == sum(rt["cost"] for rt in plan["routes"])
    (change,) = t.ok("get", f"/plans/{plan_id}/changes")
    assert (change["cost_before"], change["cost_after"]) == (r["cost_before"], r["cost_after"])
    live = live_view(app, plan_id)
    assert urgent["id"] in {v.order_id for rt in live.residual_plan.routes for v in rt.visits}
    # Planned versus actual still has every stop done, with its outcome.
    pva = t.ok("get", f"/plans/{plan_id}/planned-vs-actual")
    outcome = {s["order_id"]: s["outcome"] for s in pva["stops"]}
    assert all(outcome[o] == "delivered" for o in tasks(before)), outcome
    # The driver delivers it: the route completes again.
    t.ok(
        "post",
        f"/routes/{route['id']}/events",
        who,
        json={
            "events": [
                {
                    "event_id": f"{who}-urgent",
                    "kind": "delivered",
                    "at": f"{DAY}T13:40:00+02:00",
                    "order_id": urgent["id"],
                }
            ]
        },
    )
    assert t.ok("get", f"/routes/{route['id']}")["status"] == "completed"


def test_the_live_stream_hears_of_a_reopened_route(app: FastAPI, world: World, clock: Any) -> None:
    from lastmile.service.replan import service
    from lastmile.service.replan.models import PlanChange

    t = world.tenant
    plan_id = world.plan["id"]
    done = finish_round(world, "d1")
    route = start_and_deliver(world, "d2", 1)
    clock(11, 0)
    r = t.ok("post", f"/plans/{plan_id}/breakdown", json={"vehicle_id": route["vehicle_id"]})
    assert r["applied"] is True, r
    with app.state.sessionmaker() as session:
        change = session.get(PlanChange, uuid.UUID(r["change"]["id"]))
        assert change is not None
        (reopened,) = change.detail["reopened"]
        assert reopened["route_id"] == done["id"]
        assert dt.datetime.fromisoformat(reopened["completed_at"]) == dt.datetime.fromisoformat(
            done["completed_at"]
        )
        rows = [SimpleNamespace(id=uuid.UUID(rt["id"]), status=rt["status"]) for rt in r["routes"]]
        outcome = SimpleNamespace(applied=True, summary=r["summary"], change=change, routes=rows)
        events = service.live_events(outcome)
    statuses = [(e["route_id"], e["status"]) for e in events if e["type"] == "route_status"]
    assert statuses == [(done["id"], "started")]
    assert {e["route_id"] for e in events if e["type"] == "plan"} == {
        rt["id"] for rt in r["routes"]
    }


def test_a_van_back_from_its_round_takes_a_broken_vans_parcels(
    app: FastAPI, world: World, clock: Any
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    d1 = str(t.driver_ids["d1"])
    done = finish_round(world, "d1")
    route = start_and_deliver(world, "d2", 1)
    on_board = tasks(route)[1:]
    clock(11, 0)
    r = t.ok("post", f"/plans/{plan_id}/breakdown", json={"vehicle_id": route["vehicle_id"]})
    assert r["applied"] is True, r
    # The van whose round is over, back at its depot with its shift still open,
    # collects the parcels where the broken van stands and delivers them; the
    # stops it did stay as they were.
    assert r["unassigned"] == [], r["unassigned"]
    after = route_of(t.ok("get", f"/plans/{plan_id}"), d1)
    assert after["status"] == "started"
    assert tasks(after)[: len(tasks(done))] == tasks(done)
    assert set(tasks(after)[len(tasks(done)) :]) == set(on_board)
    kept = {v["id"]: v for v in done["visits"] if v["order_id"]}
    assert all(
        v["arrival_at"] == kept[v["id"]]["arrival_at"] for v in after["visits"] if v["id"] in kept
    )
    before, after_cost = r["cost_before"], r["cost_after"]
    assert f"{before:,} -> {after_cost:,}" in r["summary"], r["summary"]
    live_view(app, plan_id)
    again = t.post(f"/plans/{plan_id}/breakdown", json={"vehicle_id": route["vehicle_id"]})
    assert again.status_code == 409, again.text


def test_a_route_the_dispatcher_closed_takes_no_more_work(
    app: FastAPI, world: World, clock: Any
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    d2 = str(t.driver_ids["d2"])
    done = finish_round(world, "d1")
    closed = start_and_deliver(world, "d2", 1)
    clock(12, 0)
    shut = t.ok("post", f"/routes/{closed['id']}/close", "dispatcher", json={"note": "van needed"})
    assert shut["status"] == "completed"
    clock(13, 0)
    urgent = t.order(55, external_id="urgent-55")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is True, r
    # The van that completed its round takes it, never the one the dispatcher
    # sent home.
    assert [rt["id"] for rt in r["routes"]] == [done["id"]]
    plan = t.ok("get", f"/plans/{plan_id}")
    still = route_of(plan, d2)
    assert still["status"] == "completed" and still["closed_at"] is not None
    assert tasks(still) == tasks(closed)
    live_view(app, plan_id)
    # Once the dispatcher closes the other one too, nothing is left working.
    clock(14, 0)
    t.ok("post", f"/routes/{done['id']}/close", "dispatcher")
    late = t.order(56, external_id="urgent-56")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": late["id"]})
    assert r["applied"] is False, r
    (left,) = r["unassigned"]
    assert "no vehicle of this plan is still working" in left["reason"], left
    assert t.ok("get", f"/orders/{late['id']}")["status"] == "pending"


def test_an_order_fits_nowhere_once_every_round_is_done_and_every_shift_over(
    world: World, clock: Any
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    for who in ("d1", "d2"):
        finish_round(world, who)
    # The shifts end at 20:00.
    clock(19, 0)
    first = t.order(
        57,
        external_id="urgent-57",
        delivery={
            "lon": 2.34,
            "lat": 48.85,
            "service_s": 240,
            "time_windows": [{"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T19:50:00+02:00"}],
        },
    )
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": first["id"]})
    assert r["applied"] is True, r
    (route,) = r["routes"]
    assert route["status"] == "started"
    who = next(w for w in ("d1", "d2") if str(t.driver_ids[w]) == route["driver_id"])
    event = {
        "event_id": f"{who}-57",
        "kind": "delivered",
        "at": f"{DAY}T19:30:00+02:00",
        "order_id": first["id"],
    }
    t.ok("post", f"/routes/{route['id']}/events", who, json={"events": [event]})
    assert t.ok("get", f"/routes/{route['id']}")["status"] == "completed"
    clock(20, 30)
    urgent = t.order(52, external_id="urgent-52")
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert r["applied"] is False, r
    (left,) = r["unassigned"]
    assert left["order_id"] == urgent["id"]
    assert "no vehicle of this plan is still working" in left["reason"], left
    assert "completed with its shift over" in left["reason"], left
    assert "urgent-52" in r["summary"] and "fits nowhere" in r["summary"], r
    assert t.ok("get", f"/orders/{urgent['id']}")["status"] == "pending"


def test_reoptimise_keeps_what_is_done(world: World, clock: Any) -> None:
    t = world.tenant
    d1 = str(t.driver_ids["d1"])
    route = start_and_deliver(world, "d1", 1)
    clock(9, 30)
    r = t.ok(
        "post",
        f"/plans/{world.plan['id']}/reoptimise",
        json={"time_limit_s": 1.0},
    )
    after = route_of(t.ok("get", f"/plans/{world.plan['id']}"), d1)
    assert tasks(after)[0] == tasks(route)[0]
    assert set(tasks(after)) == set(tasks(route))  # its parcels stay on board
    assert r["cost_after"] <= r["cost_before"]
    bad = t.post(
        f"/plans/{world.plan['id']}/reoptimise", json={"time_limit_s": 1e6, "engine": "nope"}
    )
    assert bad.status_code == 422
    assert {e["column"] for e in bad.json()["errors"]} == {"engine", "time_limit_s"}


def test_the_live_view_is_kept_while_nothing_it_depends_on_changes(
    app: FastAPI, world: World, clock: Any
) -> None:
    """Requests reuse the plan's live view until its plan, orders, fleet or stop
    events change, or its time is up; every answer is the same as from a new view."""
    t = world.tenant
    views = app.state.live_views
    plan_id = world.plan["id"]
    n = iter(range(70, 99))

    def insert() -> tuple[int, int]:
        """Insert a new urgent order; (hits, misses) it caused."""
        hits, misses = views.hits, views.misses
        urgent = t.order(next(n))
        r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
        assert r["applied"] is True, r
        plan = t.ok("get", f"/plans/{plan_id}")
        on = [rt for rt in plan["routes"] if urgent["id"] in tasks(rt)]
        assert len(on) == 1 and on[0]["id"] == r["routes"][0]["id"]
        return views.hits - hits, views.misses - misses

    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    clock(8, 0)
    assert insert() == (0, 1)  # built
    assert insert() == (1, 0)  # kept: the insertion's own result
    assert insert() == (1, 0)
    # An order of the plan changes.
    t.ok("post", f"/orders/{world.orders[3]['id']}/cancel")
    assert insert() == (0, 1)
    assert insert() == (1, 0)
    # The fleet changes.
    t.ok("patch", f"/vehicles/{world.vehicles[1]['id']}", json={"max_tasks": 40})
    assert insert() == (0, 1)
    # A stop is reported.
    clock(9, 30)
    assert insert() == (0, 1)  # time moved on past the view's life
    start_and_deliver(world, fuller(world), 1)
    assert insert() == (0, 1)
    assert insert() == (1, 0)
    # The view is not used past its life, nor before it was built.
    clock(9, 31)
    assert insert() == (0, 1)
    clock(9, 20)
    assert insert() == (0, 1)
    # Nothing stored was lost on the way: every order inserted is on exactly one route.
    plan = t.ok("get", f"/plans/{plan_id}")
    served = [o for rt in plan["routes"] for o in tasks(rt)]
    assert len(served) == len(set(served))
    assert world.orders[3]["id"] not in served


def test_an_order_tied_to_a_depot_rebuilds_the_view_with_it(
    app: FastAPI, world: World, clock: Any
) -> None:
    """The kept view's vehicle types know no depot tie yet: such an order is planned
    on a view built with it (not by adding rows), and the next request rebuilds."""
    t = world.tenant
    views = app.state.live_views
    plan_id = world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    clock(8, 0)
    first = t.order(40)
    assert t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": first["id"]})["applied"]
    tied = t.order(41, depot_id=world.depot["id"])
    misses = views.misses
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": tied["id"]})
    assert r["applied"] is True, r
    assert [tied["id"] in tasks(rt) for rt in r["routes"]] == [True]
    assert views.misses == misses  # the kept view was found, then not enough
    later = t.order(42)
    assert t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": later["id"]})["applied"]
    assert views.misses == misses + 1


def test_two_api_processes_see_each_others_changes(
    app: FastAPI, database_url: str, world: World, clock: Any
) -> None:
    """Each process keeps its own views; a change made through one is seen by the
    other (its fingerprint no longer matches), so no change is lost."""
    t = world.tenant
    plan_id = world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    other_app = create_app(make_settings(database_url), geocode=None)
    with TestClient(other_app) as other_client:
        other = dataclasses.replace(t, client=other_client)
        moment = dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=PARIS)
        app.state.clock = other_app.state.clock = lambda: moment
        placed = []
        for k, who in enumerate([t, other, t, other, t]):
            order = t.order(30 + k)
            r = who.ok("post", f"/plans/{plan_id}/orders", json={"order_id": order["id"]})
            assert r["applied"] is True, r
            placed.append(order["id"])
        # Each process rebuilt its view whenever the other had changed the plan.
        assert app.state.live_views.misses >= 3
        assert other_app.state.live_views.misses >= 2
    plan = t.ok("get", f"/plans/{plan_id}")
    served = [o for rt in plan["routes"] for o in tasks(rt)]
    assert len(served) == len(set(served))
    assert set(placed) <= set(served)
    assert {o["id"] for o in world.orders} <= set(served)


def insert_at_once(t: Any, plan_id: str, targets: list[FastAPI], orders: list[str]) -> None:
    """Insert ``orders`` into the plan from one thread per app of ``targets`` (each
    thread its own client), all at once; then check nothing was lost and every
    change started from the plan the previous one left."""
    answers: list[dict[str, Any]] = []

    def insert(target: FastAPI, order_ids: list[str]) -> None:
        client = TestClient(target)  # its own connection pool user
        for oid in order_ids:
            body = {"order_id": oid}
            r = client.post(f"/plans/{plan_id}/orders", headers=t.headers(), json=body)
            assert r.status_code == 200, r.text
            answers.append(r.json())

    n = len(targets)
    threads = [
        threading.Thread(target=insert, args=(target, orders[k::n]))
        for k, target in enumerate(targets)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(answers) == len(orders) and all(a["applied"] for a in answers)
    plan = t.ok("get", f"/plans/{plan_id}")
    served = [o for rt in plan["routes"] for o in tasks(rt)]
    assert len(served) == len(set(served))
    assert set(orders) <= set(served)
    changes = t.ok("get", f"/plans/{plan_id}/changes")
    assert len([c for c in changes if c["kind"] == "insert_order"]) == len(orders)
    # Each change starts from the plan the previous one left.
    ordered = sorted(changes, key=lambda c: c["created_at"])
    for before, after in itertools.pairwise(ordered):
        assert after["cost_before"] == before["cost_after"]


def test_concurrent_inserts_into_one_plan_lose_nothing(
    app: FastAPI, world: World, clock: Any
) -> None:
    """Requests changing one plan at the same time are taken one after the other."""
    t = world.tenant
    plan_id = world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    clock(8, 0)
    orders = [t.order(200 + k)["id"] for k in range(8)]
    insert_at_once(t, plan_id, [app] * 4, orders)


def test_concurrent_inserts_from_two_api_processes_lose_nothing(
    app: FastAPI, database_url: str, world: World, clock: Any
) -> None:
    """Two apps on one database (each with its own process lock and views) change
    one plan at the same time: the database holds them one after the other."""
    t = world.tenant
    plan_id = world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    orders = [t.order(300 + k)["id"] for k in range(8)]
    other_app = create_app(make_settings(database_url), geocode=None)
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=PARIS)
    with TestClient(other_app):
        app.state.clock = other_app.state.clock = lambda: moment
        insert_at_once(t, plan_id, [app, other_app, app, other_app], orders)


def test_reoptimise_on_two_solver_processes_after_the_view_grew(
    app: FastAPI, database_url: str, world: World, clock: Any
) -> None:
    """A view grown by a GPS fix and a new address goes to solver processes
    started from the API's threads (spawned: everything pickled) and back."""
    t = world.tenant
    plan_id = world.plan["id"]
    t.ok("patch", f"/vehicle-types/{world.vehicle_type['id']}", json={"capacity": [60]})
    route = start_and_deliver(world, fuller(world), 1)
    fix = {"event_id": "fix-1", "at": f"{DAY}T09:28:00+02:00", "lon": 2.33, "lat": 48.85}
    t.ok("post", f"/routes/{route['id']}/pings", json={"pings": [fix]})
    other_app = create_app(make_settings(database_url, solver_workers=2), geocode=None)
    with TestClient(other_app) as client:
        other = dataclasses.replace(t, client=client)
        moment = dt.datetime(DAY.year, DAY.month, DAY.day, 9, 30, tzinfo=PARIS)
        other_app.state.clock = lambda: moment
        urgent = t.order(90)
        r = other.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
        assert r["applied"] is True, r
        r = other.ok("post", f"/plans/{plan_id}/reoptimise", json={"time_limit_s": 2.0})
        assert r["cost_after"] <= r["cost_before"]
    plan = t.ok("get", f"/plans/{plan_id}")
    served = [o for rt in plan["routes"] for o in tasks(rt)]
    assert urgent["id"] in served and len(served) == len(set(served))


def test_a_change_after_a_failed_stop_booked_for_another_day_keeps_the_costs(
    world: World, clock: Any
) -> None:
    """A stop failed and booked again for the next day moves its order's windows to
    that day. The started route is still timed from when its van left (it was once
    re-timed around the new windows: the van 'left' the next day, and the route's
    cost came out negative)."""
    t = world.tenant
    plan_id = world.plan["id"]
    route = start_and_deliver(world, "d1", 1)
    second = [v for v in route["visits"] if v["order_id"]][1]
    t.ok(
        "post",
        f"/routes/{route['id']}/events",
        "d1",
        json={
            "events": [
                {
                    "event_id": "d1-absent",
                    "kind": "failed",
                    "at": f"{DAY}T09:30:00+02:00",
                    "sequence": second["sequence"],
                    "reason": "recipient_absent",
                }
            ]
        },
    )
    booked = t.ok("get", f"/orders/{second['order_id']}")
    assert booked["status"] == "pending", booked  # booked again, for another day
    before = t.ok("get", f"/plans/{plan_id}")
    clock(11, 14)
    # A return to collect: the van on the road has room for it.
    window = {"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T18:00:00+02:00"}
    collect = t.ok(
        "post",
        "/orders",
        json={
            "external_id": "return-1",
            "kind": "pickup",
            "pickup": {"lon": 2.33, "lat": 48.84, "service_s": 120, "time_windows": [window]},
            "amount": [1],
        },
        status=201,
    )
    r = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": collect["id"]})
    assert r["applied"] is True, r
    plan = t.ok("get", f"/plans/{plan_id}")
    assert r["cost_before"] == before["cost"]
    assert plan["cost"] == r["cost_after"] == sum(rt["cost"] for rt in plan["routes"])
    assert all(rt["cost"] > 0 for rt in plan["routes"]), plan["routes"]
    started = next(rt for rt in plan["routes"] if rt["id"] == route["id"])
    was = next(rt for rt in before["routes"] if rt["id"] == route["id"])
    assert started["visits"][0]["departure_at"] == was["visits"][0]["departure_at"]
    assert started["cost"] >= was["cost"], (was["cost"], started["cost"])
