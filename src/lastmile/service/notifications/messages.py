"""Texts (and reply e-mails) to customers: queued as rows, handed to the gateway on
a pool of their own, updated by the gateway's delivery statuses.

A customer message (:func:`.delivery.send_notification`) or an answer to a
customer's reply queues an :class:`OutboundMessage` in the transaction that
decided it. :func:`send_due` claims due rows with a lease (several processes
never send one twice), hands them to the gateway on the SMS pool
(``sms_workers`` at once: webhooks have a pool of their own, so a slow webhook
receiver never holds a text back) and records what the gateway said: ``sent``
with its id, or a failure, tried again after ``sms_backoff_s * 2**(n-1)``
seconds (capped at ``sms_backoff_max_s``) up to ``sms_max_attempts`` times,
at once given up when the gateway says trying again cannot help.
:func:`record_statuses` applies the gateway's delivery statuses (HTTP status
callbacks, SMPP receipts): ``delivered`` or ``failed``, found by the gateway's id
of the message or by our reference (the row's id, sent with the text).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.service.db import utcnow
from lastmile.service.notifications.delivery import Senders, claim_one
from lastmile.service.notifications.gateways import GatewayError, StatusUpdate
from lastmile.service.notifications.models import CustomerNotification, OutboundMessage
from lastmile.service.notifications.queue import phone_key, queue_email, queue_sms
from lastmile.service.notifications.settings import NotifySettings

__all__ = ["phone_key", "queue_email", "queue_sms"]

logger = logging.getLogger("lastmile.sms")


def backoff_s(attempts: int, settings: NotifySettings) -> float:
    """The wait after a text's ``attempts``-th failed attempt (as webhooks': doubling, capped)."""
    return float(min(settings.sms_backoff_max_s, settings.sms_backoff_s * 2 ** (attempts - 1)))


def _sync_notification(session: Session, message: OutboundMessage) -> None:
    """Show the text's status on the customer message it sends."""
    if message.notification_id is None:
        return
    note = session.get(CustomerNotification, message.notification_id)
    if note is None:
        return
    error = message.last_error if message.status == "failed" else ""
    note.channels = [
        {**c, "status": message.status, "error": error}
        if c.get("channel") == message.channel
        else c
        for c in note.channels
    ]


def send_one(
    sessions: sessionmaker[Session],
    message_id: uuid.UUID,
    *,
    senders: Senders,
    settings: NotifySettings,
) -> bool:
    """One attempt at one claimed message; ``True`` when the gateway took it."""
    with sessions() as session:
        session.info["lastmile_outbox_off"] = True
        message = session.get(OutboundMessage, message_id)
        if message is None:
            return False
        channel, to, subject, text = message.channel, message.to, message.subject, message.text
        # The attempt is counted before the gateway is called: a process that dies
        # while sending still uses up one attempt.
        message.attempts += 1
        session.commit()
        error, permanent, answer, gateway = "", False, None, ""
        try:
            if channel == "sms":
                if senders.sms is None:
                    raise GatewayError("no SMS gateway is configured", permanent=True)
                gateway = senders.sms.name
                answer = senders.sms.send(to=to, text=text, reference=str(message_id))
            else:
                if senders.email is None:
                    raise GatewayError("no SMTP server is configured", permanent=True)
                gateway = "smtp"
                senders.email.send(to=to, subject=subject, text=text)
        except GatewayError as exc:
            error, permanent = str(exc), exc.permanent
        except Exception as exc:  # a sender may fail in any way; recorded, tried again
            error = f"{type(exc).__name__}: {exc}"
        now = utcnow()
        message.lease_until = None
        if not error:
            message.gateway = gateway
            if message.status == "pending":  # a status callback may have come first
                message.status = "sent"
            message.sent_at = now
            if answer is not None:
                message.provider_id = answer.provider_id[:128]
                message.part_ids = [p[:128] for p in answer.part_ids]
                message.segments = answer.segments
            message.last_error = ""
        else:
            message.last_error = error[:2000]
            if permanent or message.attempts >= settings.sms_max_attempts:
                message.status, message.status_at = "failed", now
            else:
                message.next_attempt_at = now + dt.timedelta(
                    seconds=backoff_s(message.attempts, settings)
                )
        _sync_notification(session, message)
        session.commit()
        if error:
            logger.warning(
                "%s %s to %s not sent (attempt %d): %s",
                channel,
                message_id,
                to,
                message.attempts,
                error,
            )
        return not error


