"""Stop events: what drivers report at stops (arrived, delivered, picked_up,
failed), applied to the route's orders through their lifecycle, all or nothing,
stored durably and idempotently (by the sender's ``event_id``, as pings), and
the live events saying what changed.

A failure, reported here or with a proof of delivery (which records its stop
event through :func:`record_stop_events`), names a reason from the one list
(:class:`lastmile.operations.pod.FailureReason`) and gets its re-attempt here,
by :func:`reschedule_failed`: retried, the order goes back to pending with its
windows on the new day. A route completes when every order stop on it has a
final outcome on that route (delivered, picked up, failed or not attempted),
whatever became of the order afterwards; :func:`close_route` ends a route's day
explicitly.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind, VisitKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderEvent, OrderStatus
from lastmile.operations.pod import FailureReason, Reattempt, ReattemptPolicy, plan_reattempt
from lastmile.operations.progress import (
    StopEventKind,
    StopEventRecord,
    StopOutcome,
    order_event_for,
    route_is_complete,
    stop_outcomes,
)
from lastmile.service.auth.principal import Principal
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, FieldError, Unprocessable
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event, windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans.models import Route, Visit
from lastmile.service.tracking import models
from lastmile.service.tracking.access import RouteRef, ensure_live
from lastmile.service.tracking.durability import write_turn
from lastmile.service.tracking.schemas import (
    RouteCloseOut,
    StopEventIn,
    StopEventOut,
    StopOutcomeOut,
)

_TASKS = ("job", "pickup", "delivery")
#: The ``source`` of arrivals and departures detected from GPS fixes
#: (:mod:`lastmile.service.tracking.arrivals`), not reported by anyone.
DETECTED = "detected"


@dataclass
class StopEventsResult:
    """The stored events (in the order sent) and what changed, for the live stream."""

    events: list[StopEventOut]
    live: list[dict[str, Any]] = field(default_factory=list)
    changed: bool = False


def _event_out(row: models.StopEvent, *, duplicate: bool) -> StopEventOut:
    return StopEventOut(
        event_id=row.event_id,
        kind=StopEventKind(row.kind),
        sequence=row.sequence,
        order_id=row.order_id,
        stop=VisitKind(row.stop),
        reason=row.reason,
        note=row.note,
        order_status=row.order_status,
        reattempt_on=row.reattempt_on,
        reattempt_note=row.reattempt_note,
        at=row.recorded_at,
        received_at=row.received_at,
        duplicate=duplicate,
        detected=row.source == DETECTED,
    )


def _find_visit(
    event: StopEventIn, visits: Sequence[Visit], orders: Mapping[uuid.UUID, Order]
) -> Visit | str:
    """The task visit ``event`` is about, or the reason it names none."""
    tasks = [v for v in visits if v.kind in _TASKS]
    if event.sequence is not None:
        visit = next((v for v in visits if v.sequence == event.sequence), None)
        if visit is None:
            return f"the route has no visit {event.sequence}"
        if visit not in tasks:
            return f"visit {event.sequence} is a {visit.kind}: stop events are for order stops"
        if event.order_id is not None and visit.order_id != event.order_id:
            return f"visit {event.sequence} serves another order"
        return visit
    candidates = [v for v in tasks if v.order_id == event.order_id]
    if not candidates:
        return f"order {event.order_id} is not on this route"
    if len(candidates) == 1:
        return candidates[0]
    # A shipment: its pickup stop until picked up, then its delivery stop.
    order = orders.get(event.order_id) if event.order_id else None
    wanted = (
        "pickup"
        if event.kind is StopEventKind.PICKED_UP
        or (
            event.kind is not StopEventKind.DELIVERED
            and order is not None
            and order.status in (OrderStatus.DISPATCHED, OrderStatus.EN_ROUTE)
        )
        else "delivery"
    )
    return next((v for v in candidates if v.kind == wanted), candidates[0])


def _start(route: Route, orders: Mapping[uuid.UUID, Order], now: dt.datetime) -> None:
    """A dispatched route whose driver reports at a stop has started (as
    ``POST /routes/{id}/start`` does it)."""
    for order in orders.values():
        if order.status == OrderStatus.DISPATCHED.value:
            apply_event(order, OrderEvent.START)
    route.status = "started"
    route.started_at = now


def record_stop_events(
    session: Session,
    *,
    route_ref: RouteRef,
    source: str,
    events: Sequence[StopEventIn],
    now: dt.datetime | None = None,
    policy: ReattemptPolicy | None = None,
) -> StopEventsResult:
    """Apply stop events to the route's orders through the lifecycle, all or nothing.

    Events already stored (same sender and event id) are reported as
    duplicates and change nothing. The first report of a dispatched route
    starts it; a failure gets its re-attempt (:func:`reschedule_failed`, under
    ``policy``); a route whose every order stop has a final outcome is
    completed. Committed durably before returning.
    """
    ensure_live(route_ref)
    now = now or utcnow()
    ids = [e.event_id for e in events]
    known = {
        row.event_id: row
        for row in session.scalars(
            select(models.StopEvent).where(
                models.StopEvent.org_id == route_ref.org_id,
                models.StopEvent.source == source,
                models.StopEvent.event_id.in_(ids),
            )
        )
    }
    route = session.get(Route, route_ref.id)
    assert route is not None
    visits = list(route.visits)
    order_ids = {v.order_id for v in visits if v.order_id is not None}
    orders = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(order_ids)))}
    errors: list[FieldError] = []
    rows: list[models.StopEvent | None] = []
    route_status = route.status
    fresh: dict[str, models.StopEvent] = {}
    tz: dt.tzinfo | None = None
    for k, item in enumerate(events):
        if item.event_id in known or item.event_id in fresh:
            rows.append(None)
            continue
        found = _find_visit(item, visits, orders)
        if isinstance(found, str):
            errors.append(FieldError(reason=found, column=f"events[{k}]"))
            rows.append(None)
            continue
        order = orders.get(found.order_id) if found.order_id else None
        if order is None:
            errors.append(
                FieldError(reason="the order of this stop is gone", column=f"events[{k}]")
            )
            rows.append(None)
            continue
        try:
            change = order_event_for(
                event=item.kind, visit_kind=VisitKind(found.kind), order_kind=OrderKind(order.kind)
            )
            if route.status == "dispatched":
                _start(route, orders, now)
            if change is not None:
                apply_event(order, change)
        except InputError as exc:
            errors.append(FieldError(reason=str(exc), column=f"events[{k}].kind"))
            rows.append(None)
            continue
        row = models.StopEvent(
            id=uuid.uuid4(),
            org_id=route_ref.org_id,
            source=source,
            event_id=item.event_id,
            route_id=route.id,
            order_id=order.id,
            stop=found.kind,
            sequence=found.sequence,
            kind=item.kind.value,
            reason=item.reason.strip(),
            note=item.note,
            order_status=order.status,
            recorded_at=item.at,
            received_at=now,
            lon=item.lon,
            lat=item.lat,
        )
        if item.kind.is_failure and order.status == OrderStatus.FAILED.value:
            if tz is None:
                tz = _zone(session, route_ref.org_id)
            decision = reschedule_failed(
                session,
                order=order,
                reason=FailureReason(row.reason),
                failed_at=item.at,
                earlier=[*fresh.values()],
                tz=tz,
                policy=policy,
            )
            row.order_status = order.status
            row.reattempt_on = decision.on
            row.reattempt_note = decision.why
        fresh[item.event_id] = row
        rows.append(row)
    if errors:
        session.rollback()
        raise Unprocessable("the stop events cannot be applied; nothing was stored", errors)
    if not fresh:
        session.rollback()
        return StopEventsResult(
            events=[_event_out(known[e.event_id], duplicate=True) for e in events]
        )
    session.add_all(fresh.values())
    if route.status == "started" and route_is_complete(
        route_outcomes(session, route=route, orders=orders, extra=list(fresh.values()))
    ):
        route.status = "completed"
        route.completed_at = now
    try:
        with write_turn(session):
            session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("another request is storing the same events; send them again") from None
    out: list[StopEventOut] = []
    live: list[dict[str, Any]] = []
    for item, new_row in zip(events, rows, strict=True):
        if new_row is None:
            earlier = known.get(item.event_id)
            again = earlier if earlier is not None else fresh[item.event_id]
            out.append(_event_out(again, duplicate=earlier is not None))
            continue
        row = new_row
        out.append(_event_out(row, duplicate=False))
        live.append(
            {
                "type": "stop_event",
                "route_id": str(route.id),
                "order_id": str(row.order_id),
                "sequence": row.sequence,
                "kind": row.kind,
                "reason": row.reason,
                "order_status": row.order_status,
                "reattempt_on": row.reattempt_on.isoformat() if row.reattempt_on else None,
                "at": row.recorded_at.isoformat(),
                "detected": source == DETECTED,
            }
        )
    if route.status != route_status:
        live.append({"type": "route_status", "route_id": str(route.id), "status": route.status})
    return StopEventsResult(events=out, live=live, changed=True)


def list_stop_events(session: Session, *, route: RouteRef) -> list[StopEventOut]:
    """The route's stop events in the order they happened."""
    stmt = (
        select(models.StopEvent)
        .where(models.StopEvent.route_id == route.id)
        .order_by(models.StopEvent.recorded_at, models.StopEvent.received_at)
    )
    return [_event_out(row, duplicate=False) for row in session.scalars(stmt)]


