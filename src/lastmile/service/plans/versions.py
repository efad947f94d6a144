"""Versions of a dispatched plan, and planned versus actual per stop.

Version 1 is the plan as it was sent out (recorded at its first dispatch) and
never changes. Each later change on the road (an urgent insertion, a
breakdown, a re-optimisation, a re-dispatch that changes drivers or routes)
records the next version, a JSON snapshot of every route and its timed visits,
in the same transaction as the change. Planned versus actual compares, per
order stop, the dispatched version, the latest one and what the stop events
say happened.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Uuid, bindparam, inspect, select
from sqlalchemy.orm import Session

from lastmile.operations.progress import StopEventKind
from lastmile.service.errors import Conflict, NotFound
from lastmile.service.plans.models import Plan, PlanVersion, Route, Visit
from lastmile.service.tracking.models import StopEvent

_TASKS = ("job", "pickup", "delivery")


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _visit_json(v: Any) -> dict[str, Any]:
    return {
        "sequence": v.sequence,
        "kind": v.kind,
        "order_id": str(v.order_id) if v.order_id is not None else None,
        "break_id": v.break_id,
        "arrival_at": _iso(v.arrival_at),
        "start_at": _iso(v.start_at),
        "departure_at": _iso(v.departure_at),
    }


#: The visit columns a version keeps, for routes whose visits are not loaded.
_VISITS = (
    select(
        Visit.route_id,
        Visit.sequence,
        Visit.kind,
        Visit.order_id,
        Visit.break_id,
        Visit.arrival_at,
        Visit.start_at,
        Visit.departure_at,
    )
    .where(Visit.route_id.in_(bindparam("route_ids", expanding=True, type_=Uuid)))
    .order_by(Visit.route_id, Visit.sequence)
)


def snapshot_routes(
    session: Session,
    plan: Plan,
    *,
    known: dict[str, list[dict[str, Any]]] | None = None,
) -> list[dict[str, Any]]:
    """The plan's routes and timed visits as plain JSON values.

    Visits already loaded (the routes a change rewrote) are taken as they are.
    For the others, ``known`` (visits by route id, as the latest version has
    them) is used where it has the route, and the rest are read in one query,
    as plain columns."""
    known = known or {}
    unloaded = [r.id for r in plan.routes if "visits" in inspect(r).unloaded]
    read: dict[uuid.UUID, list[dict[str, Any]]] = {}
    wanted = []
    for rid in unloaded:
        if str(rid) in known:
            read[rid] = known[str(rid)]
        else:
            read[rid] = []
            wanted.append(rid)
    if wanted:
        for v in session.execute(_VISITS, {"route_ids": wanted}):
            read[v.route_id].append(_visit_json(v))

    def visits(r: Route) -> list[dict[str, Any]]:
        if r.id in read:
            return read[r.id]
        return [_visit_json(v) for v in sorted(r.visits, key=lambda v: v.sequence)]

    return [
        {
            "route_id": str(r.id),
            "position": r.position,
            "vehicle_id": str(r.vehicle_id),
            "driver_id": str(r.driver_id) if r.driver_id is not None else None,
            "cost": r.cost,
            "distance_m": r.distance_m,
            "travel_s": r.travel_s,
            "start_at": _iso(r.start_at),
            "end_at": _iso(r.end_at),
            "visits": visits(r),
        }
        for r in sorted(plan.routes, key=lambda r: r.position)
    ]


def latest_version(session: Session, *, plan_id: uuid.UUID) -> PlanVersion | None:
    return session.scalar(
        select(PlanVersion)
        .where(PlanVersion.plan_id == plan_id)
        .order_by(PlanVersion.number.desc())
        .limit(1)
    )


def record_version(
    session: Session,
    *,
    plan: Plan,
    kind: str,
    summary: str = "",
    change_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    only_if_changed: bool = False,
    untouched_as_latest: bool = False,
) -> PlanVersion | None:
    """Add the plan's next version (not committed: it goes with the change).

    With ``only_if_changed``, nothing is added when the routes are as in the
    latest version. With ``untouched_as_latest`` (a change that loaded the
    visits of the routes it rewrote, and only those), the other routes' visits
    are copied from the latest version instead of being read and written out
    again: every change to a dispatched plan's visits records a version, so
    they are as it has them.
    """
    latest = latest_version(session, plan_id=plan.id)
    known: dict[str, list[dict[str, Any]]] = {}
    if untouched_as_latest and latest is not None:
        known = {r["route_id"]: r["visits"] for r in latest.routes}
    routes = snapshot_routes(session, plan, known=known)
    if only_if_changed and latest is not None and latest.routes == routes:
        return None
    row = PlanVersion(
        id=uuid.uuid4(),
        org_id=plan.org_id,
        plan_id=plan.id,
        number=(latest.number + 1) if latest is not None else 1,
        kind=kind,
        summary=summary,
        change_id=change_id,
        cost=plan.cost,
        routes=routes,
        created_by_id=user_id,
    )
    session.add(row)
    return row


def list_versions(session: Session, *, plan: Plan) -> list[PlanVersion]:
    """The plan's versions, oldest (the dispatched plan) first."""
    return list(
        session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.number)
        )
    )


