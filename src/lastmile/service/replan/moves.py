"""A dispatcher moves an order: looked at first (:func:`preview_move`), then made
(:func:`move_order`).

Both build the plan's live view (:func:`~lastmile.service.replan.context.load_live`)
and ask :meth:`lastmile.planning.live.LivePlan.move` for the move: the order
off the route it is on (or out of the unassigned orders), onto the route asked
for at the position asked for (or the cheapest one the validator accepts), the
whole plan checked by the plan validator. A preview stores nothing. A move is
made only when the validator accepts it, and is stored like every other change
of a plan being driven (:func:`~lastmile.service.replan.writeback.store`: the
routes it touched, the change log, a new plan version once dispatched, the
``plan.changed`` event). A plan with violations cannot be changed again (its
live view would not build), so an infeasible move is refused, never forced.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import Plan as DomainPlan
from lastmile.domain import Route as DomainRoute
from lastmile.exceptions import InputError
from lastmile.operations import OrderStatus
from lastmile.planning.live import LOADED_AT_DEPOT, MoveOutcome
from lastmile.planning.validate import Violation
from lastmile.service import naming
from lastmile.service.errors import Conflict, FieldError, NotFound, Unprocessable
from lastmile.service.orders.models import Order
from lastmile.service.plans import models as pm
from lastmile.service.replan.context import (
    BARE,
    BROKEN_DOWN,
    ON_THE_ROAD,
    LiveContext,
    changing,
    load_live,
    reopenable,
)
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.service import Clock, late_messages
from lastmile.service.replan.views import LiveViews
from lastmile.service.replan.writeback import store
from lastmile.service.tracking.models import StopEvent
from lastmile.service.travel import ServiceTravel

#: Orders in these states are done with: nothing of theirs can move.
_FINISHED = {
    OrderStatus.COMPLETED.value,
    OrderStatus.FAILED.value,
    OrderStatus.CANCELLED.value,
}
#: Routes an order can be moved onto.
_OPEN = ("planned", "dispatched", *ON_THE_ROAD)


@dataclass(frozen=True)
class MoveRequest:
    """What the dispatcher asks: the order, where to (a route or a vehicle), at which
    position among the route's stops (None: the cheapest)."""

    order_id: uuid.UUID
    to_route_id: uuid.UUID | None = None
    to_vehicle_id: uuid.UUID | None = None
    position: int | None = None

    @property
    def target_field(self) -> str:
        return "to_route_id" if self.to_route_id is not None else "to_vehicle_id"


@dataclass(frozen=True)
class MovedStop:
    """A stop whose predicted times the move changes (times as aware datetimes)."""

    order_id: uuid.UUID
    order: str
    kind: str
    position: int
    arrival_at: dt.datetime
    start_at: dt.datetime
    departure_at: dt.datetime
    previous_start_at: dt.datetime | None


@dataclass(frozen=True)
class MovedRoute:
    """A route the move changes."""

    route_id: uuid.UUID | None
    vehicle_id: uuid.UUID
    vehicle: str
    cost_before: int
    cost_after: int
    removed: bool
    stops: list[MovedStop]


@dataclass(frozen=True)
class NamedViolation:
    """A violation of the validator with the vehicles and orders named."""

    code: str
    message: str
    vehicle_id: uuid.UUID | None
    order_id: uuid.UUID | None


@dataclass(frozen=True)
class MoveResult:
    """What a move does (``applied``: it was stored)."""

    feasible: bool
    applied: bool
    summary: str
    violations: list[NamedViolation]
    position: int | None
    cost_before: int
    cost_after: int
    changed_routes: list[MovedRoute]
    late: list[str]
    change: PlanChange | None = None
    needs_dispatch: bool = False
    routes: list[pm.Route] = field(default_factory=list)
    cost_unit: str = naming.COST_UNIT

    @property
    def cost_delta(self) -> int:
        return self.cost_after - self.cost_before


