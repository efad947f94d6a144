"""Plans: start and follow optimisation jobs, store their results, dispatch, loading lists."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind, VisitKind
from lastmile.domain import Plan as DomainPlan
from lastmile.operations import (
    LoadingItem,
    LoadingStop,
    OrderEvent,
    OrderStatus,
    build_loading_list,
)
from lastmile.service import naming
from lastmile.service.auth.models import Role
from lastmile.service.auth.principal import Principal
from lastmile.service.automation.models import AUTO_DISPATCH, CARRY_OVER, note
from lastmile.service.crud import get_owned
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from lastmile.service.fleet.models import Driver, Shift, Vehicle, VehicleType
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event, windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import queue, versions
from lastmile.service.plans.models import Plan, PlanningJob, Route, UnassignedOrder, Visit
from lastmile.service.plans.schemas import (
    DispatchRequest,
    LoadingEntryOut,
    LoadingListOut,
    PlanCreate,
)
from lastmile.service.plans.snapshot import DAY, Snapshot, build_snapshot, plan_epoch
from lastmile.service.plans.solver_options import check_robust, check_solver_options
from lastmile.service.pod.models import Proof
from lastmile.service.settings import Settings
from lastmile.service.tracking.models import StopEvent
from lastmile.service.travel import ServiceTravel

_PLANNABLE = (OrderStatus.PENDING.value, OrderStatus.PLANNED.value)


# -- starting a plan -----------------------------------------------------------------------


def _on_day(order: Order, epoch: dt.datetime) -> bool:
    """Whether any of the order's windows overlaps the plan day (no windows: yes)."""
    windows = windows_of(order.pickup_windows) + windows_of(order.delivery_windows)
    return not windows or any(s < epoch + DAY and e >= epoch for s, e in windows)


def create_plan(
    session: Session,
    *,
    org: Organisation,
    data: PlanCreate,
    settings: Settings,
    created_by_id: uuid.UUID | None,
) -> tuple[Plan, PlanningJob]:
    """Check the request and queue a planning job; the caller submits it to the runner."""
    time_limit, errors = check_solver_options(
        engine=data.engine, time_limit_s=data.time_limit_s, settings=settings
    )
    robust = (
        check_robust(data.robust.on_time, data.robust.noise, errors)
        if data.robust is not None
        else None
    )
    epoch = plan_epoch(data.date, org.timezone)

    if data.vehicle_ids is None:
        vehicle_ids = list(
            session.scalars(
                select(Vehicle.id).where(Vehicle.org_id == org.id, Vehicle.active.is_(True))
            )
        )
        if not vehicle_ids:
            errors.append(
                FieldError(reason="the organisation has no active vehicle", column="vehicle_ids")
            )
    else:
        found = {
            v.id: v
            for v in session.scalars(
                select(Vehicle).where(Vehicle.org_id == org.id, Vehicle.id.in_(data.vehicle_ids))
            )
        }
        for k, vid in enumerate(data.vehicle_ids):
            if vid not in found:
                errors.append(
                    FieldError(reason=f"no such vehicle {vid}", column=f"vehicle_ids[{k}]")
                )
            elif not found[vid].active:
                errors.append(
                    FieldError(
                        reason=f"{naming.of_vehicle(found[vid])} is inactive",
                        column=f"vehicle_ids[{k}]",
                    )
                )
        vehicle_ids = list(dict.fromkeys(data.vehicle_ids))

    if data.order_ids is None:
        pending = session.scalars(
            select(Order).where(Order.org_id == org.id, Order.status == OrderStatus.PENDING.value)
        )
        order_ids = [o.id for o in pending if _on_day(o, epoch)]
    else:
        rows = session.execute(
            select(Order.id, Order.status).where(
                Order.org_id == org.id, Order.id.in_(data.order_ids)
            )
        )
        statuses: dict[uuid.UUID, str] = {oid: status for oid, status in rows}
        for k, oid in enumerate(data.order_ids):
            if oid not in statuses:
                errors.append(FieldError(reason=f"no such order {oid}", column=f"order_ids[{k}]"))
            elif statuses[oid] not in _PLANNABLE:
                errors.append(
                    FieldError(
                        reason=f"order is {statuses[oid]}; only pending or planned orders "
                        "can be planned",
                        column=f"order_ids[{k}]",
                    )
                )
        order_ids = list(dict.fromkeys(data.order_ids))
    if errors:
        raise Unprocessable("the plan request is not valid", errors)
    carried = (
        carry_over(session, org=org, day=data.date, epoch=epoch)
        if org.options.plan_carry_over
        else {}
    )
    order_ids += [oid for oid in carried if oid not in set(order_ids)]

    plan = Plan(
        id=uuid.uuid4(),
        org_id=org.id,
        name=data.name or f"Plan {data.date.isoformat()}",
        status="planning",
        epoch=epoch,
        created_by_id=created_by_id,
    )
    job = PlanningJob(
        id=uuid.uuid4(),
        org_id=org.id,
        plan_id=plan.id,
        status="queued",
        message="queued",
        queue=settings.planning_queue,
        params={
            "engine": data.engine,
            "time_limit_s": time_limit,
            "seed": data.seed,
            "order_ids": [str(o) for o in order_ids],
            "vehicle_ids": [str(v) for v in vehicle_ids],
            **({"robust": robust.to_dict()} if robust is not None else {}),
        },
    )
    session.add_all([plan, job])
    session.flush()
    for oid, why in carried.items():
        note(
            session,
            org_id=org.id,
            kind=CARRY_OVER,
            plan_id=plan.id,
            order_id=oid,
            message=f"{why}: planned into {plan.name}",
        )
    session.commit()
    return plan, job


