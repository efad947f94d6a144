"""An urgent order's insertion written back into a plan's rows, in one commit.

What :func:`~lastmile.service.replan.writeback.store` writes, for the usual
shape of an insertion: the order goes onto routes the plan already has (no
route added or dropped) and the plan's unassigned orders stay as they are.
The visits behind the new stop are compared with their rows and written in one
``executemany`` (a SQLAlchemy Core statement), the new stop inserted the same
way, the routes, the plan, the logged change and the plan's next version
written with one Core statement each (the version copies the routes the change
left alone from the previous version, kept in memory when this process wrote
it). The rows held in the session are given their new values as committed (so
the answer and the version read them, and the session's unit of work has
nothing of them to flush). The order's status still moves through the session:
the outbox turns that into its webhooks and customer messages. Any other shape
goes through :func:`~lastmile.service.replan.writeback.store`.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter, OrderedDict
from typing import Any, cast

from sqlalchemy import Table, Uuid, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from lastmile.domain import Route
from lastmile.operations import OrderEvent, OrderStatus
from lastmile.planning.live import LivePlan
from lastmile.service import naming
from lastmile.service.db import utcnow
from lastmile.service.fleet.models import Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event
from lastmile.service.plans import models as pm
from lastmile.service.plans import versions
from lastmile.service.replan.context import (
    BARE,
    LiveContext,
    remember,
)
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.views import LiveViews
from lastmile.service.replan.writeback import (
    _TARGET,
    Stored,
    _advance,
    announce_change,
    match_visits,
    reopened_detail,
    reopening,
    store,
)

_VISITS = cast(Table, pm.Visit.__table__)
_ROUTES = cast(Table, pm.Route.__table__)
_PLANS = cast(Table, pm.Plan.__table__)
_CHANGES = cast(Table, PlanChange.__table__)
_VERSIONS = cast(Table, pm.PlanVersion.__table__)

#: The visit columns a change can move (the others say what the visit is).
_MOVABLE = (
    "sequence",
    "lon",
    "lat",
    "load",
    "distance_m",
    "travel_s",
    "arrival_at",
    "start_at",
    "departure_at",
    "eta_at",
)
#: Every movable column of a visit, by its id, in one ``executemany``.
_UPDATE_VISITS = update(_VISITS).where(_VISITS.c.id == bindparam("visit_id", type_=Uuid))
_DELETE_VISITS = delete(_VISITS).where(
    _VISITS.c.id.in_(bindparam("visit_ids", expanding=True, type_=Uuid))
)
#: The orders among some ids that are planned or dispatched.
_PLACED_AMONG = select(Order.id).where(
    Order.id.in_(bindparam("order_ids", expanding=True, type_=Uuid)),
    Order.status.in_([OrderStatus.PLANNED.value, OrderStatus.DISPATCHED.value]),
)
#: What :func:`naming.vehicle_labels` and :func:`naming.order_labels` read, as
#: statements built once.
_VEHICLE_NAMES = select(Vehicle.id, Vehicle.name, Vehicle.registration).where(
    Vehicle.org_id == bindparam("org_id", type_=Uuid),
    Vehicle.id.in_(bindparam("ids", expanding=True, type_=Uuid)),
)
_ORDER_NAMES = select(Order.id, Order.external_id, Order.customer_name).where(
    Order.org_id == bindparam("org_id", type_=Uuid),
    Order.id.in_(bindparam("ids", expanding=True, type_=Uuid)),
)
#: Ids bound in one statement at most.
_CHUNK = 500
_LATEST_VERSION = (
    select(_VERSIONS.c.id, _VERSIONS.c.number)
    .where(_VERSIONS.c.plan_id == bindparam("plan_id", type_=Uuid))
    .order_by(_VERSIONS.c.number.desc())
    .limit(1)
)
_VERSION_ROUTES = select(_VERSIONS.c.routes).where(
    _VERSIONS.c.id == bindparam("version_id", type_=Uuid)
)


def _among(session: Session, statement: Any, ids: list[uuid.UUID], **params: Any) -> list[Any]:
    """``statement``'s rows for ``ids`` (bound as ``ids``), a chunk at a time."""
    connection = session.connection()
    rows: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        rows += connection.execute(statement, {**params, "ids": ids[start : start + _CHUNK]})
    return rows


