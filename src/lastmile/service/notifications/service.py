"""Events, customer messages, webhooks and customer replies.

**Where events come from.** Whatever changes an order's or a plan's status,
stores a stop event or creates an order goes through the ORM; a
``before_flush`` listener turns those changes into rows in the same
transaction (an outbox): one :class:`WebhookDelivery` per endpoint that takes
the event, one :class:`CustomerNotification` per customer moment (dispatched,
on the way, delivered, failed). Nothing is sent by the request that made the
change, and nothing is lost if the process dies after the commit. Delays are
found by :func:`scan_delays` from the ETAs tracking keeps on the visits.

**How they leave.** :func:`send_due` (run by the notifier, see runtime.py)
claims due rows with a lease (so several processes never send one twice),
renders customer messages with :mod:`lastmile.operations.notify` from the
database as it is then, sends them, and records what happened. A webhook that
fails (no answer, or not 2xx) is tried again after ``backoff * 2**(n-1)``
seconds (capped), up to ``webhook_max_attempts`` times; every attempt updates
its row in the delivery log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import event, inspect, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderStatus
from lastmile.operations.notify import MessageFacts, NotifyEvent, eta_window, render
from lastmile.operations.pod import FailureReason
from lastmile.service.db import utcnow
from lastmile.service.errors import NotFound
from lastmile.service.notifications.models import (
    CustomerNotification,
    CustomerReply,
    WebhookDelivery,
    WebhookEndpoint,
)
from lastmile.service.notifications.senders import (
    SIGNATURE_HEADER,
    EmailSender,
    SmsProvider,
    sign,
)
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order, TrackingLink
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import models as pm
from lastmile.service.security import digest, new_token
from lastmile.service.tracking.models import StopEvent

logger = logging.getLogger(__name__)

#: Every event type a webhook can receive.
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
_LEASE = dt.timedelta(minutes=2)


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


@event.listens_for(Session, "before_flush")
def _outbox(session: Session, flush_context: Any, instances: Any) -> None:
    """Turn the changes being flushed into queued webhooks and customer messages."""
    del flush_context, instances
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


# -- delays -------------------------------------------------------------------------------------


def _window_end(order: Order, kind: str) -> dt.datetime | None:
    raw = order.pickup_windows if kind == "pickup" or order.kind == "pickup" else None
    windows = windows_of(raw if raw is not None else order.delivery_windows)
    return max((end for _, end in windows), default=None)


def scan_delays(session: Session, *, settings: NotifySettings, now: dt.datetime) -> int:
    """Queue a ``delay`` message (and a ``tracking.delay`` webhook) for each order on a
    route on the road whose ETA is after its window, once, and again when it slips by
    ``delay_renotify_s`` more. Returns how many were queued."""
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
        end = _window_end(order, visit.kind)
        if end is None or visit.eta_at <= end or visit.eta_at < now:
            continue
        told = session.scalars(
            select(CustomerNotification)
            .where(CustomerNotification.order_id == order.id, CustomerNotification.event == "delay")
            .order_by(CustomerNotification.created_at.desc())
            .limit(1)
        ).first()
        if told is not None:
            before = dt.datetime.fromisoformat(told.detail.get("eta", "1970-01-01T00:00:00+00:00"))
            if visit.eta_at - before < dt.timedelta(seconds=settings.delay_renotify_s):
                continue
        detail = {"eta": visit.eta_at.isoformat(), "window_end": end.isoformat()}
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


# -- sending --------------------------------------------------------------------------------------


@dataclass
class Senders:
    """What the notifier sends with (replace any of them: tests and deployments do)."""

    email: EmailSender | None
    sms: SmsProvider | None
    http: httpx.Client
    tracking_base_url: str = ""
    tracking_ttl_s: int = 14 * 86_400


@dataclass
class SendReport:
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(
    session: Session, model: type[WebhookDelivery] | type[CustomerNotification], now: dt.datetime
) -> list[uuid.UUID]:
    """Take due pending rows for ``_LEASE`` (an update that only one process wins)."""
    due = list(
        session.scalars(
            select(model.id)
            .where(
                model.status == "pending",
                model.next_attempt_at <= now,
                or_(model.lease_until.is_(None), model.lease_until < now),
            )
            .order_by(model.next_attempt_at)
            .limit(100)
        )
    )
    taken = []
    for row_id in due:
        won = session.execute(
            update(model)
            .where(
                model.id == row_id,
                model.status == "pending",
                or_(model.lease_until.is_(None), model.lease_until < now),
            )
            .values(lease_until=now + _LEASE)
        )
        if getattr(won, "rowcount", 0) == 1:
            taken.append(row_id)
    session.commit()
    return taken


def backoff_s(attempts: int, settings: NotifySettings) -> float:
    """The wait after the ``attempts``-th failed attempt."""
    return float(
        min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2 ** (attempts - 1))
    )


def deliver_webhook(
    session: Session, *, delivery: WebhookDelivery, senders: Senders, settings: NotifySettings
) -> bool:
    """One attempt at one delivery; updates its row (not committed)."""
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    now = utcnow()
    delivery.attempts += 1
    delivery.lease_until = None
    if endpoint is None or not endpoint.active:
        delivery.status, delivery.last_error = "failed", "the endpoint was removed or disabled"
        return False
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "lastmile-webhooks",
        "X-Lastmile-Event": delivery.event_type,
        "X-Lastmile-Delivery": str(delivery.id),
        SIGNATURE_HEADER: sign(endpoint.secret, body),
    }
    try:
        response = senders.http.post(
            endpoint.url, content=body, headers=headers, timeout=settings.webhook_timeout_s
        )
        delivery.last_status_code = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"answered {response.status_code}"
    except httpx.HTTPError as exc:
        ok = False
        delivery.last_status_code = None
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if ok:
        delivery.status, delivery.delivered_at = "delivered", now
    elif delivery.attempts >= settings.webhook_max_attempts:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = now + dt.timedelta(
            seconds=backoff_s(delivery.attempts, settings)
        )
    return ok


def _tracking_url(session: Session, order: Order, senders: Senders) -> str:
    if not senders.tracking_base_url:
        return ""
    token = new_token(nbytes=24)
    session.add(
        TrackingLink(
            org_id=order.org_id,
            order_id=order.id,
            token_hash=digest(token),
            expires_at=utcnow() + dt.timedelta(seconds=senders.tracking_ttl_s),
        )
    )
    return f"{senders.tracking_base_url.rstrip('/')}/track/{token}"


def message_facts(
    session: Session, *, note: CustomerNotification, order: Order, settings: NotifySettings
) -> MessageFacts:
    """What the message for ``note`` can say, from the database as it is now."""
    from lastmile.service.pod.models import Proof

    org = session.get(Organisation, order.org_id)
    assert org is not None
    pickup = order.kind == OrderKind.PICKUP.value
    raw = order.pickup_windows if pickup else order.delivery_windows
    windows = windows_of(raw)
    window = (min(s for s, _ in windows), max(e for _, e in windows)) if windows else None
    eta = None
    if note.event in (NotifyEvent.ON_THE_WAY.value, NotifyEvent.DELAY.value):
        at = note.detail.get("eta")
        when = dt.datetime.fromisoformat(at) if at else None
        if when is None:
            when = session.scalar(
                select(pm.Visit.eta_at)
                .join(pm.Route, pm.Route.id == pm.Visit.route_id)
                .where(
                    pm.Visit.order_id == order.id,
                    pm.Visit.kind.in_(("job", "delivery", "pickup")),
                    pm.Route.status.in_(("dispatched", "started")),
                )
                .order_by(pm.Visit.eta_at.desc())
                .limit(1)
            )
        if when is not None:
            eta = eta_window(when, width_s=settings.eta_window_s)
    proof = session.scalars(
        select(Proof).where(Proof.order_id == order.id).order_by(Proof.created_at.desc()).limit(1)
    ).first()
    received_by = reason = ""
    next_attempt: tuple[dt.datetime, dt.datetime] | dt.date | None = None
    if proof is not None:
        received_by = proof.recipient_name
        if proof.failure_reason:
            try:
                reason = FailureReason(proof.failure_reason).description
            except ValueError:
                reason = proof.failure_reason
        if proof.reattempt_on is not None:
            same_day = [w for w in windows if w[0].date() >= proof.reattempt_on]
            next_attempt = same_day[0] if same_day else proof.reattempt_on
    if note.event == NotifyEvent.FAILED.value and not reason:
        last = session.scalars(
            select(StopEvent)
            .where(StopEvent.order_id == order.id, StopEvent.kind == "failed")
            .order_by(StopEvent.recorded_at.desc())
            .limit(1)
        ).first()
        reason = last.reason.replace("_", " ") if last is not None else ""
    return MessageFacts(
        order_ref=order.external_id or str(order.id)[:8],
        tz=zoneinfo.ZoneInfo(org.timezone),
        customer_name=order.customer_name,
        sender=org.name,
        window=window,
        eta=eta,
        received_by=received_by,
        reason=reason,
        next_attempt=next_attempt,
        pickup=pickup,
    )


def send_notification(
    session: Session, *, note: CustomerNotification, senders: Senders, settings: NotifySettings
) -> None:
    """Render and send one customer message on every channel the customer has."""
    note.attempts += 1
    note.lease_until = None
    order = session.get(Order, note.order_id)
    if order is None or not settings.notify_customers:
        note.status = "skipped"
        return
    try:
        facts = message_facts(session, note=note, order=order, settings=settings)
        if (
            note.event in (NotifyEvent.ON_THE_WAY.value, NotifyEvent.DELAY.value)
            and facts.eta is None
        ):
            note.status = "skipped"
            note.channels = [{"channel": "-", "to": "", "status": "skipped", "error": "no ETA"}]
            return
        url = _tracking_url(session, order, senders)
        message = render(
            NotifyEvent(note.event), MessageFacts(**{**_fields(facts), "tracking_url": url})
        )
    except InputError as exc:
        note.status, note.channels = (
            "failed",
            [{"channel": "-", "to": "", "status": "failed", "error": str(exc)}],
        )
        return
    note.subject, note.body = message.subject, message.text
    results = []
    for channel, to, sender in (
        ("email", order.customer_email, senders.email),
        ("sms", order.customer_phone, senders.sms),
    ):
        if not to:
            continue
        if sender is None:
            results.append(
                {"channel": channel, "to": to, "status": "skipped", "error": "not configured"}
            )
            continue
        try:
            if channel == "email":
                senders.email.send(to=to, subject=message.subject, text=message.text)  # type: ignore[union-attr]
            else:
                senders.sms.send(to=to, text=message.sms)  # type: ignore[union-attr]
            results.append({"channel": channel, "to": to, "status": "sent", "error": ""})
        except Exception as exc:  # a sender may fail in any way; it is recorded, not raised
            results.append(
                {
                    "channel": channel,
                    "to": to,
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}"[:500],
                }
            )
    note.channels = results
    statuses = {r["status"] for r in results}
    if "sent" in statuses:
        note.status, note.sent_at = "sent", utcnow()
    elif "failed" in statuses and note.attempts < settings.notify_max_attempts:
        note.next_attempt_at = utcnow() + dt.timedelta(seconds=60 * 2 ** (note.attempts - 1))
    elif "failed" in statuses:
        note.status = "failed"
    else:
        note.status = "skipped"


def _fields(facts: MessageFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in MessageFacts.__slots__}


def send_due(
    sessions: sessionmaker[Session],
    *,
    senders: Senders,
    settings: NotifySettings,
    now: dt.datetime | None = None,
) -> SendReport:
    """Send every due webhook and customer message once (claimed with a lease)."""
    now = now or utcnow()
    report = SendReport()
    with sessions() as session:
        session.info["lastmile_outbox_off"] = True
        for delivery_id in _claim(session, WebhookDelivery, now):
            delivery = session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                continue
            if deliver_webhook(session, delivery=delivery, senders=senders, settings=settings):
                report.webhooks_delivered += 1
            else:
                report.webhooks_failed += 1
            session.commit()
        for note_id in _claim(session, CustomerNotification, now):
            note = session.get(CustomerNotification, note_id)
            if note is None:
                continue
            send_notification(session, note=note, senders=senders, settings=settings)
            report.messages += 1
            session.commit()
    return report


# -- webhook endpoints ----------------------------------------------------------------------------


def check_events(events: Iterable[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InputError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            where="events",
        )
    return list(dict.fromkeys(events))


def create_endpoint(
    session: Session, *, org_id: uuid.UUID, url: str, events: list[str], description: str
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        org_id=org_id,
        url=url,
        secret=f"whsec_{secrets.token_urlsafe(32)}",
        events=check_events(events),
        description=description,
    )
    session.add(endpoint)
    session.commit()
    return endpoint


def get_endpoint(session: Session, *, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.org_id != org_id:
        raise NotFound("webhook endpoint not found")
    return endpoint


# -- customer replies ------------------------------------------------------------------------------


def order_of_link(session: Session, *, token: str) -> Order:
    """The order a customer's tracking link is for (401 handled by the caller when None)."""
    link = session.scalar(select(TrackingLink).where(TrackingLink.token_hash == digest(token)))
    if link is None or link.revoked_at is not None or link.expires_at <= utcnow():
        raise NotFound("unknown or expired tracking link")
    order = session.get(Order, link.order_id)
    if order is None:
        raise NotFound("unknown or expired tracking link")
    return order