def carry_over(
    session: Session, *, org: Organisation, day: dt.date, epoch: dt.datetime
) -> dict[uuid.UUID, str]:
    """The orders a plan for ``day`` takes with the ``plan_carry_over`` option, and
    why: pending orders whose re-attempt (decided when they failed) falls on ``day``,
    and pending orders that an earlier plan left unassigned and whose windows allow
    ``day``. The default selection (every pending order of the day) holds them
    already; a request listing its orders gets them added."""
    found: dict[uuid.UUID, str] = {}
    pending = OrderStatus.PENDING.value
    due = set(
        session.scalars(
            select(StopEvent.order_id).where(
                StopEvent.org_id == org.id, StopEvent.reattempt_on == day
            )
        )
    ) | set(
        session.scalars(
            select(Proof.order_id).where(Proof.org_id == org.id, Proof.reattempt_on == day)
        )
    )
    for order in session.scalars(
        select(Order).where(Order.org_id == org.id, Order.id.in_(due), Order.status == pending)
    ):
        if _on_day(order, epoch):
            found[order.id] = f"{naming.of_order(order)}: re-attempt due on {day.isoformat()}"
    left = session.execute(
        select(Order, Plan.name, UnassignedOrder.reason)
        .join(UnassignedOrder, UnassignedOrder.order_id == Order.id)
        .join(Plan, Plan.id == UnassignedOrder.plan_id)
        .where(Order.org_id == org.id, Order.status == pending, Plan.epoch < epoch)
        .order_by(Plan.epoch.desc())
    )
    for order, plan_name, reason in left:
        if order.id not in found and _on_day(order, epoch):
            found[order.id] = f"{naming.of_order(order)}: left unassigned by {plan_name} ({reason})"
    return found


# -- job bookkeeping (called by the runner) -------------------------------------------------


def cancel_requested(session: Session, *, job_id: uuid.UUID) -> bool:
    session.commit()  # end the read snapshot: see other processes' writes
    return bool(
        session.scalar(select(PlanningJob.cancel_requested).where(PlanningJob.id == job_id))
    )


