"""Routes: insert an urgent order, a vehicle breakdown, re-optimise (POST /plans/{id}/...).

Each rebuilds the live view from the database, lets the library make the
change (validated before anything is written) and stores it in one commit.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from lastmile.domain import Unassigned
from lastmile.exceptions import InputError, SolveError, UnsupportedConstraint
from lastmile.planning.engines import REGISTRY
from lastmile.planning.live import LivePlan
from lastmile.service.db import utcnow
from lastmile.service.deps import SessionDep, SettingsDep, StaffUser
from lastmile.service.errors import Conflict, FieldError, NotFound, Unprocessable
from lastmile.service.plans.models import Plan
from lastmile.service.plans.schemas import RouteOut, UnassignedOut
from lastmile.service.replan import service
from lastmile.service.replan.models import PlanChange
from lastmile.service.replan.schemas import (
    BreakdownIn,
    InsertOrderIn,
    PlanChangeOut,
    ReoptimiseIn,
    ReplanOut,
)
from lastmile.service.replan.views import LiveViews
from lastmile.travel import TravelModel

router = APIRouter(tags=["re-planning"])


def plan_dep(plan_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Plan:
    """The caller's plan (its routes are read by :func:`service.changing`, once
    the plan is held; their visits only where needed)."""
    plan = session.get(Plan, plan_id, options=[lazyload(Plan.routes), lazyload(Plan.unassigned)])
    if plan is None or plan.org_id != user.org_id:
        raise NotFound("plan not found")
    return plan


def get_clock(request: Request) -> Callable[[], dt.datetime]:
    """What time it is (``app.state.clock`` when set: simulations and tests)."""
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return clock


def get_travel_model(request: Request) -> TravelModel:
    model: TravelModel = request.app.state.travel_model
    return model


def get_live_views(request: Request) -> LiveViews | None:
    views: LiveViews | None = getattr(request.app.state, "live_views", None)
    return views


PlanDep = Annotated[Plan, Depends(plan_dep)]
ViewsDep = Annotated[LiveViews | None, Depends(get_live_views)]
ClockDep = Annotated[Callable[[], dt.datetime], Depends(get_clock)]
TravelDep = Annotated[TravelModel, Depends(get_travel_model)]


def _unassigned_out(items: list[Unassigned]) -> list[UnassignedOut]:
    return [
        UnassignedOut(order_id=uuid.UUID(u.order_id), code=u.code, reason=u.reason) for u in items
    ]


def _answer(
    session: SessionDep,
    plan: Plan,
    *,
    ctx: service.LiveContext,
    stored: service.Stored | None,
    summary: str,
    unassigned: list[Unassigned],
) -> ReplanOut:
    change = stored.change if stored is not None else None
    return ReplanOut(
        applied=stored is not None,
        summary=summary,
        change=PlanChangeOut.model_validate(change) if change is not None else None,
        cost_before=change.cost_before if change is not None else plan.cost,
        cost_after=plan.cost,
        needs_dispatch=stored.needs_dispatch if stored is not None else False,
        unassigned=_unassigned_out(unassigned),
        late=[r.message for r in ctx.live.relaxations],
        routes=[RouteOut.model_validate(r) for r in stored.routes] if stored is not None else [],
    )


@router.post("/plans/{plan_id}/orders", response_model=ReplanOut)
def insert_order(
    body: InsertOrderIn,
    plan: PlanDep,
    user: StaffUser,
    session: SessionDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
) -> ReplanOut:
    """Insert a pending order into the plan at its cheapest feasible position.

    Vehicles on the road take it from where they are, with what they carry
    (one that has left its depot takes no goods from the depot); what each
    vehicle has done is never changed. When no vehicle can take it, nothing
    changes and the answer says why (``applied: false``).
    """
    with service.changing(session, plan=plan, views=views) as plan:
        order = service.plan_order(session, plan=plan, order_id=body.order_id)
        ctx = service.load_live(
            session,
            plan=plan,
            travel_model=travel,
            now=clock(),
            extra_orders=[order.id],
            views=views,
        )
        result = ctx.live.insert(ctx.order(order.id))
        ref = order.external_id or str(order.id)
        if not isinstance(result, LivePlan):
            return _answer(
                session,
                plan,
                ctx=ctx,
                stored=None,
                summary=f"order {ref} fits nowhere: {result.reason}",
                unassigned=[result],
            )
        oid = str(order.id)
        route = next(r for r in result.plan.routes if any(v.order_id == oid for v in r.visits))
        added = result.plan.cost - ctx.live.plan.cost
        summary = f"order {ref} inserted on vehicle {route.vehicle_id} (cost +{added})"
        stored = service.store(
            session,
            ctx=ctx,
            result=result,
            kind="insert_order",
            summary=summary,
            detail={"order_id": str(order.id), "vehicle_id": route.vehicle_id},
            user_id=user.user_id,
            remember_in=views,
        )
        return _answer(session, plan, ctx=ctx, stored=stored, summary=summary, unassigned=[])


@router.post("/plans/{plan_id}/breakdown", response_model=ReplanOut)
def breakdown(
    body: BreakdownIn,
    plan: PlanDep,
    user: StaffUser,
    session: SessionDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
) -> ReplanOut:
    """A vehicle broke down: the stops it has not done go to the other vehicles.

    Orders not yet on board are inserted one by one (tightest deadline first).
    Goods on board the broken vehicle cannot move by themselves: they are
    listed as unassigned (code ``on_board``) for the dispatcher to arrange a
    transfer. The vehicle's route keeps what it did and is marked
    ``broken_down``.
    """
    with service.changing(session, plan=plan, views=views) as plan:
        vid = str(body.vehicle_id)
        if not any(str(r.vehicle_id) == vid for r in plan.routes):
            raise Unprocessable(
                "the vehicle has no route in this plan",
                [FieldError(reason="no route of this plan uses it", column="vehicle_id")],
            )
        ctx = service.load_live(session, plan=plan, travel_model=travel, now=clock(), views=views)
        before = {u.order_id for u in ctx.live.plan.unassigned}
        result = ctx.live.without_vehicle(vid)
        left = [u for u in result.plan.unassigned if u.order_id not in before]
        remaining = ctx.live.residual_route(vid)
        ahead = {v.order_id for v in remaining.tasks if v.order_id} if remaining else set()
        real = {o.id for o in ctx.problem.orders}
        ahead &= real
        moved = len(ahead - {u.order_id for u in left})
        summary = f"vehicle {vid} broke down: {moved} stop(s) moved, {len(left)} left unassigned"
        stored = service.store(
            session,
            ctx=ctx,
            result=result,
            kind="breakdown",
            summary=summary,
            detail={"vehicle_id": vid, "unassigned": [u.order_id for u in left]},
            user_id=user.user_id,
            broken=vid,
        )
        return _answer(session, plan, ctx=ctx, stored=stored, summary=summary, unassigned=left)


@router.post("/plans/{plan_id}/reoptimise", response_model=ReplanOut)
def reoptimise(
    body: ReoptimiseIn,
    plan: PlanDep,
    user: StaffUser,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
) -> ReplanOut:
    """Plan again everything not yet done, vehicles on the road from where they are.

    Runs the optimiser for ``time_limit_s`` within the request. The new plan
    is kept only if it leaves fewer orders unassigned, or as many at a lower
    cost (``applied`` says which).
    """
    errors: list[FieldError] = []
    if body.engine != "auto" and body.engine not in REGISTRY:
        known = ", ".join(["auto", *REGISTRY])
        errors.append(FieldError(reason=f"unknown engine; choose one of: {known}", column="engine"))
    time_limit = body.time_limit_s or settings.default_time_limit_s
    if time_limit > settings.max_time_limit_s:
        errors.append(
            FieldError(
                reason=f"at most {settings.max_time_limit_s:g} s on this service",
                column="time_limit_s",
            )
        )
    if errors:
        raise Unprocessable("the request is not valid", errors)
    with service.changing(session, plan=plan, views=views) as plan:
        ctx = service.load_live(session, plan=plan, travel_model=travel, now=clock(), views=views)
        try:
            outcome = ctx.live.reoptimise(
                time_limit=time_limit,
                engine=body.engine,
                workers=settings.solver_workers,
                keep_started=body.keep_started,
            )
        except (UnsupportedConstraint, SolveError, InputError) as exc:
            raise Conflict(f"re-optimising failed: {exc}") from None
        result = outcome.live
        if outcome.kept:
            return _answer(
                session,
                plan,
                ctx=ctx,
                stored=None,
                summary="the current plan is as good as what the optimiser found: kept",
                unassigned=[],
            )
        summary = (
            f"re-optimised ({result.plan.engine}): "
            f"cost {ctx.live.plan.cost} -> {result.plan.cost}, "
            f"{len(result.plan.unassigned)} unassigned"
        )
        stored = service.store(
            session,
            ctx=ctx,
            result=result,
            kind="reoptimise",
            summary=summary,
            detail={"engine": result.plan.engine, "keep_started": body.keep_started},
            user_id=user.user_id,
        )
        return _answer(session, plan, ctx=ctx, stored=stored, summary=summary, unassigned=[])


@router.get("/plans/{plan_id}/changes", response_model=list[PlanChangeOut])
def list_changes(plan: PlanDep, session: SessionDep) -> list[PlanChangeOut]:
    """The changes made to the plan while it was driven, oldest first."""
    rows = session.scalars(
        select(PlanChange).where(PlanChange.plan_id == plan.id).order_by(PlanChange.created_at)
    )
    return [PlanChangeOut.model_validate(r) for r in rows]