def vehicle_labels(session: Session, *, org_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[str, str]:
    """:func:`naming.vehicle_labels`, on the session's connection."""
    rows = _among(session, _VEHICLE_NAMES, sorted(ids), org_id=org_id)
    found = {str(i): naming.vehicle_label(i, name=n, registration=r) for i, n, r in rows}
    return {str(i): found.get(str(i), naming.vehicle_label(i)) for i in ids}


def late_messages(session: Session, ctx: LiveContext, vehicles: dict[str, str]) -> list[str]:
    """:func:`lastmile.service.replan.service.late_messages` with the vehicles'
    labels known (``vehicles``, by id as text, every vehicle running late among
    them), the orders' read on the session's connection."""
    relaxations = ctx.live.relaxations
    if not relaxations:
        return []
    real = {o.id for o in ctx.problem.orders}
    wanted = sorted({uuid.UUID(r.order_id) for r in relaxations if r.order_id in real})
    rows = _among(session, _ORDER_NAMES, wanted, org_id=ctx.plan.org_id)
    found = {str(i): naming.order_label(i, external_id=e, customer=c) for i, e, c in rows}
    orders = {str(i): found.get(str(i), naming.order_label(i)) for i in wanted}
    out = []
    for r in relaxations:
        message = r.message
        if r.order_id in orders:
            message = message.replace(f"order {r.order_id!r}", orders[r.order_id])
        out.append(f"{vehicles.get(r.vehicle_id, r.vehicle_id)}: {message}")
    return out


def _unassigned_kept(ctx: LiveContext, result: LivePlan) -> bool:
    """Whether the plan's unassigned orders, with their codes and reasons, are as
    the change leaves them (then none of their rows is written)."""
    wanted = [(u.order_id, u.code, u.reason) for u in result.plan.unassigned]
    wanted += [(str(oid), code, reason) for oid, (code, reason) in ctx.snapshot.set_aside.items()]
    held = [(str(r.order_id), r.code, r.reason) for r in ctx.plan.unassigned]
    return len(wanted) == len(held) and Counter(wanted) == Counter(held)


def _touched(ctx: LiveContext, result: LivePlan) -> list[tuple[pm.Route, Route]] | None:
    """The routes the change rewrote, with their rows; None when it added a route or
    dropped one (not an insertion's usual shape)."""
    by_vehicle = {r.vehicle_id: r for r in result.plan.routes}
    out = []
    for vid, route in by_vehicle.items():
        row = ctx.routes.get(vid)
        if row is None:
            return None
        if ctx.live.plan.route_of(vid) != route and not ctx.kept(route):
            out.append((row, route))
    for vid, row in ctx.routes.items():
        if vid not in by_vehicle and row.status in ("planned", "dispatched"):
            return None
    return out


def _commit_values(row: Any, values: dict[str, Any]) -> None:
    """Give a row held in the session ``values`` as written (nothing left to flush)."""
    for name, value in values.items():
        set_committed_value(row, name, value)


def _write_route(
    session: Session,
    ctx: LiveContext,
    result: LivePlan,
    row: pm.Route,
    route: Route,
    target_of: dict[uuid.UUID, OrderStatus],
) -> dt.datetime | None:
    """Write ``route``'s visits into ``row``'s: matched to the rows they were, only
    those that moved written, new ones inserted, rows left over deleted. A
    completed route given stops reopens (:func:`reopening`): returns when it
    had completed then, else None."""
    plan, problem = ctx.plan, result.problem
    epoch = plan.epoch

    def at(t: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=int(t))

    matched, left = match_visits(ctx, problem, row, route, at)
    again = reopening(row, matched, ctx.now)
    completed_at = row.completed_at if again else None
    if again:
        # Set first: the orders joining it move as for a route on the road.
        _commit_values(row, again)
    visits: list[pm.Visit] = []
    changed: list[tuple[pm.Visit, dict[str, Any]]] = []
    added: list[pm.Visit] = []
    for m in matched:
        visit = m.row
        if visit is None:
            visit = pm.Visit(
                id=uuid.uuid4(),
                org_id=plan.org_id,
                route_id=row.id,
                kind=m.kind,
                order_id=m.order_id,
                depot_id=m.depot_id,
                break_id=m.break_id,
                **m.values,
            )
            added.append(visit)
            if m.order_id is not None and not m.behind:
                # Orders already on the route moved with it (dispatch, start).
                target_of[m.order_id] = _TARGET.get(row.status, OrderStatus.PLANNED)
        else:
            moved = {
                name: value for name, value in m.values.items() if getattr(visit, name) != value
            }
            if moved:
                changed.append((visit, moved))
        visits.append(visit)
    connection = session.connection()
    if changed:
        connection.execute(
            _UPDATE_VISITS,
            [
                {"visit_id": visit.id, **{name: getattr(visit, name) for name in _MOVABLE}, **moved}
                for visit, moved in changed
            ],
        )
    if added:
        connection.execute(
            insert(_VISITS),
            [
                {c.key: getattr(visit, c.key) for c in pm.Visit.__mapper__.column_attrs}
                for visit in added
            ],
        )
    if left:
        connection.execute(_DELETE_VISITS, {"visit_ids": [old.id for old in left]})
    for visit, moved in changed:
        _commit_values(visit, moved)
    for visit in added:
        make_transient_to_detached(visit)
        session.add(visit)  # held as the row it now is: nothing to insert
    for old in left:
        session.expunge(old)
    set_committed_value(row, "visits", visits)
    route_values = {
        "cost": route.cost,
        "distance_m": route.distance,
        "travel_s": route.travel,
        "start_at": at(route.start_time),
        "end_at": at(route.end_time),
    }
    route_moved = {k: v for k, v in route_values.items() if getattr(row, k) != v}
    route_moved |= again
    if route_moved:
        connection.execute(update(_ROUTES).where(_ROUTES.c.id == row.id).values(route_moved))
        _commit_values(row, route_moved)
    return completed_at


class _KeptVersions:
    """The latest version each plan was given here (its id and routes), so the next
    one copies the routes a change left alone without reading the version again.
    A version never changes once written: one kept is used only while the plan's
    latest version has its id."""

    def __init__(self, size: int = 32) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[uuid.UUID, tuple[uuid.UUID, list[dict[str, Any]]]] = OrderedDict()

    def get(self, plan_id: uuid.UUID, version_id: uuid.UUID) -> list[dict[str, Any]] | None:
        with self._lock:
            held = self._kept.get(plan_id)
            if held is None or held[0] != version_id:
                return None
            self._kept.move_to_end(plan_id)
            return held[1]

    def put(self, plan_id: uuid.UUID, version_id: uuid.UUID, routes: list[dict[str, Any]]) -> None:
        with self._lock:
            self._kept[plan_id] = (version_id, routes)
            self._kept.move_to_end(plan_id)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)