REPLY_KINDS = ("instructions", "new_window", "leave_with_neighbour")
_MAX_AHEAD = dt.timedelta(days=14)
_MIN_WINDOW = dt.timedelta(minutes=30)


def _append(existing: str, line: str) -> str:
    text = f"{existing.rstrip()}\n{line}" if existing.strip() else line
    return text[-4000:]


def record_reply(
    session: Session,
    *,
    order: Order,
    kind: str,
    text: str = "",
    window: tuple[dt.datetime, dt.datetime] | None = None,
    neighbour_name: str = "",
    neighbour_address: str = "",
    now: dt.datetime | None = None,
) -> CustomerReply:
    """Check a customer's reply and store it on the order.

    ``instructions`` and ``leave_with_neighbour`` are added to the order's
    instructions. ``new_window`` (at least 30 minutes, starting in the future,
    within 14 days) replaces the order's windows while its contents may still
    change (pending, planned, failed); later it is kept for the dispatcher
    (``applied`` false, with the reason). Raises :class:`InputError` naming
    the field at fault.
    """
    now = now or utcnow()
    status = OrderStatus(order.status)
    if status.is_final:
        raise InputError(f"the order is {status.value}: replies are closed", where="kind")
    reply = CustomerReply(org_id=order.org_id, order_id=order.id, kind=kind, created_at=now)
    if kind == "instructions":
        if not text.strip():
            raise InputError("write the instructions", where="text")
        reply.text = text.strip()
        order.instructions = _append(order.instructions, f"Customer: {reply.text}")
        reply.applied = True
    elif kind == "leave_with_neighbour":
        if not neighbour_name.strip():
            raise InputError("give the neighbour's name", where="neighbour_name")
        reply.neighbour_name = neighbour_name.strip()
        reply.neighbour_address = neighbour_address.strip()
        reply.text = text.strip()
        where = f" ({reply.neighbour_address})" if reply.neighbour_address else ""
        extra = f": {reply.text}" if reply.text else ""
        order.instructions = _append(
            order.instructions, f"Leave with neighbour {reply.neighbour_name}{where}{extra}"
        )
        reply.applied = True
    elif kind == "new_window":
        if window is None:
            raise InputError("give window_start and window_end", where="window_start")
        start, end = window
        if end - start < _MIN_WINDOW:
            raise InputError("the window must last at least 30 minutes", where="window_end")
        if start < now:
            raise InputError("the window must start in the future", where="window_start")
        if end > now + _MAX_AHEAD:
            raise InputError("the window must end within 14 days", where="window_end")
        reply.window_start, reply.window_end = start, end
        reply.text = text.strip()
        if status.is_editable:
            raw = [
                {
                    "start": start.astimezone(dt.UTC).isoformat(),
                    "end": end.astimezone(dt.UTC).isoformat(),
                }
            ]
            if order.kind == OrderKind.PICKUP.value:
                order.pickup_windows = raw
            else:
                order.delivery_windows = raw
            reply.applied = True
        else:
            reply.note = (
                f"the order is already {status.value.replace('_', ' ')}: the dispatcher decides"
            )
    else:
        raise InputError(f"choose one of {', '.join(REPLY_KINDS)}", where="kind")
    session.add(reply)
    emit(
        session,
        org_id=order.org_id,
        event_type="order.customer_reply",
        data={
            "order_id": str(order.id),
            "external_id": order.external_id,
            "kind": kind,
            "applied": reply.applied,
        },
    )
    session.commit()
    return reply
