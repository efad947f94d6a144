"""Stop events: what drivers report at stops (arrived, delivered, picked_up,
failed), applied to the route's orders through their lifecycle, all or nothing,
stored durably and idempotently (by the sender's ``event_id``, as pings), and
the live events saying what changed."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind, VisitKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderEvent, OrderStatus
from lastmile.operations.progress import StopEventKind, order_event_for
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, FieldError, Unprocessable
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import apply_event
from lastmile.service.plans.models import Route, Visit
from lastmile.service.tracking import models
from lastmile.service.tracking.access import RouteRef, ensure_live
from lastmile.service.tracking.durability import write_turn
from lastmile.service.tracking.schemas import StopEventIn, StopEventOut


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
        at=row.recorded_at,
        received_at=row.received_at,
        duplicate=duplicate,
    )


def _find_visit(
    event: StopEventIn, visits: Sequence[Visit], orders: Mapping[uuid.UUID, Order]
) -> Visit | str:
    """The task visit ``event`` is about, or the reason it names none."""
    tasks = [v for v in visits if v.kind in ("job", "pickup", "delivery")]
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
) -> StopEventsResult:
    """Apply stop events to the route's orders through the lifecycle, all or nothing.

    Events already stored (same sender and event id) are reported as
    duplicates and change nothing. The first report of a dispatched route
    starts it; a route whose every order stop is finished is completed.
    Committed durably before returning.
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
    finished = {OrderStatus.COMPLETED.value, OrderStatus.FAILED.value, OrderStatus.CANCELLED.value}
    if route.status == "started" and all(
        orders[v.order_id].status in finished
        for v in visits
        if v.order_id is not None and v.order_id in orders
    ):
        route.status = "completed"
    session.add_all(fresh.values())
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
                "at": row.recorded_at.isoformat(),
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