@dataclass
class SendRound:
    sent: int = 0
    failed: int = 0
    #: Whether the round took as many as it could (more may be due).
    full: bool = False
    errors: list[str] = field(default_factory=list)


def claim_due(
    sessions: sessionmaker[Session], *, limit: int, now: dt.datetime | None = None
) -> list[uuid.UUID]:
    """Take up to ``limit`` due messages with a lease (committed)."""
    now = now or utcnow()
    with sessions() as session:
        due = list(
            session.scalars(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.status == "pending",
                    OutboundMessage.next_attempt_at <= now,
                    or_(
                        OutboundMessage.lease_until.is_(None),
                        OutboundMessage.lease_until < now,
                    ),
                )
                .order_by(OutboundMessage.next_attempt_at)
                .limit(limit)
            )
        )
        taken = [m for m in due if claim_one(session, OutboundMessage, m, now)]
        session.commit()
    return taken


def send_due(
    sessions: sessionmaker[Session],
    *,
    senders: Senders,
    settings: NotifySettings,
    executor: Executor,
    now: dt.datetime | None = None,
) -> SendRound:
    """Claim a batch of due messages (four per worker: each is sent well within its
    lease) and send them on ``executor``; returns when all were tried."""
    batch = settings.sms_workers * 4
    taken = claim_due(sessions, limit=batch, now=now)
    futures = [
        executor.submit(send_one, sessions, m, senders=senders, settings=settings) for m in taken
    ]
    wait(futures)
    report = SendRound(full=len(taken) == batch)
    for future in futures:
        try:
            ok = future.result()
        except Exception as exc:  # the lease runs out and a later round tries again
            logger.exception("sending a message failed")
            report.errors.append(f"{type(exc).__name__}: {exc}")
            ok = False
        if ok:
            report.sent += 1
        else:
            report.failed += 1
    return report


def send_all_due(
    sessions: sessionmaker[Session],
    *,
    senders: Senders,
    settings: NotifySettings,
    executor: Executor,
    stop: Callable[[], bool] = lambda: False,
) -> SendRound:
    """Rounds of :func:`send_due` while they come back full (a burst goes out at the
    pool's pace, not one batch per poll interval)."""
    total = SendRound()
    while True:
        report = send_due(sessions, senders=senders, settings=settings, executor=executor)
        total.sent += report.sent
        total.failed += report.failed
        total.errors += report.errors
        if not report.full or stop():
            return total


# -- delivery statuses ---------------------------------------------------------------------------


def _find(session: Session, update: StatusUpdate, gateway: str) -> OutboundMessage | None:
    if update.reference:
        try:
            found = session.get(OutboundMessage, uuid.UUID(update.reference))
        except ValueError:
            found = None
        if found is not None and found.channel == "sms":
            return found
    if update.provider_id:
        return session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.provider_id == update.provider_id,
                OutboundMessage.channel == "sms",
                or_(OutboundMessage.gateway == gateway, OutboundMessage.gateway == ""),
            )
            .order_by(OutboundMessage.created_at.desc())
            .limit(1)
        ).first()
    return None


def record_statuses(
    session: Session, updates: list[StatusUpdate], *, gateway: str, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Apply delivery statuses; answers (matched, unmatched). Committed."""
    now = now or utcnow()
    matched = unmatched = 0
    for update in updates:
        message = _find(session, update, gateway)
        if message is None:
            unmatched += 1
            logger.info(
                "status %s for an unknown message (id %r, reference %r)",
                update.status,
                update.provider_id,
                update.reference,
            )
            continue
        matched += 1
        message.status, message.status_at = update.status, now
        if update.status == "failed":
            message.last_error = update.error or "the gateway reported a failure"
        _sync_notification(session, message)
    session.commit()
    return matched, unmatched


def message_view(message: OutboundMessage) -> dict[str, Any]:
    """One outbound message as the order's history shows it."""
    return {
        "at": message.created_at,
        "direction": "out",
        "channel": message.channel,
        "party": message.to,
        "subject": message.subject,
        "text": message.text,
        "status": message.status,
        "provider_id": message.provider_id,
        "note": message.last_error,
        "attempts": message.attempts,
    }