# -- failures and their re-attempt -------------------------------------------------------------


def _zone(session: Session, org_id: uuid.UUID) -> dt.tzinfo:
    org = session.get(Organisation, org_id)
    assert org is not None
    return zoneinfo.ZoneInfo(org.timezone)


def reschedule_failed(
    session: Session,
    *,
    order: Order,
    reason: FailureReason,
    failed_at: dt.datetime,
    tz: dt.tzinfo,
    earlier: Sequence[models.StopEvent] = (),
    policy: ReattemptPolicy | None = None,
) -> Reattempt:
    """The re-attempt of a failed order, decided by the one rule
    (:func:`lastmile.operations.pod.plan_reattempt`) and applied: retried, the
    order goes back to pending with its windows moved to the new day (a
    shipment keeps only its delivery windows: its goods are picked up or stay
    with the sender); not retried, it stays failed.

    Attempts are the order's failed stop events (stored, plus ``earlier`` ones
    of the same batch, plus this one); stops not attempted do not count.
    The failure is flushed first, so the outbox sees the order fail (its
    webhook, the customer's message) before it goes back to pending.
    """
    session.flush()
    stored = (
        session.scalar(
            select(func.count())
            .select_from(models.StopEvent)
            .where(
                models.StopEvent.order_id == order.id,
                models.StopEvent.kind == StopEventKind.FAILED.value,
            )
        )
        or 0
    )
    batch = sum(
        1 for e in earlier if e.order_id == order.id and e.kind == StopEventKind.FAILED.value
    )
    attempts = stored + batch + (1 if reason.counts_as_attempt else 0)
    raw = order.pickup_windows if order.kind == OrderKind.PICKUP.value else order.delivery_windows
    decision = plan_reattempt(
        reason,
        attempts=attempts,
        failed_at=failed_at,
        windows=windows_of(raw),
        tz=tz,
        policy=policy,
    )
    if decision.retry and order.status == OrderStatus.FAILED.value:
        apply_event(order, OrderEvent.RETRY)
        moved: list[dict[str, Any]] = [
            {"start": s.astimezone(dt.UTC).isoformat(), "end": e.astimezone(dt.UTC).isoformat()}
            for s, e in decision.windows
        ]
        if order.kind == OrderKind.PICKUP.value:
            order.pickup_windows = moved
        else:
            order.delivery_windows = moved
            if order.kind == OrderKind.SHIPMENT.value and order.pickup_windows:
                order.pickup_windows = []
    return decision


