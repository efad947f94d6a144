"""Routes: insert an urgent order, a vehicle breakdown, re-optimise, move an order
(POST /plans/{id}/...).

Each route hands the request to :mod:`lastmile.service.replan.service` (moves:
:mod:`lastmile.service.replan.moves`) and shapes its outcome.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from lastmile.domain import Unassigned
from lastmile.service.auth.models import Role
from lastmile.service.db import utcnow
from lastmile.service.deps import (
    CredentialsDep,
    Principal,
    SessionDep,
    SettingsDep,
    StaffUser,
    ensure_role,
    get_principal,
)
from lastmile.service.plans.models import Plan
from lastmile.service.plans.schemas import RouteOut, UnassignedOut
from lastmile.service.replan import moves, service
from lastmile.service.replan.schemas import (
    BreakdownIn,
    InsertOrderIn,
    MovedRouteOut,
    MoveIn,
    MoveOut,
    PlanChangeOut,
    ReoptimiseIn,
    ReplanOut,
    ViolationOut,
)
from lastmile.service.replan.views import LiveViews
from lastmile.service.tracking.runtime import TrackingRuntime
from lastmile.service.travel import ServiceTravel

router = APIRouter(tags=["re-planning"])


def plan_dep(plan_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Plan:
    """The caller's plan."""
    return service.get_plan(session, org_id=user.org_id, plan_id=plan_id)


async def get_clock(request: Request) -> Callable[[], dt.datetime]:
    """What time it is (``app.state.clock`` when set: simulations and tests)."""
    clock: Callable[[], dt.datetime] = getattr(request.app.state, "clock", utcnow)
    return clock


async def get_travel_model(request: Request) -> ServiceTravel:
    """The process's travel (:mod:`lastmile.service.travel`)."""
    model: ServiceTravel = request.app.state.travel_model
    return model


async def get_live_views(request: Request) -> LiveViews | None:
    views: LiveViews | None = getattr(request.app.state, "live_views", None)
    return views