_KEPT_VERSIONS = _KeptVersions()


def _record_version(
    session: Session, *, plan: pm.Plan, kind: str, summary: str, change: PlanChange
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """The plan's next version (:func:`versions.record_version` with
    ``untouched_as_latest``), read and written as plain columns; its id and routes."""
    connection = session.connection()
    latest = connection.execute(_LATEST_VERSION, {"plan_id": plan.id}).first()
    known: dict[str, list[dict[str, Any]]] = {}
    if latest is not None:
        before = _KEPT_VERSIONS.get(plan.id, latest.id)
        if before is None:
            before = connection.execute(_VERSION_ROUTES, {"version_id": latest.id}).scalar_one()
        known = {r["route_id"]: r["visits"] for r in before}
    version_id = uuid.uuid4()
    routes = versions.snapshot_routes(session, plan, known=known)
    connection.execute(
        insert(_VERSIONS).values(
            id=version_id,
            org_id=plan.org_id,
            plan_id=plan.id,
            number=(latest.number + 1) if latest is not None else 1,
            kind=kind,
            summary=summary,
            change_id=change.id,
            cost=plan.cost,
            routes=routes,
            created_by_id=change.created_by_id,
            created_at=utcnow(),
        )
    )
    return version_id, routes


def store_insertion(
    session: Session,
    *,
    ctx: LiveContext,
    result: LivePlan,
    kind: str,
    summary: str,
    detail: dict[str, Any],
    user_id: uuid.UUID | None,
    remember_in: LiveViews | None = None,
) -> Stored:
    """Write ``result`` (an insertion validated by the library) into the plan's
    rows, in one commit, as :func:`~lastmile.service.replan.writeback.store` does."""
    touched = _touched(ctx, result)
    if touched is None or not _unassigned_kept(ctx, result):
        return store(
            session,
            ctx=ctx,
            result=result,
            kind=kind,
            summary=summary,
            detail=detail,
            user_id=user_id,
            remember_in=remember_in,
        )
    plan, full = ctx.plan, result.plan
    before = plan.cost
    # Figured before the rows change (a completed route given stops reopens).
    cost, distance, travel = ctx.totals_of(full)
    target_of: dict[uuid.UUID, OrderStatus] = {}
    reopened: list[tuple[pm.Route, dt.datetime | None]] = []
    for row, route in touched:
        was = row.status
        completed_at = _write_route(session, ctx, result, row, route, target_of)
        if row.status != was:
            reopened.append((row, completed_at))
    unassigned = list(full.unassigned)
    unassigned_ids = {uuid.UUID(u.order_id) for u in unassigned}
    # Unassigned orders change only when planned or dispatched (usually none of
    # them): their statuses are read first, and only the orders that move loaded.
    to_unplan: set[uuid.UUID] = set()
    if unassigned_ids - set(target_of):
        connection = session.connection()
        asked = sorted(unassigned_ids - set(target_of))
        for start in range(0, len(asked), _CHUNK):
            chunk = asked[start : start + _CHUNK]
            to_unplan |= set(connection.scalars(_PLACED_AMONG, {"order_ids": chunk}))
    ids = set(target_of) | to_unplan
    # The inserted order is held by the session already (no query for it).
    moving = [o for o in (session.get(Order, i, options=BARE) for i in sorted(ids)) if o]
    for order in moving:
        if order.id in target_of:
            _advance(order, target_of[order.id])
        elif order.status in (OrderStatus.PLANNED.value, OrderStatus.DISPATCHED.value):
            apply_event(order, OrderEvent.UNPLAN)
    # Completed routes as written, the others as the change left them.
    after = cost
    totals = {"cost": cost, "distance_m": distance, "travel_s": travel}
    connection = session.connection()
    connection.execute(update(_PLANS).where(_PLANS.c.id == plan.id).values(totals))
    _commit_values(plan, totals)
    change = PlanChange(
        id=uuid.uuid4(),
        org_id=plan.org_id,
        plan_id=plan.id,
        kind=kind,
        summary=summary,
        detail={
            **detail,
            "relaxations": [r.message for r in result.relaxations],
            **reopened_detail(reopened),
        },
        cost_before=before,
        cost_after=after,
        created_by_id=user_id,
        created_at=utcnow(),
    )
    connection.execute(
        insert(_CHANGES),
        {c.key: getattr(change, c.key) for c in PlanChange.__mapper__.column_attrs},
    )
    make_transient_to_detached(change)
    session.add(change)  # held as the row it now is: nothing to insert
    if plan.status == "dispatched":
        # The plan as dispatched stays as it was; the change is its next version.
        version = _record_version(session, plan=plan, kind=kind, summary=summary, change=change)
    else:
        version = None
    announce_change(session, plan=plan, change=change, before=before, after=after)
    session.commit()
    if version is not None:
        _KEPT_VERSIONS.put(plan.id, *version)
    if remember_in is not None:
        remember(views=remember_in, ctx=ctx, result=result)
    return Stored(change, False, unassigned, [row for row, _ in touched])