# -- outcomes and closing ----------------------------------------------------------------------


def _records(rows: Sequence[models.StopEvent]) -> list[StopEventRecord]:
    return [
        StopEventRecord(
            str(r.order_id),
            VisitKind(r.stop),
            StopEventKind(r.kind),
            int(r.recorded_at.timestamp()),
        )
        for r in rows
        if r.order_id is not None
    ]


def _task_visits(route: Route, orders: Mapping[uuid.UUID, Order]) -> list[Visit]:
    """The route's order stops that still need an outcome (cancelled orders need none)."""
    return [
        v
        for v in route.visits
        if v.kind in _TASKS
        and v.order_id is not None
        and (o := orders.get(v.order_id)) is not None
        and o.status != OrderStatus.CANCELLED.value
    ]


def route_outcomes(
    session: Session,
    *,
    route: Route,
    orders: Mapping[uuid.UUID, Order],
    extra: Sequence[models.StopEvent] = (),
) -> tuple[StopOutcome, ...]:
    """The outcome of every order stop of ``route`` from its stop events (stored
    ones plus ``extra`` not yet flushed), in route order."""
    stored = list(
        session.scalars(select(models.StopEvent).where(models.StopEvent.route_id == route.id))
    )
    seen = {id(r) for r in stored}
    rows = stored + [r for r in extra if id(r) not in seen]
    tasks = [(str(v.order_id), VisitKind(v.kind)) for v in _task_visits(route, orders)]
    return stop_outcomes(tasks, _records(rows))


def _orders_of(session: Session, route: Route) -> dict[uuid.UUID, Order]:
    ids = {v.order_id for v in route.visits if v.order_id is not None}
    return {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(ids)))}


def route_stop_outcomes(session: Session, *, route_ref: RouteRef) -> list[StopOutcomeOut]:
    """Every order stop of the route with its outcome so far, in route order."""
    route = session.get(Route, route_ref.id)
    assert route is not None
    return _outcomes_out(session, route, _orders_of(session, route))