def record_progress(
    session: Session, *, job_id: uuid.UUID, progress: float, message: str, holder: str | None = None
) -> bool:
    """Write the job's progress (and heartbeat); with ``holder``, only while that
    slot still holds the job's lease. Returns whether it was written."""
    held = [PlanningJob.leased_by == holder] if holder is not None else []
    done = session.execute(
        update(PlanningJob)
        .where(PlanningJob.id == job_id, PlanningJob.status == "running", *held)
        .values(
            progress=round(min(1.0, max(0.0, progress)), 4), message=message, heartbeat_at=utcnow()
        )
    )
    session.commit()
    return getattr(done, "rowcount", 0) == 1


def finish_job(
    session: Session,
    *,
    job_id: uuid.UUID,
    status: str,
    error: str = "",
    holder: str | None = None,
) -> bool:
    """End a job that produced no plan: failed or cancelled (the plan follows).
    With ``holder``, only while that slot still holds the job's lease. Returns
    whether the job ended here (False: it had ended already, or was not ``holder``'s)."""
    session.rollback()
    held = (
        [PlanningJob.status == "running", PlanningJob.leased_by == holder]
        if holder is not None
        else [PlanningJob.status.in_(("queued", "running"))]
    )
    done = session.execute(
        update(PlanningJob)
        .where(PlanningJob.id == job_id, *held)
        .values(
            status=status,
            error=error,
            message=status,
            finished_at=utcnow(),
            leased_by="",
            lease_expires_at=None,
        )
    )
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()
        return False
    job = session.get(PlanningJob, job_id)
    plan = session.get(Plan, job.plan_id) if job is not None else None
    if plan is not None and plan.status == "planning":
        plan.status = status
    session.commit()
    return True


def snapshot_for_job(
    session: Session, *, job_id: uuid.UUID, travel_model: ServiceTravel
) -> Snapshot:
    job = session.get(PlanningJob, job_id)
    assert job is not None
    plan = session.get(Plan, job.plan_id)
    org = session.get(Organisation, job.org_id)
    assert plan is not None and org is not None
    params = job.params
    order_ids = [uuid.UUID(o) for o in params["order_ids"]]
    # Orders cancelled or dispatched elsewhere since the request are left out.
    plannable = set(
        session.scalars(
            select(Order.id).where(Order.id.in_(order_ids), Order.status.in_(_PLANNABLE))
        )
    )
    return build_snapshot(
        session,
        org=org,
        epoch=plan.epoch,
        order_ids=[o for o in order_ids if o in plannable],
        vehicle_ids=[uuid.UUID(v) for v in params["vehicle_ids"]],
        travel_model=travel_model,
        name=plan.name,
    )


