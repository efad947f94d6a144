"""The outbox: events and customer moments queued in the transaction that made them.

Whatever changes an order's or a plan's status, stores a stop event or creates
an order goes through the ORM; a ``before_flush`` listener turns those changes
into rows in the same transaction: one :class:`WebhookDelivery` per endpoint
that takes the event, one :class:`CustomerNotification` per customer moment
(dispatched, on the way, delivered, failed, and a window changed after the
customer was told one). Events other features publish
(:func:`lastmile.service.events.publish`: a proof recorded, a plan changed)
are queued the same way. Nothing is sent by the request that made the change,
and nothing is lost if the process dies after the commit. :func:`install_outbox`
registers the listeners (the app does, when it is built). Delays are found by
:func:`scan_delays` from the ETAs tracking keeps on the visits.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from lastmile.operations import OrderStatus
from lastmile.operations.notify import NotifyEvent, promise
from lastmile.service.db import utcnow
from lastmile.service.events import take_published
from lastmile.service.notifications.models import (
    CustomerNotification,
    WebhookDelivery,
    WebhookEndpoint,
)
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order
from lastmile.service.orders.service import windows_of
from lastmile.service.plans import models as pm
from lastmile.service.tracking.models import StopEvent

EVENT_TYPES = (
    "order.created",
    "order.status_changed",
    "order.customer_reply",
    "plan.status_changed",
    "plan.changed",
    "tracking.stop_event",
    "tracking.delay",
    "pod.recorded",
)
_CUSTOMER_MOMENT = {
    OrderStatus.DISPATCHED.value: NotifyEvent.DISPATCHED,
    OrderStatus.EN_ROUTE.value: NotifyEvent.ON_THE_WAY,
    OrderStatus.COMPLETED.value: NotifyEvent.DELIVERED,
    OrderStatus.FAILED.value: NotifyEvent.FAILED,
}
#: A failed attempt is told a little later, once its re-attempt is decided.
_FAILED_GRACE = dt.timedelta(seconds=5)


# -- emitting -------------------------------------------------------------------------------


def _endpoints(session: Session, org_id: uuid.UUID) -> list[WebhookEndpoint]:
    cache: dict[uuid.UUID, list[WebhookEndpoint]] = session.info.setdefault(
        "lastmile_webhook_endpoints", {}
    )
    if org_id not in cache:
        with session.no_autoflush:
            cache[org_id] = list(
                session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.org_id == org_id, WebhookEndpoint.active.is_(True)
                    )
                )
            )
    return cache[org_id]


def emit(
    session: Session, *, org_id: uuid.UUID, event_type: str, data: dict[str, Any]
) -> uuid.UUID:
    """Queue ``event_type`` for every active endpoint of the organisation that takes it,
    in the caller's transaction. Returns the event id (the same for every endpoint)."""
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": event_type,
        "created_at": utcnow().isoformat(),
        "data": data,
    }
    for endpoint in _endpoints(session, org_id):
        if endpoint.events and event_type not in endpoint.events:
            continue
        session.add(
            WebhookDelivery(
                org_id=org_id,
                endpoint_id=endpoint.id,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                next_attempt_at=utcnow(),
            )
        )
    return event_id


def _status_change(obj: object) -> tuple[str | None, str] | None:
    history = inspect(obj).attrs.status.history
    if not history.has_changes():
        return None
    old = history.deleted[0] if history.deleted else None
    new = history.added[0] if history.added else None
    if new is None or old == new:
        return None
    return old, new


#: Where a customer has been told when to expect their order: a change of its window
#: is told to them (``window_changed``).
_TOLD_WINDOW = frozenset(
    {OrderStatus.DISPATCHED.value, OrderStatus.EN_ROUTE.value, OrderStatus.FAILED.value}
)


def _window_changed(order: Order) -> bool:
    """Whether the flush changes the windows of the customer's stop of an order whose
    customer was told one (and can be written to)."""
    if order.status not in _TOLD_WINDOW or not (order.customer_email or order.customer_phone):
        return False
    name = "pickup_windows" if order.kind == "pickup" else "delivery_windows"
    history = inspect(order).attrs[name].history
    if not history.has_changes() or not history.deleted:
        return False
    return windows_of(history.deleted[0]) != windows_of(getattr(order, name))