def get_version(session: Session, *, plan: Plan, number: int) -> PlanVersion:
    row = session.scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.number == number)
    )
    if row is None:
        raise NotFound(f"the plan has no version {number}")
    return row


# -- planned versus actual ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Planned:
    route_id: str
    sequence: int
    arrival_at: str | None
    start_at: str | None


def _stops(routes: list[dict[str, Any]]) -> dict[tuple[str, str], _Planned]:
    out: dict[tuple[str, str], _Planned] = {}
    for r in routes:
        for v in r["visits"]:
            if v["kind"] in _TASKS and v["order_id"]:
                out[(v["order_id"], v["kind"])] = _Planned(
                    r["route_id"], v["sequence"], v["arrival_at"], v["start_at"]
                )
    return out


def _at(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def planned_vs_actual(session: Session, *, plan: Plan) -> dict[str, Any]:
    """Per order stop: planned in the dispatched version, in the latest version,
    and what happened (arrival, completion, outcome from the stop events), with
    the delay of the actual arrival on the dispatched one, in minutes.

    409 for a plan that has not been dispatched.
    """
    versions = list_versions(session, plan=plan)
    if not versions:
        if plan.status == "dispatched":
            raise Conflict(
                "the plan was dispatched before versions were kept: dispatch it again "
                "to record its routes as they stand now"
            )
        raise Conflict(f"the plan is {plan.status}; it has versions once dispatched")
    first, latest = versions[0], versions[-1]
    dispatched, current = _stops(first.routes), _stops(latest.routes)
    route_ids = {uuid.UUID(r["route_id"]) for v in versions for r in v.routes}
    route_ids |= {r.id for r in plan.routes}
    events = list(
        session.scalars(
            select(StopEvent)
            .where(StopEvent.route_id.in_(route_ids))
            .order_by(StopEvent.recorded_at, StopEvent.received_at)
        )
    )
    arrived: dict[tuple[str, str], dt.datetime] = {}
    outcome: dict[tuple[str, str], StopEvent] = {}
    keys = list(dispatched) + [k for k in current if k not in dispatched]
    by_order: dict[str, list[tuple[str, str]]] = {}
    for key in keys:
        by_order.setdefault(key[0], []).append(key)
    for e in events:
        if e.order_id is None:
            continue
        oid = str(e.order_id)
        kind = StopEventKind(e.kind)
        key = (oid, e.stop)
        if kind is StopEventKind.ARRIVED:
            arrived.setdefault(key, e.recorded_at)
            continue
        if not kind.is_outcome:
            continue
        # A failure settles every stop of the order still open on that route.
        targets = (
            [
                k
                for k in by_order.get(oid, [])
                if (p := current.get(k) or dispatched.get(k)) is not None
                and p.route_id == str(e.route_id)
            ]
            or [key]
            if kind.is_failure
            else [key]
        )
        for k in targets:
            outcome.setdefault(k, e)
    stops = []
    for key in keys:
        sent, now = dispatched.get(key), current.get(key)
        done = outcome.get(key)
        came = arrived.get(key) or (
            done.recorded_at
            if done is not None and done.kind != StopEventKind.NOT_ATTEMPTED.value
            else None
        )
        planned = _at(sent.arrival_at) if sent is not None else None
        delay = round((came - planned).total_seconds() / 60, 1) if came and planned else None
        stops.append(
            {
                "order_id": key[0],
                "stop": key[1],
                "dispatched_route_id": sent.route_id if sent else None,
                "dispatched_sequence": sent.sequence if sent else None,
                "dispatched_arrival_at": _at(sent.arrival_at) if sent else None,
                "dispatched_start_at": _at(sent.start_at) if sent else None,
                "latest_route_id": now.route_id if now else None,
                "latest_sequence": now.sequence if now else None,
                "latest_arrival_at": _at(now.arrival_at) if now else None,
                "latest_start_at": _at(now.start_at) if now else None,
                "actual_arrival_at": came,
                "actual_completed_at": done.recorded_at if done is not None else None,
                "outcome": done.kind if done is not None else None,
                "reason": done.reason if done is not None else "",
                "delay_min": delay,
            }
        )
    return {
        "plan_id": plan.id,
        "dispatched_version": first.number,
        "latest_version": latest.number,
        "stops": stops,
    }
