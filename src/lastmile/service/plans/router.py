"""Routes: /plans (optimise, follow, cancel, dispatch), /routes and /me/routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from lastmile.service.deps import CurrentUser, PageDep, SessionDep, SettingsDep, StaffUser
from lastmile.service.errors import Forbidden
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.service import get_org
from lastmile.service.plans import service, versions
from lastmile.service.plans.answers import route_answers, unassigned_answers
from lastmile.service.plans.jobs import JobRunner
from lastmile.service.plans.models import Plan, PlanningJob, Route
from lastmile.service.plans.schemas import (
    DispatchRequest,
    JobOut,
    LoadingListOut,
    PlanCreate,
    PlanDetail,
    PlannedVsActualOut,
    PlanOut,
    PlanVersionDetail,
    PlanVersionOut,
    RouteOut,
)
from lastmile.service.schemas import MAX_INT

router = APIRouter(tags=["plans"])


async def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.job_runner
    return runner


def org_dep(user: StaffUser, session: SessionDep) -> Organisation:
    return get_org(session, org_id=user.org_id)


def plan_dep(plan_id: uuid.UUID, user: StaffUser, session: SessionDep) -> Plan:
    return service.get_plan(session, org_id=user.org_id, plan_id=plan_id)


def route_dep(route_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Route:
    return service.get_route(session, principal=user, route_id=route_id)


RunnerDep = Annotated[JobRunner, Depends(get_runner)]
OrgDep = Annotated[Organisation, Depends(org_dep)]
PlanDep = Annotated[Plan, Depends(plan_dep)]
RouteDep = Annotated[Route, Depends(route_dep)]


def _job_out(session: SessionDep, job: PlanningJob | None) -> JobOut | None:
    if job is None:
        return None
    out = JobOut.model_validate(job)
    out.queue_position = service.queue_position(session, job=job)
    return out


def _plan_out(session: SessionDep, plan: Plan) -> PlanOut:
    out = PlanOut.model_validate(plan, from_attributes=True)
    job = service.get_job(session, plan=plan)
    out.job = _job_out(session, job)
    out.travel_model = service.travel_model_of(job)
    return out


def _plan_detail(session: SessionDep, plan: Plan) -> PlanDetail:
    plan, job = service.plan_detail(session, plan=plan)
    return PlanDetail(
        **PlanOut.model_validate(plan, from_attributes=True).model_dump(
            exclude={"job", "travel_model"}
        ),
        job=_job_out(session, job),
        travel_model=service.travel_model_of(job),
        routes=[RouteOut.model_validate(r) for r in plan.routes],
        unassigned=unassigned_answers(session, plan),
    )


@router.post("/plans", response_model=PlanOut, status_code=status.HTTP_202_ACCEPTED)
def create_plan(
    body: PlanCreate,
    user: StaffUser,
    org: OrgDep,
    session: SessionDep,
    settings: SettingsDep,
    runner: RunnerDep,
) -> PlanOut:
    """Start optimising a day: answers at once with the plan and its queued job.

    The job waits in the queue every API process and worker shares; a free
    planning slot starts it (organisations take turns). Follow progress with
    GET /plans/{plan_id}/job; the routes appear in GET /plans/{plan_id} when the
    job has succeeded.
    """
    plan, job = service.create_plan(
        session, org=org, data=body, settings=settings, created_by_id=user.user_id
    )
    runner.submit(job.id)
    return _plan_out(session, plan)


@router.get("/plans", response_model=list[PlanOut])
def list_plans(user: StaffUser, session: SessionDep, page: PageDep) -> list[PlanOut]:
    """Plans, newest first (without routes)."""
    rows = service.list_plans(session, org_id=user.org_id, limit=page.limit, offset=page.offset)
    return [_plan_out(session, p) for p in rows]


@router.get("/plans/{plan_id}", response_model=PlanDetail)
def read_plan(plan: PlanDep, session: SessionDep) -> PlanDetail:
    """A plan with its routes, timed visits (ETAs) and unassigned orders with reasons."""
    return _plan_detail(session, plan)


@router.get("/plans/{plan_id}/job", response_model=JobOut)
def read_job(plan: PlanDep, session: SessionDep) -> JobOut:
    """Progress of the plan's optimisation job; while it waits, its place in the queue."""
    job = _job_out(session, service.get_job(session, plan=plan))
    assert job is not None
    return job


