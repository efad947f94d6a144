"""Re-planning a plan on the road: insert an urgent order, a vehicle breakdown,
re-optimise, and the log of changes.

Each operation holds the plan (:func:`~lastmile.service.replan.context.changing`),
builds its live view (:func:`load_live`), lets the library make the change
(validated before anything is written) and stores it in one commit
(:func:`store`); the answer is a :class:`ReplanOutcome`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from lastmile.domain import Unassigned
from lastmile.exceptions import InputError, SolveError, UnsupportedConstraint
from lastmile.operations import OrderStatus
from lastmile.planning.live import LivePlan
from lastmile.service import naming
from lastmile.service.errors import Conflict, FieldError, NotFound, Unprocessable
from lastmile.service.fleet.models import Vehicle
from lastmile.service.orders.models import Order
from lastmile.service.plans import models as pm
from lastmile.service.plans.solver_options import check_solver_options
from lastmile.service.replan import insertion
from lastmile.service.replan.context import (
    BARE,
    BROKEN_DOWN,
    COMPLETED,
    LiveContext,
    changing,
    live_vehicle_ids,
    load_live,
    reopenable,
)
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.views import LiveViews
from lastmile.service.replan.writeback import Stored, store
from lastmile.service.settings import Settings
from lastmile.service.travel import ServiceTravel

#: What time it is (the request's clock).
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class ReplanOutcome:
    """What a re-planning operation did (``applied`` false: nothing changed, and why)."""

    applied: bool
    summary: str
    #: the change as logged (None when nothing was applied)
    change: PlanChange | None
    cost_before: int
    cost_after: int
    needs_dispatch: bool
    unassigned: list[Unassigned]
    #: the live view's relaxations (what runs late), as messages
    late: list[str]
    #: the routes the change rewrote
    routes: list[pm.Route] = field(default_factory=list)
    #: how people know the unassigned orders, by order id
    order_labels: dict[str, str] = field(default_factory=dict)


class AppliedChange(Protocol):
    """What a change applied to a plan being driven tells (an insertion, a
    breakdown, a re-optimisation, a move)."""

    @property
    def applied(self) -> bool: ...
    @property
    def summary(self) -> str: ...
    @property
    def change(self) -> PlanChange | None: ...
    @property
    def routes(self) -> list[pm.Route]: ...


def live_events(outcome: AppliedChange) -> list[dict[str, Any]]:
    """The live events announcing an applied change: one ``plan`` event per route
    it rewrote (its driver's app reads the route again), and a ``route_status``
    event for each completed route it reopened; none when nothing changed."""
    change = outcome.change
    if not outcome.applied or change is None:
        return []
    reopened = {r["route_id"] for r in (change.detail or {}).get("reopened", [])}
    out: list[dict[str, Any]] = []
    for route in outcome.routes:
        out.append(
            {
                "type": "plan",
                "plan_id": str(change.plan_id),
                "route_id": str(route.id),
                "change_id": str(change.id),
                "kind": change.kind,
                "summary": outcome.summary,
            }
        )
        if str(route.id) in reopened:
            out.append({"type": "route_status", "route_id": str(route.id), "status": route.status})
    return out


def late_messages(session: Session, ctx: LiveContext) -> list[str]:
    """The live view's relaxations as sentences naming the vehicle and the order."""
    relaxations = ctx.live.relaxations
    if not relaxations:
        return []
    vehicles = naming.vehicle_labels(
        session, org_id=ctx.plan.org_id, ids={r.vehicle_id for r in relaxations}
    )
    real = {o.id for o in ctx.problem.orders}
    order_ids = {r.order_id for r in relaxations if r.order_id in real}
    orders = naming.order_labels(session, org_id=ctx.plan.org_id, ids=order_ids)
    out = []
    for r in relaxations:
        message = r.message
        if r.order_id in orders:
            message = message.replace(f"order {r.order_id!r}", orders[r.order_id])
        out.append(f"{vehicles.get(r.vehicle_id, r.vehicle_id)}: {message}")
    return out


def _outcome(
    session: Session,
    plan: pm.Plan,
    *,
    ctx: LiveContext,
    stored: Stored | None,
    summary: str,
    unassigned: list[Unassigned],
) -> ReplanOutcome:
    change = stored.change if stored is not None else None
    return ReplanOutcome(
        applied=stored is not None,
        summary=summary,
        change=change,
        cost_before=change.cost_before if change is not None else plan.cost,
        cost_after=plan.cost,
        needs_dispatch=stored.needs_dispatch if stored is not None else False,
        unassigned=unassigned,
        late=late_messages(session, ctx),
        routes=list(stored.routes) if stored is not None else [],
        order_labels=naming.order_labels(
            session, org_id=plan.org_id, ids=[u.order_id for u in unassigned]
        ),
    )


#: Orders named one by one in a summary; more are counted.
_NAMED = 10


def _listed(session: Session, plan: pm.Plan, order_ids: list[str]) -> str:
    """``: order A (...), order B (...) and 3 more`` (empty for no orders)."""
    if not order_ids:
        return ""
    labels = naming.order_labels(session, org_id=plan.org_id, ids=order_ids[:_NAMED])
    text = ", ".join(labels[i] for i in order_ids[:_NAMED] if i in labels)
    more = len(order_ids) - _NAMED
    return f": {text}" + (f" and {more} more" if more > 0 else "")


def get_plan(session: Session, *, org_id: uuid.UUID, plan_id: uuid.UUID) -> pm.Plan:
    """The organisation's plan (its routes are read by :func:`changing`, once the
    plan is held; their visits only where needed)."""
    plan = session.get(
        pm.Plan, plan_id, options=[lazyload(pm.Plan.routes), lazyload(pm.Plan.unassigned)]
    )
    if plan is None or plan.org_id != org_id:
        raise NotFound("plan not found")
    return plan


def list_changes(session: Session, *, plan: pm.Plan) -> list[PlanChange]:
    """The changes made to ``plan`` while it was driven, oldest first."""
    return list(
        session.scalars(
            select(PlanChange).where(PlanChange.plan_id == plan.id).order_by(PlanChange.created_at)
        )
    )


def plan_order(session: Session, *, plan: pm.Plan, order_id: uuid.UUID) -> Order:
    """The order to insert into ``plan``: the plan's organisation's, pending, on no route."""
    order = session.get(Order, order_id, options=BARE)
    if order is None or order.org_id != plan.org_id:
        raise NotFound("order not found")
    if order.status != OrderStatus.PENDING.value:
        raise Conflict(
            f"{naming.of_order(order)} is {order.status}; only pending orders can be inserted"
        )
    on_route = session.scalar(
        select(pm.Visit.id)
        .join(pm.Route, pm.Route.id == pm.Visit.route_id)
        .where(pm.Visit.order_id == order.id, pm.Route.plan_id == plan.id)
        .limit(1)
    )
    if on_route is not None:
        raise Conflict(f"{naming.of_order(order)} is already on a route of this plan")
    return order


def insert_order(
    session: Session,
    *,
    plan: pm.Plan,
    order_id: uuid.UUID,
    user_id: uuid.UUID | None,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
) -> ReplanOutcome:
    """Insert a pending order into ``plan`` at its cheapest feasible position; when
    no vehicle can take it, nothing changes and the outcome says why."""
    with changing(session, plan=plan, views=views) as plan:
        order = plan_order(session, plan=plan, order_id=order_id)
        ref = naming.of_order(order)
        now = clock()
        if not live_vehicle_ids(session, plan, reopenable(session, plan=plan, now=now)):
            # Every route is closed: no vehicle of this plan is still out today.
            why = Unassigned(
                str(order.id),
                "no vehicle of this plan is still working: every route is broken down, "
                "closed by a dispatcher, or completed with its shift over",
                "shift",
            )
            return ReplanOutcome(
                applied=False,
                summary=f"{ref} fits nowhere: {why.reason}",
                change=None,
                cost_before=plan.cost,
                cost_after=plan.cost,
                needs_dispatch=False,
                unassigned=[why],
                late=[],
                order_labels=naming.order_labels(session, org_id=plan.org_id, ids=[why.order_id]),
            )
        ctx = load_live(
            session,
            plan=plan,
            travel_model=travel_model,
            now=now,
            extra_orders=[order.id],
            views=views,
        )
        result = ctx.live.insert(ctx.order(order.id))
        if not isinstance(result, LivePlan):
            return _outcome(
                session,
                plan,
                ctx=ctx,
                stored=None,
                summary=f"{ref} fits nowhere: {result.reason}",
                unassigned=[result],
            )
        oid = str(order.id)
        route = next(r for r in result.plan.routes if any(v.order_id == oid for v in r.visits))
        # The vehicle's label, and those of the vehicles running late, in one query.
        vehicles = insertion.vehicle_labels(
            session,
            org_id=plan.org_id,
            ids={uuid.UUID(route.vehicle_id)}
            | {uuid.UUID(r.vehicle_id) for r in ctx.live.relaxations},
        )
        summary = (
            f"{ref} inserted on {vehicles[route.vehicle_id]}: "
            f"{naming.cost_change(plan.cost, ctx.cost_of(result.plan))}"
        )
        late = insertion.late_messages(session, ctx, vehicles)
        stored = insertion.store_insertion(
            session,
            ctx=ctx,
            result=result,
            kind="insert_order",
            summary=summary,
            detail={"order_id": str(order.id), "vehicle_id": route.vehicle_id},
            user_id=user_id,
            remember_in=views,
        )
        change = stored.change
        return ReplanOutcome(
            applied=True,
            summary=summary,
            change=change,
            cost_before=change.cost_before,
            cost_after=plan.cost,
            needs_dispatch=stored.needs_dispatch,
            unassigned=[],
            late=late,
            routes=list(stored.routes),
        )


#: Handover of a broken-down vehicle's goods to another vehicle, by default (seconds).
TRANSFER_S = 600


def _hand_over(
    session: Session,
    *,
    ctx: LiveContext,
    vehicle_id: str,
    transfer_s: int,
) -> list[str]:
    """The goods on board broken-down ``vehicle_id`` become shipments picked up from
    it where it stands (``transfer_s`` of handover, from when it stands there),
    delivered as ordered: the orders' rows say so from now on, so the change, the
    drivers' apps and every later re-plan see the same transfer. Returns their ids."""
    pinned = ctx.live.pinned(vehicle_id)
    standing = ctx.live.standing(vehicle_id)
    if not pinned or standing is None:
        return []
    row, ready = standing
    where = ctx.problem.locations[row]
    start = ctx.plan.epoch + dt.timedelta(seconds=ready)
    window = {
        "start": start.isoformat(),
        # Never the binding bound: the delivery's windows and the shifts are.
        "end": (start + dt.timedelta(days=1)).isoformat(),
    }
    van = session.get(Vehicle, uuid.UUID(vehicle_id))
    name = (van.name or van.registration or vehicle_id) if van is not None else vehicle_id
    ids = sorted(pinned)
    for order in session.scalars(
        select(Order).where(Order.id.in_([uuid.UUID(i) for i in ids])).options(*BARE)
    ):
        order.kind = "shipment"
        order.pickup_address = f"handover from {name} (broken down)"
        order.pickup_lon, order.pickup_lat = where.lon, where.lat
        order.pickup_windows = [window]
        order.pickup_service_s = transfer_s
        order.pickup_geocode_confidence = None
        order.pickup_geocoded_address = ""
        order.pickup_needs_review = False
    return ids


def breakdown(
    session: Session,
    *,
    plan: pm.Plan,
    vehicle_id: uuid.UUID,
    user_id: uuid.UUID | None,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
    transfer_s: int | None = TRANSFER_S,
) -> ReplanOutcome:
    """The vehicle broke down: the stops it has not done go to the other vehicles.

    Goods on its board are handed over: each becomes a shipment picked up from
    it where it stands (``transfer_s`` seconds of handover) and delivered as
    ordered, inserted like any other order. With ``transfer_s=None`` they are
    left unassigned (``on_board``) for the dispatcher to arrange. What no
    vehicle can take is unassigned with the reason; its route is
    ``broken_down``."""
    if transfer_s is not None and transfer_s < 0:
        raise Unprocessable(
            "the request is not valid",
            [FieldError(reason=f"must be >= 0, got {transfer_s}", column="transfer_s")],
        )
    with changing(session, plan=plan, views=views) as plan:
        vid = str(vehicle_id)
        label = naming.vehicle_labels(session, org_id=plan.org_id, ids=[vehicle_id])[vid]
        rows = [r for r in plan.routes if str(r.vehicle_id) == vid]
        if not rows:
            raise Unprocessable(
                f"{label} has no route in this plan",
                [FieldError(reason=f"no route of this plan uses {label}", column="vehicle_id")],
            )
        if all(r.status == BROKEN_DOWN for r in rows):
            raise Conflict(f"{label} has already broken down in this plan")
        if all(r.status == COMPLETED for r in rows):
            raise Conflict(f"{label} has completed its route: it has no stops left to move")
        ctx = load_live(session, plan=plan, travel_model=travel_model, now=clock(), views=views)
        before = {u.order_id for u in ctx.live.plan.unassigned}
        result = ctx.live.without_vehicle(vid, transfer_s=transfer_s)
        # Reasons name the vehicles as people know them.
        fresh = [u for u in result.plan.unassigned if u.order_id not in before]
        named = {v.id for v in ctx.problem.vehicles if any(v.id in u.reason for u in fresh)}
        labels = naming.vehicle_labels(session, org_id=plan.org_id, ids=named)

        ids = re.compile(
            r"(?:vehicle )?'?(" + "|".join(map(re.escape, labels)) + r")'?" if labels else "$^"
        )

        def relabel(text: str) -> str:
            return ids.sub(lambda m: labels[m.group(1)], text) if labels else text

        left = [dataclasses.replace(u, reason=relabel(u.reason)) for u in fresh]
        if left:
            renamed = {u.order_id: u for u in left}
            kept = tuple(renamed.get(u.order_id, u) for u in result.plan.unassigned)
            result = LivePlan(
                dataclasses.replace(
                    result.view, plan=dataclasses.replace(result.plan, unassigned=kept)
                )
            )
        remaining = ctx.live.residual_route(vid)
        ahead = {v.order_id for v in remaining.tasks if v.order_id} if remaining else set()
        real = {o.id for o in ctx.problem.orders}
        ahead &= real
        moved = len(ahead - {u.order_id for u in left})
        transfers: list[str] = []
        if transfer_s is not None:
            transfers = _hand_over(session, ctx=ctx, vehicle_id=vid, transfer_s=transfer_s)
        placed = len(set(transfers) - {u.order_id for u in left})
        handed = f" ({placed} handed over where it stands)" if placed else ""
        summary = (
            f"{label} broke down: {moved} stop(s) moved{handed}, {len(left)} left unassigned"
            f"{_listed(session, plan, [u.order_id for u in left])}; "
            f"{naming.cost_change(plan.cost, ctx.cost_of(result.plan))}"
        )
        stored = store(
            session,
            ctx=ctx,
            result=result,
            kind="breakdown",
            summary=summary,
            detail={
                "vehicle_id": vid,
                "unassigned": [u.order_id for u in left],
                "transferred": transfers,
                "transfer_s": transfer_s,
            },
            user_id=user_id,
            broken=vid,
        )
        return _outcome(session, plan, ctx=ctx, stored=stored, summary=summary, unassigned=left)


def _reoptimised(
    ctx: LiveContext, *, time_limit: float, engine: str, workers: int, keep_started: bool
) -> LivePlan | None:
    """The live plan re-optimised, or None when the optimiser kept the current one
    (409 when it failed)."""
    try:
        outcome = ctx.live.reoptimise(
            time_limit=time_limit, engine=engine, workers=workers, keep_started=keep_started
        )
    except (UnsupportedConstraint, SolveError, InputError) as exc:
        raise Conflict(f"re-optimising failed: {exc}") from None
    return None if outcome.kept else outcome.live


def reoptimise(
    session: Session,
    *,
    plan: pm.Plan,
    engine: str,
    time_limit_s: float | None,
    keep_started: bool,
    settings: Settings,
    user_id: uuid.UUID | None,
    travel_model: ServiceTravel,
    clock: Clock,
    views: LiveViews | None,
) -> ReplanOutcome:
    """Plan again everything not yet done, vehicles on the road from where they are;
    the new plan is kept only if the optimiser found a better one."""
    time_limit, errors = check_solver_options(
        engine=engine, time_limit_s=time_limit_s, settings=settings
    )
    if errors:
        raise Unprocessable("the request is not valid", errors)
    with changing(session, plan=plan, views=views) as plan:
        ctx = load_live(session, plan=plan, travel_model=travel_model, now=clock(), views=views)
        result = _reoptimised(
            ctx,
            time_limit=time_limit,
            engine=engine,
            workers=settings.solver_workers,
            keep_started=keep_started,
        )
        if result is None:
            return _outcome(
                session,
                plan,
                ctx=ctx,
                stored=None,
                summary="the current plan is as good as what the optimiser found: kept",
                unassigned=[],
            )
        summary = (
            f"re-optimised ({result.plan.engine}): "
            f"{naming.cost_change(plan.cost, ctx.cost_of(result.plan))}, "
            f"{len(result.plan.unassigned)} unassigned"
            f"{_listed(session, plan, [u.order_id for u in result.plan.unassigned])}"
        )
        stored = store(
            session,
            ctx=ctx,
            result=result,
            kind="reoptimise",
            summary=summary,
            detail={"engine": result.plan.engine, "keep_started": keep_started},
            user_id=user_id,
        )
        return _outcome(session, plan, ctx=ctx, stored=stored, summary=summary, unassigned=[])