def _outbox(session: Session, flush_context: Any, instances: Any) -> None:
    """Turn the changes being flushed into queued webhooks and customer messages."""
    del flush_context, instances
    _queue_published(session)
    if session.info.get("lastmile_outbox_off"):
        return
    for obj in list(session.new):
        if isinstance(obj, Order) and obj.org_id is not None:
            emit(
                session,
                org_id=obj.org_id,
                event_type="order.created",
                data={"order_id": str(obj.id), "external_id": obj.external_id, "kind": obj.kind},
            )
        elif isinstance(obj, StopEvent):
            emit(
                session,
                org_id=obj.org_id,
                event_type="tracking.stop_event",
                data={
                    "route_id": str(obj.route_id),
                    "order_id": str(obj.order_id) if obj.order_id else None,
                    "stop": obj.stop,
                    "kind": obj.kind,
                    "reason": obj.reason,
                    "at": obj.recorded_at.isoformat() if obj.recorded_at else None,
                },
            )
    for obj in list(session.dirty):
        if isinstance(obj, Order):
            if _window_changed(obj):
                session.add(
                    CustomerNotification(
                        org_id=obj.org_id,
                        order_id=obj.id,
                        event=NotifyEvent.WINDOW_CHANGED.value,
                        detail={"status": obj.status},
                        next_attempt_at=utcnow(),
                    )
                )
            change = _status_change(obj)
            if change is None:
                continue
            old, new = change
            emit(
                session,
                org_id=obj.org_id,
                event_type="order.status_changed",
                data={
                    "order_id": str(obj.id),
                    "external_id": obj.external_id,
                    "from": old,
                    "to": new,
                },
            )
            moment = _CUSTOMER_MOMENT.get(new)
            if moment is not None and (obj.customer_email or obj.customer_phone):
                later = _FAILED_GRACE if moment is NotifyEvent.FAILED else dt.timedelta(0)
                session.add(
                    CustomerNotification(
                        org_id=obj.org_id,
                        order_id=obj.id,
                        event=moment.value,
                        detail={"from": old, "to": new},
                        next_attempt_at=utcnow() + later,
                    )
                )
        elif isinstance(obj, pm.Plan):
            change = _status_change(obj)
            if change is not None:
                emit(
                    session,
                    org_id=obj.org_id,
                    event_type="plan.status_changed",
                    data={"plan_id": str(obj.id), "from": change[0], "to": change[1]},
                )


def _queue_published(session: Session) -> None:
    """Queue the events features published in the session (:mod:`lastmile.service.events`)."""
    for published in take_published(session):
        emit(
            session,
            org_id=published.org_id,
            event_type=published.event_type,
            data=published.data,
        )


def _before_commit(session: Session) -> None:
    _queue_published(session)


def _after_rollback(session: Session) -> None:
    take_published(session)  # published in a transaction that did not happen


_LISTENERS = (
    ("before_flush", _outbox),
    ("before_commit", _before_commit),
    ("after_rollback", _after_rollback),
)


def install_outbox() -> None:
    """Make every session queue its events: the ORM changes above and what features
    published. Called when the app is built; calling it again changes nothing."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


# -- delays -------------------------------------------------------------------------------------


def _windows(order: Order, kind: str) -> list[tuple[dt.datetime, dt.datetime]]:
    raw = order.pickup_windows if kind == "pickup" or order.kind == "pickup" else None
    return windows_of(raw if raw is not None else order.delivery_windows)


def scan_delays(session: Session, *, settings: NotifySettings, now: dt.datetime) -> int:
    """Queue a ``delay`` message (and a ``tracking.delay`` webhook, the dispatcher's
    alert) for each order on a route on the road whose predicted start of service
    (:func:`lastmile.operations.notify.promise`, from the ETA tracking keeps) is
    after its last window, once, and again when it slips by ``delay_renotify_s``
    more. Returns how many were queued."""
    rows = session.execute(
        select(pm.Visit, Order)
        .join(pm.Route, pm.Route.id == pm.Visit.route_id)
        .join(Order, Order.id == pm.Visit.order_id)
        .where(
            pm.Route.status == "started",
            Order.status.in_((OrderStatus.EN_ROUTE.value, OrderStatus.PICKED_UP.value)),
            pm.Visit.kind.in_(("job", "delivery", "pickup")),
        )
    ).all()
    queued = 0
    for visit, order in rows:
        if order.status == OrderStatus.PICKED_UP.value and visit.kind == "pickup":
            continue
        windows = _windows(order, visit.kind)
        if not windows or visit.eta_at is None or visit.eta_at < now:
            continue
        told = promise(visit.eta_at, windows, now=now)
        if not told.late:
            continue
        end = max(e for _, e in windows)
        last = session.scalars(
            select(CustomerNotification)
            .where(CustomerNotification.order_id == order.id, CustomerNotification.event == "delay")
            .order_by(CustomerNotification.created_at.desc())
            .limit(1)
        ).first()
        if last is not None:
            before = dt.datetime.fromisoformat(last.detail.get("eta", "1970-01-01T00:00:00+00:00"))
            if visit.eta_at - before < dt.timedelta(seconds=settings.delay_renotify_s):
                continue
        detail = {
            "eta": visit.eta_at.isoformat(),
            "expected_start": told.expected.isoformat(),
            "window_end": end.isoformat(),
        }
        emit(
            session,
            org_id=order.org_id,
            event_type="tracking.delay",
            data={"order_id": str(order.id), "route_id": str(visit.route_id), **detail},
        )
        session.add(
            CustomerNotification(
                org_id=order.org_id,
                order_id=order.id,
                event=NotifyEvent.DELAY.value,
                detail=detail,
                next_attempt_at=now,
                status="pending" if (order.customer_email or order.customer_phone) else "skipped",
            )
        )
        queued += 1
    session.commit()
    return queued