def store_result(
    session: Session,
    *,
    job_id: uuid.UUID,
    snapshot: Snapshot,
    plan: DomainPlan,
    travel: dict[str, Any] | None = None,
    holder: str | None = None,
) -> bool:
    """Write the plan's routes, visits (with ETAs) and unassigned orders; orders
    on routes become planned. ``travel`` says which travel model made the plan
    (kept with the job's parameters, shown with the plan). With ``holder``, only
    while that slot still holds the job's lease (the job's end is a
    compare-and-set on it, in the same transaction as the plan): returns whether
    the plan was stored."""
    session.rollback()
    job = session.get(PlanningJob, job_id)
    assert job is not None
    if holder is not None and (job.status != "running" or job.leased_by != holder):
        return False
    row = session.get(Plan, job.plan_id)
    assert row is not None
    epoch = snapshot.epoch
    problem = snapshot.problem

    def at(t: int) -> dt.datetime:
        return epoch + dt.timedelta(seconds=int(t))

    served: set[uuid.UUID] = set()
    for position, route in enumerate(plan.routes):
        if not route.visits:
            continue
        r = Route(
            id=uuid.uuid4(),
            org_id=row.org_id,
            plan_id=row.id,
            position=position,
            vehicle_id=uuid.UUID(route.vehicle_id),
            status="planned",
            cost=route.cost,
            distance_m=route.distance,
            travel_s=route.travel,
            start_at=at(route.start_time),
            end_at=at(route.end_time),
        )
        for seq, v in enumerate(route.visits):
            loc = problem.locations[v.location]
            order_id = uuid.UUID(v.order_id) if v.order_id else None
            if order_id is not None:
                served.add(order_id)
            r.visits.append(
                Visit(
                    org_id=row.org_id,
                    sequence=seq,
                    kind=v.kind.value,
                    order_id=order_id,
                    depot_id=snapshot.depot_ids[v.depot] if v.depot is not None else None,
                    break_id=v.break_id,
                    lon=loc.lon,
                    lat=loc.lat,
                    arrival_at=at(v.arrival),
                    start_at=at(v.start),
                    departure_at=at(v.departure),
                    eta_at=at(v.arrival),
                    load=list(v.load),
                    distance_m=v.distance,
                    travel_s=v.travel,
                )
            )
        row.routes.append(r)
    for u in plan.unassigned:
        row.unassigned.append(
            UnassignedOrder(
                org_id=row.org_id, order_id=uuid.UUID(u.order_id), code=u.code, reason=u.reason
            )
        )
    for order_id, (code, reason) in snapshot.set_aside.items():
        row.unassigned.append(
            UnassignedOrder(org_id=row.org_id, order_id=order_id, code=code, reason=reason)
        )
    for order in session.scalars(select(Order).where(Order.id.in_(served))):
        if order.status in _PLANNABLE:
            apply_event(order, OrderEvent.PLAN)
    row.status = "ready"
    row.engine = plan.engine
    row.travel_note = problem.travel_note[:300]
    params = {**job.params, "travel_model": travel} if travel is not None else job.params
    row.cost = plan.cost
    row.distance_m = plan.distance
    row.travel_s = plan.travel
    held = (
        [PlanningJob.status == "running", PlanningJob.leased_by == holder]
        if holder is not None
        else []
    )
    done = session.execute(
        update(PlanningJob)
        .where(PlanningJob.id == job_id, *held)
        .values(
            status="succeeded",
            progress=1.0,
            message=(
                f"{len(served)} orders on {len(row.routes)} routes, "
                f"{len(row.unassigned)} unassigned"
            ),
            finished_at=utcnow(),
            leased_by="",
            lease_expires_at=None,
            params=params,
        )
    )
    if getattr(done, "rowcount", 0) != 1:
        session.rollback()  # the lease was lost meanwhile: the job's next attempt writes it
        return False
    session.flush()
    # In the same transaction: nobody sees the plan ready and not yet dispatched.
    dispatch_automatically(session, plan=row)
    session.commit()
    return True


def dispatch_automatically(session: Session, *, plan: Plan) -> Plan | None:
    """With the ``auto_dispatch`` option: dispatch a plan that has just become ready
    as ``POST /plans/{id}/dispatch`` without assignments would (drivers from the
    shifts), and log it. A plan that cannot be dispatched stays ready; why is
    logged. The caller commits (:func:`store_result`, with the plan itself).
    Returns the dispatched plan, or None."""
    org = session.get(Organisation, plan.org_id)
    if org is None or not org.options.auto_dispatch or plan.status != "ready":
        return None
    if not plan.routes:
        note(
            session,
            org_id=org.id,
            kind=AUTO_DISPATCH,
            plan_id=plan.id,
            message=f"{plan.name} not dispatched: it has no routes",
        )
        return None
    try:
        # dispatch_plan checks everything before it changes anything: a refusal
        # leaves the plan as stored.
        dispatched = dispatch_plan(session, plan=plan, request=DispatchRequest())
    except (Unprocessable, Conflict) as exc:
        details = "; ".join(e.reason for e in getattr(exc, "errors", ()) or ())
        note(
            session,
            org_id=org.id,
            kind=AUTO_DISPATCH,
            plan_id=plan.id,
            message=f"{plan.name} not dispatched: {exc}" + (f" ({details})" if details else ""),
        )
        return None
    note(
        session,
        org_id=org.id,
        kind=AUTO_DISPATCH,
        plan_id=plan.id,
        message=f"{plan.name} dispatched: {len(dispatched.routes)} route(s) to the drivers "
        "of their shifts",
    )
    return dispatched


