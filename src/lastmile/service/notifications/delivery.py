"""Sending what the outbox queued.

Customer messages and webhooks are sent apart, so messages never wait behind a
slow receiver: :func:`send_messages` (the notifier's message loop, see
runtime.py) and :class:`lastmile.service.notifications.webhook_pool.WebhookPool`
(its webhook loop) claim due rows with a lease (so several processes never send
one twice), send them, and record what happened. Customer messages are worded
with the organisation's templates (:mod:`.message_templates`), in the customer's
language, from the database as it is then. A
webhook goes only to a checked address (:mod:`.guard`: its URL is checked again
before every attempt and the call connects to the address checked, without
following redirects). A webhook that fails (refused, no answer, or not 2xx) is
tried again after ``backoff * 2**(n-1)`` seconds (capped), up to
``webhook_max_attempts`` times; every attempt updates its row in the delivery
log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from lastmile.domain import OrderKind
from lastmile.exceptions import InputError
from lastmile.operations.notify import MessageFacts, NotifyEvent, promise
from lastmile.operations.pod import FailureReason
from lastmile.service.db import utcnow
from lastmile.service.notifications.gateways import SmsGateway
from lastmile.service.notifications.guard import Resolver, check_url, pinned, resolve_host
from lastmile.service.notifications.message_templates import compose_message
from lastmile.service.notifications.models import (
    CustomerNotification,
    OutboundMessage,
    WebhookDelivery,
    WebhookEndpoint,
)
from lastmile.service.notifications.queue import queue_sms
from lastmile.service.notifications.senders import SIGNATURE_HEADER, EmailSender, sign
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order, TrackingLink
from lastmile.service.orders.service import windows_of
from lastmile.service.orgs.models import Organisation
from lastmile.service.plans import models as pm
from lastmile.service.pod.models import Proof
from lastmile.service.security import digest, new_token
from lastmile.service.tracking.models import StopEvent

logger = logging.getLogger(__name__)

_LEASE = dt.timedelta(minutes=2)


# -- sending --------------------------------------------------------------------------------------


@dataclass
class Senders:
    """What the notifier sends with (replace any of them: tests and deployments do)."""

    email: EmailSender | None
    #: Texts go through it on the SMS pool (:mod:`.messages`), not inline.
    sms: SmsGateway | None
    http: httpx.Client
    tracking_base_url: str = ""
    tracking_ttl_s: int = 14 * 86_400
    resolve: Resolver = resolve_host


@dataclass
class SendReport:
    webhooks_delivered: int = 0
    webhooks_failed: int = 0
    messages: int = 0
    #: Texts (and answers by e-mail) handed to their gateway.
    texts: int = 0
    errors: list[str] = field(default_factory=list)


def claim_one(
    session: Session,
    model: type[WebhookDelivery] | type[CustomerNotification] | type[OutboundMessage],
    row_id: uuid.UUID,
    now: dt.datetime,
) -> bool:
    """Take one due row for ``_LEASE`` (an update that only one process wins; not committed)."""
    won = session.execute(
        update(model)
        .where(
            model.id == row_id,
            model.status == "pending",
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .values(lease_until=now + _LEASE)
    )
    return getattr(won, "rowcount", 0) == 1


def _claim(
    session: Session, model: type[WebhookDelivery] | type[CustomerNotification], now: dt.datetime
) -> list[uuid.UUID]:
    """Take due pending rows for ``_LEASE``."""
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
    taken = [row_id for row_id in due if claim_one(session, model, row_id, now)]
    session.commit()
    return taken


def backoff_s(attempts: int, settings: NotifySettings) -> float:
    """The wait after the ``attempts``-th failed attempt."""
    return float(
        min(settings.webhook_backoff_max_s, settings.webhook_backoff_s * 2 ** (attempts - 1))
    )


def _post(
    http: httpx.Client,
    url: httpx.URL,
    *,
    body: bytes,
    headers: dict[str, str],
    extensions: dict[str, Any],
    timeout_s: float,
) -> int:
    """POST once and return the status code; sent again once if the connection
    closed before any answer (a kept-alive connection the receiver had dropped:
    the request was not read, and receivers de-duplicate by delivery id anyway)."""
    for retry in (False, True):
        try:
            # Only the status line and headers are read: a receiver that answers
            # its body slowly holds nothing.
            with http.stream(
                "POST",
                url,
                content=body,
                headers=headers,
                extensions=extensions,
                timeout=timeout_s,
                follow_redirects=False,
            ) as response:
                return response.status_code
        except httpx.RemoteProtocolError:
            if retry:
                raise
    raise AssertionError("unreachable")


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
        target = check_url(endpoint.url, allow=settings.allow(), resolve=senders.resolve)
        url, named, extensions = pinned(target)
        status = _post(
            senders.http,
            url,
            body=body,
            headers={**headers, **named},
            extensions=extensions,
            timeout_s=settings.webhook_timeout_s,
        )
        delivery.last_status_code = status
        ok = 200 <= status < 300
        delivery.last_error = "" if ok else f"answered {status}"
    except InputError as exc:  # refused before connecting: nothing about the receiver is told
        ok = False
        delivery.last_status_code = None
        delivery.last_error = f"refused: {exc}"[:2000]
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


def tracking_url(session: Session, order: Order, senders: Senders) -> str:
    """A new tracking link for the order's customer (empty without a public base URL)."""
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
    org = session.get(Organisation, order.org_id)
    assert org is not None
    pickup = order.kind == OrderKind.PICKUP.value
    raw = order.pickup_windows if pickup else order.delivery_windows
    windows = windows_of(raw)
    window = (min(s for s, _ in windows), max(e for _, e in windows)) if windows else None
    eta = None
    late = False
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
            told = promise(when, windows, now=utcnow(), max_margin_s=settings.eta_window_s // 2)
            eta, late = told.told, told.late
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
        late=late,
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
        url = tracking_url(session, order, senders)
        message = compose_message(
            session,
            event=NotifyEvent(note.event),
            order=order,
            facts=MessageFacts(**{**_fields(facts), "tracking_url": url}),
        )
    except InputError as exc:
        note.status, note.channels = (
            "failed",
            [{"channel": "-", "to": "", "status": "failed", "error": str(exc)}],
        )
        return
    note.subject, note.body = message.subject, message.text
    # A channel that went (or was queued) on an earlier attempt is not sent again.
    done = {
        r["channel"]: r for r in note.channels if r.get("status") in ("sent", "queued", "delivered")
    }
    results = []
    for channel, to, sender in (
        ("email", order.customer_email, senders.email),
        ("sms", order.customer_phone, senders.sms),
    ):
        if not to:
            continue
        if channel in done:
            results.append(done[channel])
            continue
        if sender is None:
            results.append(
                {"channel": channel, "to": to, "status": "skipped", "error": "not configured"}
            )
            continue
        if channel == "sms":
            # Queued in this transaction; the SMS pool sends it and updates this entry.
            queue_sms(
                session,
                org_id=order.org_id,
                order_id=order.id,
                to=to,
                text=message.sms,
                notification_id=note.id,
            )
            results.append({"channel": channel, "to": to, "status": "queued", "error": ""})
            continue
        try:
            senders.email.send(to=to, subject=message.subject, text=message.text)  # type: ignore[union-attr]
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
    if statuses & {"sent", "queued", "delivered"}:
        note.status, note.sent_at = "sent", utcnow()
    elif "failed" in statuses and note.attempts < settings.notify_max_attempts:
        note.next_attempt_at = utcnow() + dt.timedelta(seconds=60 * 2 ** (note.attempts - 1))
    elif "failed" in statuses:
        note.status = "failed"
    else:
        note.status = "skipped"


def _fields(facts: MessageFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in MessageFacts.__slots__}


def send_messages(
    sessions: sessionmaker[Session],
    *,
    senders: Senders,
    settings: NotifySettings,
    now: dt.datetime | None = None,
) -> SendReport:
    """Send every due customer message once (claimed with a lease)."""
    now = now or utcnow()
    report = SendReport()
    with sessions() as session:
        session.info["lastmile_outbox_off"] = True
        for note_id in _claim(session, CustomerNotification, now):
            note = session.get(CustomerNotification, note_id)
            if note is None:
                continue
            # Nothing is written before the e-mail goes: on SQLite a write holds the
            # database's one write lock, which every other writer would wait for while
            # the SMTP server takes its time. The changes are written at the commit.
            with session.no_autoflush:
                send_notification(session, note=note, senders=senders, settings=settings)
            report.messages += 1
            session.commit()
    return report