def _outcomes_out(
    session: Session, route: Route, orders: Mapping[uuid.UUID, Order]
) -> list[StopOutcomeOut]:
    reasons = {
        (r.order_id, r.stop): r.reason
        for r in session.scalars(
            select(models.StopEvent)
            .where(models.StopEvent.route_id == route.id)
            .order_by(models.StopEvent.recorded_at)
        )
        if r.reason
    }
    visits = _task_visits(route, orders)
    out = []
    for visit, outcome in zip(
        visits, route_outcomes(session, route=route, orders=orders), strict=True
    ):
        assert visit.order_id is not None
        reason = ""
        if outcome.outcome is not None and outcome.outcome.is_failure:
            reason = reasons.get((visit.order_id, visit.kind), "") or next(
                (r for (o, _), r in reasons.items() if o == visit.order_id), ""
            )
        out.append(
            StopOutcomeOut(
                sequence=visit.sequence,
                order_id=visit.order_id,
                stop=VisitKind(visit.kind),
                outcome=outcome.outcome,
                reason=reason,
                order_status=orders[visit.order_id].status,
            )
        )
    return out


@dataclass
class Closed:
    """A closed route: the answer and the live events for the stream."""

    out: RouteCloseOut
    live: list[dict[str, Any]]


def close_route(
    session: Session,
    *,
    route_ref: RouteRef,
    principal: Principal,
    note: str = "",
    now: dt.datetime | None = None,
    policy: ReattemptPolicy | None = None,
) -> Closed:
    """A dispatcher ends the route's day.

    Every order stop without an outcome on the route gets an explicit
    ``not_attempted`` outcome (a stop event with reason ``not_attempted`` and
    the note); its order fails and is rescheduled by the one re-attempt rule
    (:func:`reschedule_failed`: back to pending, its windows on the next open
    day; a stop not attempted is not counted as an attempt). The route is
    completed, with who closed it and why. 409 unless it is dispatched or
    started. Committed durably before returning.
    """
    now = now or utcnow()
    if route_ref.status not in ("dispatched", "started"):
        raise Conflict(
            f"the route is {route_ref.status}; only dispatched or started routes can be closed"
        )
    route = session.get(Route, route_ref.id)
    assert route is not None
    orders = _orders_of(session, route)
    outcomes = route_outcomes(session, route=route, orders=orders)
    visits = _task_visits(route, orders)
    tz = _zone(session, route_ref.org_id)
    source = f"close:{principal.user_id or principal.api_key_id}"
    fresh: list[models.StopEvent] = []
    live: list[dict[str, Any]] = []
    text = note.strip()
    failed: set[uuid.UUID] = set()
    for visit, outcome in zip(visits, outcomes, strict=True):
        if outcome.outcome is not None:
            continue
        assert visit.order_id is not None
        order = orders[visit.order_id]
        decision: Reattempt | None = None
        if order.id not in failed and order.status in (
            OrderStatus.DISPATCHED.value,
            OrderStatus.EN_ROUTE.value,
            OrderStatus.PICKED_UP.value,
        ):
            apply_event(order, OrderEvent.FAIL)
            failed.add(order.id)
            decision = reschedule_failed(
                session,
                order=order,
                reason=FailureReason.NOT_ATTEMPTED,
                failed_at=now,
                tz=tz,
                earlier=fresh,
                policy=policy,
            )
        row = models.StopEvent(
            id=uuid.uuid4(),
            org_id=route_ref.org_id,
            source=source,
            event_id=f"{route.id}:{visit.sequence}",
            route_id=route.id,
            order_id=order.id,
            stop=visit.kind,
            sequence=visit.sequence,
            kind=StopEventKind.NOT_ATTEMPTED.value,
            reason=FailureReason.NOT_ATTEMPTED.value,
            note=text or "the route was closed",
            order_status=order.status,
            recorded_at=now,
            received_at=now,
            reattempt_on=decision.on if decision is not None else None,
            reattempt_note=decision.why if decision is not None else "",
        )
        fresh.append(row)
        live.append(
            {
                "type": "stop_event",
                "route_id": str(route.id),
                "order_id": str(order.id),
                "sequence": visit.sequence,
                "kind": row.kind,
                "reason": row.reason,
                "order_status": row.order_status,
                "reattempt_on": row.reattempt_on.isoformat() if row.reattempt_on else None,
                "at": now.isoformat(),
            }
        )
    session.add_all(fresh)
    if route.started_at is None:
        route.started_at = now
    route.status = "completed"
    route.completed_at = now
    route.closed_by_id = principal.user_id
    route.closed_at = now
    route.close_note = text
    try:
        with write_turn(session):
            session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("the route is being closed by another request") from None
    live.append({"type": "route_status", "route_id": str(route.id), "status": route.status})
    out = RouteCloseOut(
        route_id=route.id,
        status=route.status,
        completed_at=route.completed_at,
        close_note=route.close_note,
        not_attempted=len(fresh),
        stops=_outcomes_out(session, route, orders),
    )
    return Closed(out, live)
