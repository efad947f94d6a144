"""A validated change written back into a plan's rows, in one commit.

Only the routes the change touched are rewritten (visits matched to the rows
they were, changed in place); unassigned orders and order statuses follow, the
change is logged as a :class:`PlanChange` and announced (``plan.changed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import Route, Unassigned, VisitKind
from lastmile.operations import OrderEvent, OrderStatus
from lastmile.planning.live import LivePlan
from lastmile.planning.problem import PlanningProblem
from lastmile.service.db import utcnow
from lastmile.service.events import publish
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event
from lastmile.service.plans import models as pm
from lastmile.service.plans import versions
from lastmile.service.replan.context import (
    BARE,
    BROKEN_DOWN,
    COMPLETED,
    ON_THE_ROAD,
    REOPENED,
    LiveContext,
    remember,
)
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.views import LiveViews

_TARGET = {
    "planned": OrderStatus.PLANNED,
    "dispatched": OrderStatus.DISPATCHED,
    "started": OrderStatus.EN_ROUTE,
}
_STEPS = {
    OrderStatus.PENDING: OrderEvent.PLAN,
    OrderStatus.PLANNED: OrderEvent.DISPATCH,
    OrderStatus.DISPATCHED: OrderEvent.START,
}
_RANK = [OrderStatus.PENDING, OrderStatus.PLANNED, OrderStatus.DISPATCHED, OrderStatus.EN_ROUTE]


@dataclass(frozen=True)
class VisitRow:
    """One visit of a rewritten route, as its row must be: ``row`` is the row it
    was (None: a new visit), ``values`` what it holds now (times left out for
    what already happened, ``behind``)."""

    row: pm.Visit | None
    values: dict[str, Any]
    kind: str
    order_id: uuid.UUID | None
    depot_id: uuid.UUID | None
    break_id: str | None
    behind: bool


def match_visits(
    ctx: LiveContext,
    problem: PlanningProblem,
    row: pm.Route,
    route: Route,
    at: Callable[[int], dt.datetime],
) -> tuple[list[VisitRow], list[pm.Visit]]:
    """``route``'s visits matched to the rows of ``row`` they were (by kind, order,
    break and depot), and the rows left over (to delete)."""
    snapshot = ctx.snapshot
    pool: dict[tuple[Any, ...], list[pm.Visit]] = defaultdict(list)
    for old in row.visits:
        pool[(old.kind, old.order_id, old.break_id, old.depot_id)].append(old)
    keep_times = ctx.done.get(route.vehicle_id, set())
    out: list[VisitRow] = []
    for seq, v in enumerate(route.visits):
        loc = problem.locations[v.location]
        order_id = uuid.UUID(v.order_id) if v.order_id else None
        depot_id = snapshot.depot_ids[v.depot] if v.depot is not None else None
        same = pool.get((v.kind.value, order_id, v.break_id, depot_id))
        visit = same.pop(0) if same else None
        # A completed route in the live view left its depot too.
        behind = v.kind is VisitKind.START and row.status in (*ON_THE_ROAD, COMPLETED)
        behind |= v.order_id is not None and (v.order_id, v.kind) in keep_times
        values: dict[str, Any] = {
            "sequence": seq,
            "lon": loc.lon,
            "lat": loc.lat,
            "load": list(v.load),
            "distance_m": v.distance,
            "travel_s": v.travel,
        }
        if not behind or visit is None:
            # What already happened keeps its recorded times.
            values |= {
                "arrival_at": at(v.arrival),
                "start_at": at(v.start),
                "departure_at": at(v.departure),
                "eta_at": at(v.arrival),
            }
        out.append(VisitRow(visit, values, v.kind.value, order_id, depot_id, v.break_id, behind))
    return out, [old for olds in pool.values() for old in olds]


def reopening(row: pm.Route, matched: list[VisitRow], now: dt.datetime) -> dict[str, Any]:
    """The route's new status when ``matched`` gives its completed route stops
    ahead (its vehicle drives again: :data:`REOPENED`, no longer completed), as
    column values; empty when it stays as it is. The stops it did keep their
    outcomes (stop events) and recorded times."""
    if row.status != COMPLETED or row.closed_at is not None:
        return {}
    if not any(m.order_id is not None and not m.behind for m in matched):
        return {}
    return {"status": REOPENED, "completed_at": None, "reopened_at": now}


def reopened_detail(reopened: list[tuple[pm.Route, dt.datetime | None]]) -> dict[str, Any]:
    """What a change's log says of the completed routes it reopened: each route
    and when it had completed."""
    if not reopened:
        return {}
    return {
        "reopened": [
            {"route_id": str(row.id), "completed_at": done.isoformat() if done else None}
            for row, done in reopened
        ]
    }


def announce_change(
    session: Session, *, plan: pm.Plan, change: PlanChange, before: int, after: int
) -> None:
    """Publish ``plan.changed`` for ``change`` (sent with the commit)."""
    publish(
        session,
        org_id=plan.org_id,
        event_type="plan.changed",
        data={
            "plan_id": str(plan.id),
            "change_id": str(change.id),
            "kind": change.kind,
            "summary": change.summary,
            "cost_before": before,
            "cost_after": after,
        },
    )


def _advance(order: Order, target: OrderStatus) -> None:
    """Move a pending/planned/dispatched order up to ``target`` (never back)."""
    status = OrderStatus(order.status)
    while status in _STEPS and status in _RANK and _RANK.index(status) < _RANK.index(target):
        apply_event(order, _STEPS[status])
        status = OrderStatus(order.status)


@dataclass
class Stored:
    """What :func:`store` wrote: the logged change, whether new routes await dispatch,
    the orders left unassigned and the routes rewritten."""

    change: PlanChange
    needs_dispatch: bool
    unassigned: list[Unassigned]
    #: the routes the change rewrote (added, changed, broken down)
    routes: list[pm.Route] = field(default_factory=list)


def store(
    session: Session,
    *,
    ctx: LiveContext,
    result: LivePlan,
    kind: str,
    summary: str,
    detail: dict[str, Any],
    user_id: uuid.UUID | None,
    broken: str | None = None,
    remember_in: LiveViews | None = None,
) -> Stored:
    """Write ``result`` (validated by the library) into the plan's rows, in one commit.

    Only routes the change touched are rewritten. With ``remember_in``, ``result``
    is kept there as the plan's live view for the next request.
    """
    plan, snapshot = ctx.plan, ctx.snapshot
    problem = result.problem
    epoch = plan.epoch
    full = result.plan

    def at(t: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=int(t))

    before = plan.cost
    # Figured before the rows change (a completed route given stops reopens).
    totals = ctx.totals_of(full)
    by_vehicle = {r.vehicle_id: r for r in full.routes}
    next_position = max((r.position for r in plan.routes), default=-1) + 1
    needs_dispatch = False
    target_of: dict[uuid.UUID, OrderStatus] = {}
    rewritten: list[pm.Route] = []
    reopened: list[tuple[pm.Route, dt.datetime | None]] = []
    for vid, route in by_vehicle.items():
        row = ctx.routes.get(vid)
        if row is not None and vid != broken and ctx.live.plan.route_of(vid) == route:
            continue  # untouched by the change: its rows stay as they are
        if vid != broken and ctx.kept(route):
            continue  # a completed route given nothing new stays as it was
        if row is None:
            row = pm.Route(
                id=uuid.uuid4(),
                org_id=plan.org_id,
                plan_id=plan.id,
                position=next_position,
                vehicle_id=uuid.UUID(vid),
                status="planned",
                start_at=at(route.start_time),
                end_at=at(route.end_time),
            )
            next_position += 1
            plan.routes.append(row)
            needs_dispatch |= plan.status == "dispatched"
        # Visits are matched to the rows they were and changed in place (ids stay;
        # only what moved is written); a row left over is deleted.
        matched, _ = match_visits(ctx, problem, row, route, at)
        again = reopening(row, matched, ctx.now)
        if again:
            reopened.append((row, row.completed_at))
            for name, value in again.items():
                setattr(row, name, value)
        visits: list[pm.Visit] = []
        for m in matched:
            visit = m.row
            if visit is None:
                visit = pm.Visit(
                    org_id=plan.org_id,
                    kind=m.kind,
                    order_id=m.order_id,
                    depot_id=m.depot_id,
                    break_id=m.break_id,
                    **m.values,
                )
                if m.order_id is not None and not m.behind:
                    # Orders already on the route moved with it (dispatch, start).
                    target_of[m.order_id] = _TARGET.get(row.status, OrderStatus.PLANNED)
            else:
                for name, value in m.values.items():
                    if getattr(visit, name) != value:
                        setattr(visit, name, value)
            visits.append(visit)
        row.visits = visits
        row.cost, row.distance_m, row.travel_s = route.cost, route.distance, route.travel
        row.start_at, row.end_at = at(route.start_time), at(route.end_time)
        if vid == broken:
            row.status = BROKEN_DOWN
        rewritten.append(row)
    for vid, row in ctx.routes.items():
        if vid in by_vehicle:
            continue
        if vid == broken:
            # Kept in the plan for people to see, with the stops it did (the
            # others went to other vehicles or are unassigned).
            did = ctx.done.get(vid, set())
            row.visits = [
                kept
                for kept in row.visits
                if (kept.kind == VisitKind.START.value and row.status in ON_THE_ROAD)
                or (kept.order_id is not None and (str(kept.order_id), VisitKind(kept.kind)) in did)
            ]
            for seq, kept in enumerate(row.visits):
                kept.sequence = seq
            row.status = BROKEN_DOWN
            rewritten.append(row)
        elif row.status in ("planned", "dispatched"):
            plan.routes.remove(row)
    unassigned = list(full.unassigned)
    wanted = [(uuid.UUID(u.order_id), u.code, u.reason) for u in unassigned]
    wanted += [(oid, code, reason) for oid, (code, reason) in snapshot.set_aside.items()]
    # Rows matched by order and changed in place: an insertion usually leaves the
    # plan's unassigned orders as they were, and then writes none of them.
    stored: dict[uuid.UUID, list[pm.UnassignedOrder]] = defaultdict(list)
    for old_row in plan.unassigned:
        stored[old_row.order_id].append(old_row)
    unassigned_rows: list[pm.UnassignedOrder] = []
    for order_id, code, reason in wanted:
        earlier = stored.get(order_id)
        if earlier:
            left_out = earlier.pop(0)
            if (left_out.code, left_out.reason) != (code, reason):
                left_out.code, left_out.reason = code, reason
        else:
            left_out = pm.UnassignedOrder(
                org_id=plan.org_id, order_id=order_id, code=code, reason=reason
            )
        unassigned_rows.append(left_out)
    plan.unassigned = unassigned_rows
    unassigned_ids = {uuid.UUID(u.order_id) for u in unassigned}
    # Unassigned orders change only when planned or dispatched (usually none of
    # them): their statuses are read first, and only the orders that move loaded.
    to_unplan = set()
    if unassigned_ids - set(target_of):
        to_unplan = set(
            session.scalars(
                select(Order.id).where(
                    Order.id.in_(unassigned_ids - set(target_of)),
                    Order.status.in_([OrderStatus.PLANNED.value, OrderStatus.DISPATCHED.value]),
                )
            )
        )
    ids = set(target_of) | to_unplan
    moving = session.scalars(select(Order).where(Order.id.in_(ids)).options(*BARE)) if ids else ()
    for order in moving:
        if order.id in target_of:
            _advance(order, target_of[order.id])
        elif order.status in (OrderStatus.PLANNED.value, OrderStatus.DISPATCHED.value):
            apply_event(order, OrderEvent.UNPLAN)
    # Completed routes as written, the others as the change left them.
    after = totals[0]
    plan.cost, plan.distance_m, plan.travel_s = totals
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
    session.add(change)
    if plan.status == "dispatched":
        # The plan as dispatched stays as it was; the change is its next version.
        session.flush()
        versions.record_version(
            session,
            plan=plan,
            kind=kind,
            summary=summary,
            change_id=change.id,
            user_id=user_id,
            untouched_as_latest=True,
        )
    announce_change(session, plan=plan, change=change, before=before, after=after)
    session.commit()
    if remember_in is not None:
        remember(views=remember_in, ctx=ctx, result=result)
    return Stored(change, needs_dispatch, unassigned, rewritten)
