"""Webhook endpoints and their delivery log, an order's customer messages, and
customer replies through the tracking link.

What is queued and when is :mod:`.outbox`; how it is sent is :mod:`.delivery`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations import OrderStatus
from lastmile.service.db import utcnow
from lastmile.service.errors import NotFound
from lastmile.service.notifications.guard import Allow, Resolver, check_url, resolve_host
from lastmile.service.notifications.models import (
    CustomerNotification,
    CustomerReply,
    InboundMessage,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from lastmile.service.notifications.outbox import EVENT_TYPES, emit
from lastmile.service.orders.models import Order, TrackingLink
from lastmile.service.orders.schemas import INSTRUCTIONS_MAX_LENGTH
from lastmile.service.security import digest

# -- webhook endpoints ----------------------------------------------------------------------------


def event_types() -> list[str]:
    """Every event type a webhook can receive."""
    return list(EVENT_TYPES)


def check_events(events: Iterable[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise InputError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}",
            where="events",
        )
    return list(dict.fromkeys(events))


def create_endpoint(
    session: Session,
    *,
    org_id: uuid.UUID,
    url: str,
    events: list[str],
    description: str,
    allow: Allow,
    resolve: Resolver = resolve_host,
) -> WebhookEndpoint:
    """Register a receiver; its URL must reach a public address (or one ``allow``
    permits): :func:`lastmile.service.notifications.guard.check_url`."""
    check_url(url, allow=allow, resolve=resolve)
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


def list_endpoints(session: Session, *, org_id: uuid.UUID) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.org_id == org_id)
            .order_by(WebhookEndpoint.created_at)
        )
    )


def delete_endpoint(session: Session, *, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Remove an endpoint; its pending deliveries are dropped."""
    session.delete(get_endpoint(session, org_id=org_id, endpoint_id=endpoint_id))
    session.commit()


def list_deliveries(
    session: Session,
    *,
    org_id: uuid.UUID,
    endpoint_id: uuid.UUID | None,
    status: str | None,
    limit: int,
) -> list[WebhookDelivery]:
    """The delivery log, most recent first."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.org_id == org_id)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list(session.scalars(stmt.order_by(WebhookDelivery.created_at.desc()).limit(limit)))


def get_endpoint(session: Session, *, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.org_id != org_id:
        raise NotFound("webhook endpoint not found")
    return endpoint


# -- an order's messages and replies ------------------------------------------------------------


def order_notifications(session: Session, *, order: Order) -> list[CustomerNotification]:
    """The messages sent (or queued) to the order's customer, oldest first."""
    return list(
        session.scalars(
            select(CustomerNotification)
            .where(CustomerNotification.order_id == order.id)
            .order_by(CustomerNotification.created_at)
        )
    )


def order_replies(session: Session, *, order: Order) -> list[CustomerReply]:
    """What the order's customer replied through their tracking link, oldest first."""
    return list(
        session.scalars(
            select(CustomerReply)
            .where(CustomerReply.order_id == order.id)
            .order_by(CustomerReply.created_at)
        )
    )


def order_outbound(session: Session, *, order: Order) -> list[OutboundMessage]:
    """The texts and answer e-mails queued for the order's customer, oldest first."""
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.order_id == order.id)
            .order_by(OutboundMessage.created_at)
        )
    )


def order_inbound(session: Session, *, order: Order) -> list[InboundMessage]:
    """What the order's customer sent back by text or e-mail, oldest first."""
    return list(
        session.scalars(
            select(InboundMessage)
            .where(InboundMessage.order_id == order.id)
            .order_by(InboundMessage.created_at)
        )
    )


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
    """``line`` added to the instructions ``existing``; refused (422 naming
    ``instructions``) when they would grow past the orders' limit."""
    text = f"{existing.rstrip()}\n{line}" if existing.strip() else line
    if len(text) > INSTRUCTIONS_MAX_LENGTH:
        left = max(0, INSTRUCTIONS_MAX_LENGTH - len(text) + len(line))
        raise InputError(
            f"the order's instructions would have {len(text)} characters with this reply; "
            f"at most {INSTRUCTIONS_MAX_LENGTH} ({left} left for a reply)",
            where="instructions",
        )
    return text


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
    instructions, within the orders' limit (``INSTRUCTIONS_MAX_LENGTH``: a reply
    that would pass it is refused, naming ``instructions``). ``new_window`` (at
    least 30 minutes, starting in the future, within 14 days) replaces the
    order's windows while its contents may still change (pending, planned,
    failed); later it is kept for the dispatcher (``applied`` false, with the
    reason). Raises :class:`InputError` naming
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
