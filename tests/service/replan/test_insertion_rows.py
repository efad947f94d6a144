"""An insertion writes the rows the general write-back writes.

:func:`lastmile.service.replan.insertion.store_insertion` writes an urgent
order's insertion with Core statements; :func:`lastmile.service.replan.writeback.store`
writes any change through the session's unit of work. The same insertion (same
plan, same clock, same view) is stored by each in a transaction of its own,
read back before it is rolled back, and the two compared: plan, routes, visits
(the visits that were there keep their ids), unassigned orders, order statuses,
the logged change and the plan's next version.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.planning.live import LivePlan
from lastmile.service.orders.models import Order
from lastmile.service.plans import models as pm
from lastmile.service.plans import versions
from lastmile.service.replan import insertion, service
from lastmile.service.replan.context import changing, load_live
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.writeback import store

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]

PARIS = dt.timezone(dt.timedelta(hours=2))


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def _rows(session: Session, plan_id: uuid.UUID, kept: set[uuid.UUID]) -> dict[str, Any]:
    """What the plan's rows say (ids of visits not in ``kept`` left out: new rows
    get new ids)."""
    plan = session.execute(
        select(pm.Plan.cost, pm.Plan.distance_m, pm.Plan.travel_s).where(pm.Plan.id == plan_id)
    ).one()
    routes = session.execute(
        select(
            pm.Route.id,
            pm.Route.vehicle_id,
            pm.Route.status,
            pm.Route.cost,
            pm.Route.distance_m,
            pm.Route.travel_s,
            pm.Route.start_at,
            pm.Route.end_at,
        )
        .where(pm.Route.plan_id == plan_id)
        .order_by(pm.Route.position)
    ).all()
    visits = [
        (v.id if v.id in kept else None, *v[1:])
        for v in session.execute(
            select(
                pm.Visit.id,
                pm.Visit.route_id,
                pm.Visit.sequence,
                pm.Visit.kind,
                pm.Visit.order_id,
                pm.Visit.depot_id,
                pm.Visit.break_id,
                pm.Visit.lon,
                pm.Visit.lat,
                pm.Visit.arrival_at,
                pm.Visit.start_at,
                pm.Visit.departure_at,
                pm.Visit.eta_at,
                pm.Visit.load,
                pm.Visit.distance_m,
                pm.Visit.travel_s,
            )
            .join(pm.Route, pm.Route.id == pm.Visit.route_id)
            .where(pm.Route.plan_id == plan_id)
            .order_by(pm.Route.position, pm.Visit.sequence)
        )
    ]
    unassigned = sorted(
        session.execute(
            select(
                pm.UnassignedOrder.order_id, pm.UnassignedOrder.code, pm.UnassignedOrder.reason
            ).where(pm.UnassignedOrder.plan_id == plan_id)
        ).all()
    )
    statuses = sorted(session.execute(select(Order.id, Order.status)).all())
    changes = session.execute(
        select(
            PlanChange.id,
            PlanChange.kind,
            PlanChange.summary,
            PlanChange.detail,
            PlanChange.cost_before,
            PlanChange.cost_after,
            PlanChange.created_by_id,
        ).where(PlanChange.plan_id == plan_id)
    ).all()
    change_ids = {c.id for c in changes}
    versions = [
        (v.number, v.kind, v.summary, v.change_id in change_ids, v.cost, v.routes, v.created_by_id)
        for v in session.execute(
            select(pm.PlanVersion)
            .where(pm.PlanVersion.plan_id == plan_id)
            .order_by(pm.PlanVersion.number)
        ).scalars()
    ]
    # New visits get new ids: the versions name them by order, kind and sequence only.
    return {
        "plan": tuple(plan),
        "routes": [tuple(r) for r in routes],
        "visits": visits,
        "unassigned": unassigned,
        "statuses": statuses,
        "changes": sorted(tuple(c)[1:] for c in changes),
        "versions": versions,
    }


Storer = Callable[..., Any]


def _stored_by(app: FastAPI, plan_id: str, order_id: str, storer: Storer) -> dict[str, Any]:
    """The rows after ``storer`` wrote the order's insertion, read in its transaction
    (then rolled back)."""
    session: Session = app.state.sessionmaker()
    session.commit = session.flush  # type: ignore[method-assign]
    try:
        held = session.get(pm.Plan, uuid.UUID(plan_id))
        assert held is not None
        kept = set(session.scalars(select(pm.Visit.id)))
        with changing(session, plan=held, views=None) as plan:
            order = service.plan_order(session, plan=plan, order_id=uuid.UUID(order_id))
            ctx = load_live(
                session,
                plan=plan,
                travel_model=app.state.travel_model,
                now=app.state.clock(),
                extra_orders=[order.id],
            )
            result = ctx.live.insert(ctx.order(order.id))
            assert isinstance(result, LivePlan)
            storer(
                session,
                ctx=ctx,
                result=result,
                kind="insert_order",
                summary="an urgent order",
                detail={"order_id": order_id},
                user_id=None,
            )
            return _rows(session, plan.id, kept)
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def at_half_past_nine(app: FastAPI) -> Iterator[None]:
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 9, 30, tzinfo=PARIS)
    app.state.clock = lambda: moment
    yield
    del app.state.clock


@pytest.mark.parametrize("delivered", [2, None], ids=["on-the-road", "completed"])
def test_an_insertion_writes_what_the_general_write_back_writes(
    world: World,
    app: FastAPI,
    at_half_past_nine: None,
    monkeypatch: pytest.MonkeyPatch,
    delivered: int | None,
) -> None:
    t = world.tenant
    plan_id = world.plan["id"]
    # The fuller van on the road with two stops done, or all of them (its route
    # completed: out of the live view, in the plan's totals); the other has room.
    route = max(world.plan["routes"], key=lambda r: len(r["visits"]))
    who = next(w for w in ("d1", "d2") if str(t.driver_ids[w]) == route["driver_id"])
    t.ok("post", f"/routes/{route['id']}/start", who)
    jobs = [v for v in route["visits"] if v["order_id"]][:delivered]
    events = [
        {
            "event_id": f"{who}-{k}",
            "kind": "delivered",
            "at": f"{DAY}T09:{4 * k:02d}:00+02:00",
            "sequence": v["sequence"],
        }
        for k, v in enumerate(jobs)
    ]
    t.ok("post", f"/routes/{route['id']}/events", who, json={"events": events})
    status = t.ok("get", f"/routes/{route['id']}")["status"]
    assert status == ("started" if delivered else "completed")
    urgent = t.order(60, external_id="urgent-60")
    fell_back: list[str] = []

    def general(*a: Any, **kw: Any) -> Any:
        fell_back.append(kw["kind"])
        return store(*a, **kw)

    monkeypatch.setattr(insertion, "store", general)
    by_core = _stored_by(app, plan_id, urgent["id"], insertion.store_insertion)
    assert fell_back == []  # the insertion's usual shape: written with Core statements
    by_session = _stored_by(app, plan_id, urgent["id"], store)
    assert len(by_core["changes"]) == 1
    assert len(by_core["versions"]) == 2  # as dispatched, then with the change
    assert any(v[0] is None and v[4] == uuid.UUID(urgent["id"]) for v in by_core["visits"])
    assert by_core == by_session
    # Through the API, the answer shows the rewritten routes as stored.
    answer = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": urgent["id"]})
    assert answer["applied"] is True
    assert fell_back == []
    stored = {r["id"]: r for r in t.ok("get", f"/plans/{plan_id}")["routes"]}
    assert answer["routes"]
    for rewritten in answer["routes"]:
        held = stored[rewritten["id"]]
        for key in ("cost", "distance_m", "travel_s", "start_at", "end_at", "visits"):
            assert rewritten[key] == held[key], key
    assert t.ok("get", f"/orders/{urgent['id']}")["status"] == "dispatched"
    # A second one: its version copies the routes it left alone from the one the
    # first wrote (kept in memory); every route's visits are as stored.
    second = t.order(61, external_id="urgent-61")
    answer = t.ok("post", f"/plans/{plan_id}/orders", json={"order_id": second["id"]})
    assert answer["applied"] is True
    assert fell_back == []
    session: Session = app.state.sessionmaker()
    try:
        plan = session.get(pm.Plan, uuid.UUID(plan_id))
        assert plan is not None
        latest = versions.latest_version(session, plan_id=plan.id)
        assert latest is not None and latest.number == 3
        assert latest.routes == versions.snapshot_routes(session, plan)
    finally:
        session.close()