async def held_plan(
    plan_id: uuid.UUID, request: Request, credentials: CredentialsDep
) -> AsyncIterator[tuple[Principal, Plan, Session]]:
    """The caller (admins and dispatchers), their plan, and the session it was read
    in, in one thread hop instead of one per dependency (401, 403 and 404 as
    :data:`PlanDep`). The request's work closes the session in its own hop."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield await run_in_threadpool(_staff_plan, session, credentials, plan_id)
    finally:
        session.close()  # closed already, unless the request failed in between


def _staff_plan(
    session: Session, credentials: HTTPAuthorizationCredentials | None, plan_id: uuid.UUID
) -> tuple[Principal, Plan, Session]:
    try:
        user = ensure_role(get_principal(session, credentials), Role.ADMIN, Role.DISPATCHER)
        return user, service.get_plan(session, org_id=user.org_id, plan_id=plan_id), session
    except BaseException:
        session.close()
        raise


PlanDep = Annotated[Plan, Depends(plan_dep)]
HeldPlanDep = Annotated[tuple[Principal, Plan, Session], Depends(held_plan)]
ViewsDep = Annotated[LiveViews | None, Depends(get_live_views)]
ClockDep = Annotated[Callable[[], dt.datetime], Depends(get_clock)]
TravelDep = Annotated[ServiceTravel, Depends(get_travel_model)]


def _announce(
    request: Request, background: BackgroundTasks, plan: Plan, outcome: service.AppliedChange
) -> None:
    """Tell the live stream (dashboards, the routes' drivers) which routes an
    applied change rewrote, after the answer."""
    _publish(request, background, plan.org_id, service.live_events(outcome))


def _publish(
    request: Request, background: BackgroundTasks, org_id: uuid.UUID, events: list[dict[str, Any]]
) -> None:
    runtime: TrackingRuntime | None = getattr(request.app.state, "tracking", None)
    if runtime is not None and events:
        background.add_task(runtime.publish, org_id, events)


def _unassigned_out(items: list[Unassigned], labels: dict[str, str]) -> list[UnassignedOut]:
    return [
        UnassignedOut(
            order_id=uuid.UUID(u.order_id),
            order=labels.get(u.order_id, ""),
            code=u.code,
            reason=u.reason,
        )
        for u in items
    ]


def _answer(outcome: service.ReplanOutcome) -> ReplanOut:
    change = outcome.change
    return ReplanOut(
        applied=outcome.applied,
        summary=outcome.summary,
        change=PlanChangeOut.model_validate(change) if change is not None else None,
        cost_before=outcome.cost_before,
        cost_after=outcome.cost_after,
        needs_dispatch=outcome.needs_dispatch,
        unassigned=_unassigned_out(outcome.unassigned, outcome.order_labels),
        late=outcome.late,
        routes=[RouteOut.model_validate(r) for r in outcome.routes],
    )


@router.post("/plans/{plan_id}/orders", response_model=ReplanOut)
async def insert_order(
    body: InsertOrderIn,
    held: HeldPlanDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
    request: Request,
    background: BackgroundTasks,
) -> ReplanOut:
    """Insert a pending order into the plan at its cheapest feasible position.

    Vehicles on the road take it from where they are, with what they carry
    (one that has left its depot takes no goods from the depot); what each
    vehicle has done is never changed. When no vehicle can take it, nothing
    changes and the answer says why (``applied: false``).
    """
    user, plan, session = held
    org_id = plan.org_id

    def insert() -> tuple[ReplanOut, list[dict[str, Any]]]:
        try:
            outcome = service.insert_order(
                session,
                plan=plan,
                order_id=body.order_id,
                user_id=user.user_id,
                travel_model=travel,
                clock=clock,
                views=views,
            )
            return _answer(outcome), service.live_events(outcome)
        finally:
            session.close()

    answer, events = await run_in_threadpool(insert)
    _publish(request, background, org_id, events)
    return answer


@router.post("/plans/{plan_id}/breakdown", response_model=ReplanOut)
def breakdown(
    body: BreakdownIn,
    plan: PlanDep,
    user: StaffUser,
    session: SessionDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
    request: Request,
    background: BackgroundTasks,
) -> ReplanOut:
    """A vehicle broke down: the stops it has not done go to the other vehicles.

    Orders not yet on board are inserted one by one (tightest deadline first).
    Goods on board are handed over: each becomes a shipment picked up from the
    broken vehicle where it stands (``transfer_s`` seconds of handover) and
    delivered as ordered, inserted the same way; with ``transfer_s: null``
    they are listed as unassigned (code ``on_board``) for the dispatcher to
    arrange. What no vehicle can take is unassigned with the reason. The
    vehicle's route keeps what it did and is marked ``broken_down``.
    """
    outcome = service.breakdown(
        session,
        plan=plan,
        vehicle_id=body.vehicle_id,
        transfer_s=body.transfer_s,
        user_id=user.user_id,
        travel_model=travel,
        clock=clock,
        views=views,
    )
    _announce(request, background, plan, outcome)
    return _answer(outcome)


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
    request: Request,
    background: BackgroundTasks,
) -> ReplanOut:
    """Plan again everything not yet done, vehicles on the road from where they are.

    Runs the optimiser for ``time_limit_s`` within the request. The new plan
    is kept only if it leaves fewer orders unassigned, or as many at a lower
    cost (``applied`` says which).
    """
    outcome = service.reoptimise(
        session,
        plan=plan,
        engine=body.engine,
        time_limit_s=body.time_limit_s,
        keep_started=body.keep_started,
        settings=settings,
        user_id=user.user_id,
        travel_model=travel,
        clock=clock,
        views=views,
    )
    _announce(request, background, plan, outcome)
    return _answer(outcome)


def _move_request(body: MoveIn) -> moves.MoveRequest:
    return moves.MoveRequest(
        order_id=body.order_id,
        to_route_id=body.to_route_id,
        to_vehicle_id=body.to_vehicle_id,
        position=body.position,
    )


def _move_answer(result: moves.MoveResult) -> MoveOut:
    change = result.change
    return MoveOut(
        feasible=result.feasible,
        applied=result.applied,
        summary=result.summary,
        violations=[ViolationOut.model_validate(v) for v in result.violations],
        position=result.position,
        cost_before=result.cost_before,
        cost_after=result.cost_after,
        cost_delta=result.cost_delta,
        cost_unit=result.cost_unit,
        changed_routes=[MovedRouteOut.model_validate(r) for r in result.changed_routes],
        late=result.late,
        change=PlanChangeOut.model_validate(change) if change is not None else None,
        needs_dispatch=result.needs_dispatch,
        routes=[RouteOut.model_validate(r) for r in result.routes],
    )


@router.post("/plans/{plan_id}/moves/preview", response_model=MoveOut)
def preview_move(
    body: MoveIn,
    plan: PlanDep,
    session: SessionDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
) -> MoveOut:
    """What moving an order to a route (at a position, or the cheapest) would do.

    The plan's validator checks the plan after the move: ``feasible`` and the
    ``violations`` it finds, naming vehicles and orders. The answer gives the
    plan's cost before and after, the routes that change and the new predicted
    times of their stops. Nothing is stored.
    """
    result = moves.preview_move(
        session,
        plan=plan,
        req=_move_request(body),
        travel_model=travel,
        clock=clock,
        views=views,
    )
    return _move_answer(result)


@router.post("/plans/{plan_id}/moves", response_model=MoveOut)
def move_order(
    body: MoveIn,
    plan: PlanDep,
    user: StaffUser,
    session: SessionDep,
    clock: ClockDep,
    travel: TravelDep,
    views: ViewsDep,
    request: Request,
    background: BackgroundTasks,
) -> MoveOut:
    """Move an order to a route, at a position or the cheapest one.

    Made only when the plan's validator accepts it (422 with its violations
    otherwise), and stored like every change of a plan being driven: the
    routes it touched, the change log, a new version of a dispatched plan and
    the ``plan.changed`` event. An order served, failed, cancelled or whose
    stop is in progress does not move (409).
    """
    result = moves.move_order(
        session,
        plan=plan,
        req=_move_request(body),
        user_id=user.user_id,
        travel_model=travel,
        clock=clock,
        views=views,
    )
    _announce(request, background, plan, result)
    return _move_answer(result)


@router.get("/plans/{plan_id}/changes", response_model=list[PlanChangeOut])
def list_changes(plan: PlanDep, session: SessionDep) -> list[PlanChangeOut]:
    """The changes made to the plan while it was driven, oldest first."""
    return [PlanChangeOut.model_validate(r) for r in service.list_changes(session, plan=plan)]