def _uuid(text: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(text) if text else None
    except ValueError:
        return None  # goods on board, a vehicle's place "now": not rows of the database


_QUOTED = re.compile(r"\b(order|vehicle) '([^']+)'")


class _Names:
    """Labels of the orders and vehicles that messages of the library name by id."""

    def __init__(self, session: Session, org_id: uuid.UUID, texts: list[str]) -> None:
        orders: set[uuid.UUID] = set()
        vehicles: set[uuid.UUID] = set()
        for text in texts:
            for what, ident in _QUOTED.findall(text):
                found = _uuid(ident)
                if found is not None:
                    (orders if what == "order" else vehicles).add(found)
        self.labels = {
            "order": naming.order_labels(session, org_id=org_id, ids=orders),
            "vehicle": naming.vehicle_labels(session, org_id=org_id, ids=vehicles),
        }

    def __call__(self, text: str) -> str:
        def one(m: re.Match[str]) -> str:
            return self.labels[m.group(1)].get(m.group(2), m.group(0))

        return _QUOTED.sub(one, text)


def _readable(v: Violation) -> str:
    """The violation's message, the reserved skill of depot goods in plain words."""
    if v.code == "skills" and LOADED_AT_DEPOT in v.message and v.order_id and v.vehicle_id:
        return (
            f"vehicle {v.vehicle_id!r} has left its depot and cannot load order "
            f"{v.order_id!r}, whose goods wait there"
        )
    return v.message


def _target(
    session: Session, plan: pm.Plan, req: MoveRequest, reopened: Collection[uuid.UUID]
) -> str:
    """The id of the vehicle asked for (its route checked when a route is asked for:
    open, or completed with its vehicle free to be sent out again, ``reopened``)."""
    if req.to_route_id is None:
        assert req.to_vehicle_id is not None
        row = next((r for r in plan.routes if r.vehicle_id == req.to_vehicle_id), None)
        if row is None:
            return str(req.to_vehicle_id)  # a vehicle without a route yet
    else:
        row = next((r for r in plan.routes if r.id == req.to_route_id), None)
        if row is None:
            raise Unprocessable(
                "the route is not in this plan",
                [
                    FieldError(
                        reason=f"no route {req.to_route_id} in this plan", column="to_route_id"
                    )
                ],
            )
    if row.status not in _OPEN and row.id not in reopened:
        label = naming.vehicle_labels(session, org_id=plan.org_id, ids=[row.vehicle_id])
        raise Conflict(
            f"the route of {label[str(row.vehicle_id)]} is {row.status}: it takes no more stops"
        )
    return str(row.vehicle_id)


def _movable(session: Session, plan: pm.Plan, order_id: uuid.UUID) -> Order:
    """The order, if nothing about it is final or in progress."""
    order = session.get(Order, order_id, options=BARE)
    if order is None or order.org_id != plan.org_id:
        raise NotFound("order not found")
    ref = naming.of_order(order)
    if order.status in _FINISHED:
        raise Conflict(f"{ref} is {order.status}: it cannot move")
    started = [r.id for r in plan.routes if r.status in ON_THE_ROAD]
    if started:
        last: dict[str, StopEvent] = {}
        for ev in session.scalars(
            select(StopEvent)
            .where(StopEvent.order_id == order.id, StopEvent.route_id.in_(started))
            .order_by(StopEvent.recorded_at)
        ):
            last[ev.stop] = ev
        if any(ev.kind == "arrived" for ev in last.values()):
            raise Conflict(
                f"{ref} is in progress: its driver has arrived at the stop and has not "
                "reported the outcome yet"
            )
    return order


def _at(plan: pm.Plan, t: int) -> dt.datetime:
    return plan.epoch + dt.timedelta(seconds=int(t))


def _stops(
    ctx: LiveContext,
    before: DomainRoute | None,
    after: DomainRoute | None,
    moved: str,
    orders: dict[str, str],
) -> list[MovedStop]:
    """The stops ahead on ``after`` whose start changes, and the moved order's."""
    if after is None:
        return []
    done = ctx.done.get(after.vehicle_id, set())
    old = {(v.order_id, v.kind): v.start for v in (before.tasks if before is not None else ())}
    out = []
    for i, v in enumerate(after.tasks):
        oid = v.order_id
        if oid is None or (oid, v.kind) in done or _uuid(oid) is None:
            continue
        prev = old.get((oid, v.kind))
        if prev == v.start and oid != moved:
            continue
        out.append(
            MovedStop(
                order_id=uuid.UUID(oid),
                order=orders.get(oid, oid),
                kind=v.kind.value,
                position=i,
                arrival_at=_at(ctx.plan, v.arrival),
                start_at=_at(ctx.plan, v.start),
                departure_at=_at(ctx.plan, v.departure),
                previous_start_at=_at(ctx.plan, prev) if prev is not None else None,
            )
        )
    return out


def _route_cost(ctx: LiveContext, route: DomainRoute | None) -> int:
    """``route``'s cost in the plan's totals: a completed route's as written until
    it reopens (:meth:`LiveContext.totals_of`)."""
    if route is None:
        return 0
    return ctx.routes[route.vehicle_id].cost if ctx.kept(route) else route.cost


def _changed_routes(
    session: Session, ctx: LiveContext, outcome: MoveOutcome, moved: str
) -> list[MovedRoute]:
    now: DomainPlan = ctx.live.plan
    after: DomainPlan = outcome.plan
    vids = outcome.move.changed
    vehicles = naming.vehicle_labels(session, org_id=ctx.plan.org_id, ids=vids)
    order_ids = {
        v.order_id
        for vid in vids
        for r in (now.route_of(vid), after.route_of(vid))
        if r is not None
        for v in r.tasks
        if v.order_id is not None and _uuid(v.order_id) is not None
    }
    orders = naming.order_labels(session, org_id=ctx.plan.org_id, ids=order_ids)
    out = []
    for vid in vids:
        old, new = now.route_of(vid), after.route_of(vid)
        row = ctx.routes.get(vid)
        out.append(
            MovedRoute(
                route_id=row.id if row is not None else None,
                vehicle_id=uuid.UUID(vid),
                vehicle=vehicles[vid],
                cost_before=_route_cost(ctx, old),
                cost_after=_route_cost(ctx, new),
                removed=new is None,
                stops=_stops(ctx, old, new, moved, orders),
            )
        )
    return out


def _evaluate(
    session: Session,
    *,
    plan: pm.Plan,
    req: MoveRequest,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
) -> tuple[LiveContext, MoveOutcome, MoveResult]:
    """The move asked for on ``plan``'s live view, and what it gives in words."""
    order = _movable(session, plan, req.order_id)
    now = clock()
    vid = _target(session, plan, req, reopenable(session, plan=plan, now=now))
    ctx = load_live(session, plan=plan, travel_model=travel_model, now=now, views=views)
    oid = str(order.id)
    ref = naming.of_order(order)
    if oid not in {o.id for o in ctx.problem.orders}:
        raise Conflict(f"{ref} is not in this plan: insert it with POST /plans/{plan.id}/orders")
    if vid not in {v.id for v in ctx.problem.vehicles}:
        raise Unprocessable(
            "the vehicle does not take part in this plan",
            [FieldError(reason=f"vehicle {vid} is not one of the plan's", column="to_vehicle_id")],
        )
    try:
        outcome = ctx.live.move(oid, vid, position=req.position)
    except InputError as exc:
        column = req.target_field if exc.where == "vehicle_id" else exc.where
        text = str(exc).removeprefix(f"{exc.where}: ")
        reason = _Names(session, plan.org_id, [text])(text)
        raise Unprocessable(
            f"the order cannot move there: {reason}", [FieldError(reason=reason, column=column)]
        ) from None
    move = outcome.move
    texts = [_readable(v) for v in move.violations]
    vehicles = [f"vehicle {v!r}" for v in (vid, move.from_vehicle) if v is not None]
    names = _Names(session, plan.org_id, [*texts, *vehicles])
    violations = [
        NamedViolation(v.code, names(text), _uuid(v.vehicle_id), _uuid(v.order_id))
        for v, text in zip(move.violations, texts, strict=True)
    ]
    where = names(f"vehicle {vid!r}")
    at = f" at position {move.position}" if move.position is not None else ""
    source = (
        names(f"vehicle {move.from_vehicle!r}") if move.from_vehicle else "the unassigned orders"
    )
    if outcome.ok:
        summary = (
            f"{ref} moved from {source} to {where}{at}: "
            f"{naming.cost_change(plan.cost, ctx.cost_of(outcome.plan))}"
        )
    else:
        summary = (
            f"{ref} cannot move to {where}{at}: {len(violations)} rule(s) of the plan "
            f"broken: " + "; ".join(v.message for v in violations[:3])
        )
    result = MoveResult(
        feasible=outcome.ok,
        applied=False,
        summary=summary,
        violations=violations,
        position=move.position,
        cost_before=plan.cost,
        cost_after=ctx.cost_of(outcome.plan),
        changed_routes=_changed_routes(session, ctx, outcome, oid),
        late=late_messages(session, ctx),
    )
    return ctx, outcome, result


def preview_move(
    session: Session,
    *,
    plan: pm.Plan,
    req: MoveRequest,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
) -> MoveResult:
    """What moving the order would do, with the validator's verdict; nothing is stored."""
    _, _, result = _evaluate(
        session, plan=plan, req=req, travel_model=travel_model, clock=clock, views=views
    )
    return result


def move_order(
    session: Session,
    *,
    plan: pm.Plan,
    req: MoveRequest,
    user_id: uuid.UUID | None,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
) -> MoveResult:
    """Move the order when the validator accepts the move (422 with its violations
    otherwise), stored like every change of a plan being driven."""
    with changing(session, plan=plan, views=views) as held:
        ctx, outcome, result = _evaluate(
            session, plan=held, req=req, travel_model=travel_model, clock=clock, views=views
        )
        if outcome.live is None:
            raise Unprocessable(
                result.summary,
                [
                    FieldError(
                        reason=v.message,
                        column="position" if req.position is not None else req.target_field,
                    )
                    for v in result.violations
                ],
            )
        move = outcome.move
        stored = store(
            session,
            ctx=ctx,
            result=outcome.live,
            kind="move_order",
            summary=result.summary,
            detail={
                "order_id": move.order_id,
                "from_vehicle_id": move.from_vehicle,
                "vehicle_id": move.vehicle_id,
                "position": move.position,
            },
            user_id=user_id,
            remember_in=views,
        )
        return MoveResult(
            feasible=True,
            applied=True,
            summary=result.summary,
            violations=[],
            position=result.position,
            cost_before=stored.change.cost_before,
            cost_after=held.cost,
            changed_routes=result.changed_routes,
            late=result.late,
            change=stored.change,
            needs_dispatch=stored.needs_dispatch,
            routes=[r for r in stored.routes if r.status != BROKEN_DOWN],
        )