@router.post("/plans/{plan_id}/cancel", response_model=JobOut)
def cancel_plan(plan: PlanDep, session: SessionDep, runner: RunnerDep) -> JobOut:
    """Cancel the plan's optimisation (409 if it has already ended)."""
    job = service.request_cancel(session, plan=plan)
    runner.cancel(job.id)
    out = _job_out(session, job)
    assert out is not None
    return out


@router.post("/plans/{plan_id}/dispatch", response_model=PlanDetail)
def dispatch_plan(body: DispatchRequest, plan: PlanDep, session: SessionDep) -> PlanDetail:
    """Give each route a driver (explicitly, or from the shifts) and release it.

    Orders on the routes become dispatched. Calling again re-assigns drivers.
    """
    return _plan_detail(session, service.dispatch_plan(session, plan=plan, request=body))


@router.get("/plans/{plan_id}/versions", response_model=list[PlanVersionOut])
def list_versions(plan: PlanDep, session: SessionDep) -> list[PlanVersionOut]:
    """The plan's versions: 1 is the plan as dispatched (never changed); each
    later change on the road (insertion, breakdown, re-optimisation, re-dispatch)
    adds one."""
    return [PlanVersionOut.model_validate(v) for v in versions.list_versions(session, plan=plan)]


@router.get("/plans/{plan_id}/versions/{number}", response_model=PlanVersionDetail)
def read_version(
    number: Annotated[int, Path(ge=1, le=MAX_INT, description="The version (1 = as dispatched).")],
    plan: PlanDep,
    session: SessionDep,
) -> PlanVersionDetail:
    """One version with its routes and timed visits as they stood."""
    return PlanVersionDetail.model_validate(versions.get_version(session, plan=plan, number=number))


@router.get("/plans/{plan_id}/planned-vs-actual", response_model=PlannedVsActualOut)
def planned_vs_actual(plan: PlanDep, session: SessionDep) -> PlannedVsActualOut:
    """Per order stop: planned arrival and start as dispatched and as planned now,
    the reported arrival, completion and outcome, and the delay in minutes
    (409 before the plan is dispatched)."""
    return PlannedVsActualOut.model_validate(versions.planned_vs_actual(session, plan=plan))


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_plan(plan: PlanDep, session: SessionDep) -> None:
    """Delete a plan that is not dispatched; its orders go back to pending."""
    service.delete_plan(session, plan=plan)


@router.get("/routes/{route_id}", response_model=RouteOut)
def read_route(route: RouteDep, session: SessionDep) -> RouteOut:
    """One route with its visits (drivers: only their own): each order stop with its
    address, customer and phone, instructions, parcels and kind (delivery or pickup)."""
    return route_answers(session, [route])[0]


@router.get("/routes/{route_id}/loading-list", response_model=LoadingListOut)
def read_loading_list(route: RouteDep, session: SessionDep) -> LoadingListOut:
    """The route's loading list: last stop loaded first, grouped by compartment and trip."""
    return service.loading_list(session, route=route)


@router.post("/routes/{route_id}/start", response_model=RouteOut)
def start_route(route: RouteDep, session: SessionDep) -> RouteOut:
    """The driver leaves the depot: the route starts and its orders are en route."""
    return route_answers(session, [service.start_route(session, route=route)])[0]


@router.get("/me/routes", response_model=list[RouteOut])
def my_routes(user: CurrentUser, session: SessionDep, page: PageDep) -> list[RouteOut]:
    """The calling driver's routes, latest first, with every stop spelled out (address,
    customer and phone, instructions, parcels, delivery or pickup)."""
    if user.driver_id is None:
        raise Forbidden("only drivers with a driver record have routes")
    rows = service.driver_routes(session, principal=user, limit=page.limit)
    return route_answers(session, rows)