# -- reading and cancelling ----------------------------------------------------------------


def get_plan(session: Session, *, org_id: uuid.UUID, plan_id: uuid.UUID) -> Plan:
    return get_owned(session, Plan, org_id=org_id, id=plan_id, what="plan")


def get_job(session: Session, *, plan: Plan) -> PlanningJob | None:
    return session.scalar(select(PlanningJob).where(PlanningJob.plan_id == plan.id))


def queue_position(session: Session, *, job: PlanningJob) -> int | None:
    """A queued job's place among its organisation's queued jobs (None once it runs)."""
    return queue.queue_position(session, job=job)


def travel_model_of(job: PlanningJob | None) -> dict[str, Any] | None:
    """Which travel model the job planned with (None until it has)."""
    if job is None:
        return None
    found = (job.params or {}).get("travel_model")
    return dict(found) if isinstance(found, dict) else None


def plan_detail(session: Session, *, plan: Plan) -> tuple[Plan, PlanningJob | None]:
    """``plan`` as stored now (routes and unassigned orders read again) and its job."""
    session.refresh(plan)
    return plan, get_job(session, plan=plan)


def list_plans(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[Plan]:
    stmt = (
        select(Plan)
        .where(Plan.org_id == org_id)
        .order_by(Plan.created_at.desc(), Plan.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def request_cancel(session: Session, *, plan: Plan) -> PlanningJob:
    """Flag the plan's job for cancellation; a queued job ends at once."""
    job = get_job(session, plan=plan)
    if job is None:
        raise NotFound("plan has no job")
    if job.status in ("succeeded", "failed", "cancelled"):
        raise Conflict(f"the job has already ended ({job.status})")
    job.cancel_requested = True
    session.commit()
    if job.status == "queued":
        finish_job(session, job_id=job.id, status="cancelled")
        session.refresh(job)
    return job


def delete_plan(session: Session, *, plan: Plan) -> None:
    """Delete a plan that is not dispatched; its planned orders that are on no
    other plan go back to pending."""
    if plan.status == "dispatched":
        raise Conflict("a dispatched plan cannot be deleted")
    if plan.status == "planning":
        raise Conflict("the plan is still being computed: cancel it first")
    order_ids = {v.order_id for r in plan.routes for v in r.visits if v.order_id is not None}
    elsewhere = set(
        session.scalars(
            select(Visit.order_id)
            .join(Route, Route.id == Visit.route_id)
            .where(Visit.order_id.in_(order_ids), Route.plan_id != plan.id)
        )
    )
    for order in session.scalars(select(Order).where(Order.id.in_(order_ids - elsewhere))):
        if order.status == OrderStatus.PLANNED.value:
            apply_event(order, OrderEvent.UNPLAN)
    session.delete(plan)
    session.commit()


# -- dispatch ------------------------------------------------------------------------------


def dispatch_plan(session: Session, *, plan: Plan, request: DispatchRequest) -> Plan:
    """Give every route of the plan a driver; its orders become dispatched.

    All or nothing: any route without a driver, route assigned twice, driver
    with two routes, or order that can no longer be dispatched fails the whole
    request (422); a new driver for a route already on the road (started or
    completed) is refused with 409: it keeps its driver.
    """
    if plan.status not in ("ready", "dispatched"):
        raise Conflict(f"the plan is {plan.status}; only ready plans can be dispatched")
    routes = {r.id: r for r in plan.routes}
    errors: list[FieldError] = []
    chosen: dict[uuid.UUID, uuid.UUID] = {}
    first_of: dict[uuid.UUID, int] = {}
    for k, a in enumerate(request.assignments):
        if a.route_id not in routes:
            errors.append(
                FieldError(
                    reason=f"no route {a.route_id} in this plan",
                    column=f"assignments[{k}].route_id",
                )
            )
            continue
        if a.route_id in first_of:
            errors.append(_assigned_twice(a.route_id, first_of[a.route_id], k))
            continue
        first_of[a.route_id] = k
        _keep_driver_on_the_road(session, routes[a.route_id], a.driver_id, k)
        driver = session.get(Driver, a.driver_id)
        if driver is None or driver.org_id != plan.org_id:
            errors.append(
                FieldError(
                    reason=f"no such driver {a.driver_id}", column=f"assignments[{k}].driver_id"
                )
            )
            continue
        if not driver.active:
            errors.append(
                FieldError(
                    reason=f"{naming.of_driver(driver)} is inactive",
                    column=f"assignments[{k}].driver_id",
                )
            )
            continue
        chosen[a.route_id] = a.driver_id
    vehicles = {
        v.id: v
        for v in session.scalars(
            select(Vehicle).where(Vehicle.id.in_([r.vehicle_id for r in routes.values()]))
        )
    }
    for r in plan.routes:
        if r.id in chosen or r.status == "broken_down":
            continue
        if r.status == "started" and r.driver_id is not None:
            chosen[r.id] = r.driver_id
            continue
        shift = session.scalar(
            select(Shift)
            .join(Driver, Driver.id == Shift.driver_id)
            .where(
                Shift.vehicle_id == r.vehicle_id,
                Shift.start_at <= r.end_at,
                Shift.end_at >= r.start_at,
                Driver.active.is_(True),
            )
            .order_by(Shift.start_at)
            .limit(1)
        )
        if shift is None:
            name = (
                naming.of_vehicle(vehicles[r.vehicle_id])
                if r.vehicle_id in vehicles
                else naming.vehicle_label(r.vehicle_id)
            )
            errors.append(
                FieldError(
                    reason=f"the route of {name} has no driver: assign one or add a shift "
                    "with that vehicle",
                    column=f"route {r.id}",
                )
            )
        else:
            chosen[r.id] = shift.driver_id
    by_driver: dict[uuid.UUID, uuid.UUID] = {}
    for route_id, driver_id in chosen.items():
        if driver_id in by_driver:
            who = naming.driver_labels(session, org_id=plan.org_id, ids=[driver_id])
            errors.append(
                FieldError(
                    reason=f"{who[str(driver_id)]} would get two routes of this plan",
                    column=f"route {route_id}",
                )
            )
        by_driver[driver_id] = route_id
    order_ids = [v.order_id for r in plan.routes for v in r.visits if v.order_id is not None]
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    if plan.status != "dispatched":
        # First dispatch: every order must still be planned. Re-dispatching
        # (changing drivers) leaves the orders' progress as it is.
        for oid in dict.fromkeys(order_ids):
            order = orders.get(oid)
            if order is None or order.status == OrderStatus.PLANNED.value:
                continue
            label = naming.of_order(order)
            reason = (
                f"{label} is already dispatched with another plan"
                if order.status == OrderStatus.DISPATCHED.value
                else f"{label} is {order.status}; plan again"
            )
            errors.append(FieldError(reason=reason, column="orders"))
    if errors:
        raise Unprocessable("the plan cannot be dispatched", errors)
    now = utcnow()
    for oid in dict.fromkeys(order_ids):
        order = orders.get(oid)
        if order is not None and order.status in (
            OrderStatus.PLANNED.value,
            OrderStatus.DISPATCHED.value,
        ):
            apply_event(order, OrderEvent.DISPATCH)
    for r in plan.routes:
        r.driver_id = chosen.get(r.id, r.driver_id)
        if r.status == "planned":
            r.status = "dispatched"
            r.dispatched_at = now
    first = plan.status != "dispatched"
    plan.status = "dispatched"
    plan.dispatched_at = plan.dispatched_at or now
    session.flush()
    # The plan as sent out is version 1; dispatching again records a version
    # only when drivers or routes changed.
    versions.record_version(
        session,
        plan=plan,
        kind="dispatch" if first else "redispatch",
        summary="dispatched" if first else "dispatched again",
        only_if_changed=not first,
    )
    session.commit()
    return plan


def _assigned_twice(route_id: uuid.UUID, first: int, again: int) -> FieldError:
    return FieldError(
        reason=f"route {route_id} is already assigned in assignments[{first}]; "
        "give each route once",
        column=f"assignments[{again}].route_id",
    )


def _keep_driver_on_the_road(
    session: Session, route: Route, driver_id: uuid.UUID, index: int
) -> None:
    """A route already on the road (started or completed) keeps its driver: another
    one is refused with 409 (assigning the same driver again changes nothing)."""
    if route.status not in ("started", "completed") or route.driver_id in (None, driver_id):
        return
    assert route.driver_id is not None
    who = naming.driver_labels(session, org_id=route.org_id, ids=[route.driver_id])
    raise Conflict(
        f"assignments[{index}]: the route {route.id} is {route.status} with "
        f"{who[str(route.driver_id)]}; a route on the road keeps its driver"
    )


# -- routes (dispatchers and drivers) -----------------------------------------------------


def get_route(session: Session, *, principal: Principal, route_id: uuid.UUID) -> Route:
    """A route of the caller's organisation; a driver may only reach their own (403)."""
    route = get_owned(session, Route, org_id=principal.org_id, id=route_id, what="route")
    if principal.role is Role.DRIVER and (
        principal.driver_id is None or route.driver_id != principal.driver_id
    ):
        raise Forbidden("this route is not yours")
    return route


def driver_routes(session: Session, *, principal: Principal, limit: int) -> list[Route]:
    """The caller's dispatched routes, latest first (drivers only)."""
    if principal.driver_id is None:
        return []
    stmt = (
        select(Route)
        .where(Route.org_id == principal.org_id, Route.driver_id == principal.driver_id)
        .order_by(Route.start_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def start_route(session: Session, *, route: Route) -> Route:
    """The driver leaves the depot: the route starts and its orders are on their way."""
    if route.status != "dispatched":
        raise Conflict(f"the route is {route.status}; only dispatched routes can start")
    order_ids = [v.order_id for v in route.visits if v.order_id is not None]
    for order in session.scalars(select(Order).where(Order.id.in_(order_ids))):
        if order.status == OrderStatus.DISPATCHED.value:
            apply_event(order, OrderEvent.START)
    route.status = "started"
    route.started_at = utcnow()
    session.commit()
    return route


def loading_list(session: Session, *, route: Route) -> LoadingListOut:
    """What to load into the route's vehicle: last stop first, by compartment, per trip."""
    vehicle = session.get(Vehicle, route.vehicle_id)
    assert vehicle is not None
    vtype = session.get(VehicleType, vehicle.type_id)
    order_ids = [v.order_id for v in route.visits if v.order_id is not None]
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    stops = []
    trip = 0
    for v in route.visits:
        if v.kind == VisitKind.RELOAD.value:
            trip += 1
            continue
        order = orders.get(v.order_id) if v.order_id is not None else None
        if order is None:
            continue
        stops.append(
            LoadingStop(
                sequence=v.sequence,
                order_id=str(order.id),
                order_kind=OrderKind(order.kind),
                label=order.external_id or str(order.id),
                items=tuple(
                    LoadingItem(
                        barcode=i.barcode,
                        description=i.description,
                        quantity=i.quantity,
                        compartment=i.compartment,
                    )
                    for i in order.items
                ),
                trip=trip,
                compartment=order.compartment,
            )
        )
    result = build_loading_list(stops, compartments=vtype.compartments if vtype else ())
    return LoadingListOut(
        route_id=route.id,
        vehicle_id=route.vehicle_id,
        compartments=list(result.compartments),
        entries=[
            LoadingEntryOut(
                trip=e.trip,
                compartment=e.compartment,
                position=e.position,
                sequence=e.sequence,
                order_id=uuid.UUID(e.order_id),
                label=e.label,
                barcode=e.barcode,
                description=e.description,
                quantity=e.quantity,
            )
            for e in result.entries
        ],
    )
