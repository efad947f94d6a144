"""Queueing a text or an answer e-mail for a customer (sent by :mod:`.messages`)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.orm import Session

from lastmile.service.db import utcnow
from lastmile.service.notifications.models import OutboundMessage


def phone_key(number: str) -> str:
    """What two spellings of one phone number share: its last nine digits
    (``+33 6 12 34 56 78``, ``0033612345678`` and ``0612345678`` all give
    ``612345678``). Empty when the number has fewer than six digits."""
    digits = re.sub(r"\D", "", number)
    return digits[-9:] if len(digits) >= 6 else ""


def queue_sms(
    session: Session,
    *,
    org_id: uuid.UUID,
    order_id: uuid.UUID | None,
    to: str,
    text: str,
    notification_id: uuid.UUID | None = None,
) -> OutboundMessage:
    """Queue one text in the caller's transaction (sent by :func:`send_due`)."""
    message = OutboundMessage(
        id=uuid.uuid4(),
        org_id=org_id,
        order_id=order_id,
        notification_id=notification_id,
        channel="sms",
        to=to,
        phone_key=phone_key(to),
        text=text,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message


def queue_email(
    session: Session,
    *,
    org_id: uuid.UUID,
    order_id: uuid.UUID | None,
    to: str,
    subject: str,
    text: str,
) -> OutboundMessage:
    """Queue one e-mail (an answer to a customer) in the caller's transaction."""
    message = OutboundMessage(
        id=uuid.uuid4(),
        org_id=org_id,
        order_id=order_id,
        channel="email",
        to=to,
        subject=subject,
        text=text,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message
