"""Events a feature announces for webhooks, published on the database session.

A feature that changes something worth telling (a proof recorded, a plan
changed) calls :func:`publish` in its transaction; the notifications outbox
(:mod:`lastmile.service.notifications.outbox`, installed by the app) takes the
published events when the session flushes or commits and queues their
deliveries in the same transaction. Events of a transaction rolled back are
dropped with it. So no feature needs to know who listens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

#: ``Session.info`` key: events published and not yet taken by the outbox.
_PUBLISHED = "lastmile.events"


@dataclass(frozen=True, slots=True)
class Event:
    """One event: its type (see ``notifications.outbox.EVENT_TYPES``) and data."""

    org_id: uuid.UUID
    event_type: str
    data: dict[str, Any]


def publish(session: Session, *, org_id: uuid.UUID, event_type: str, data: dict[str, Any]) -> None:
    """Announce ``event_type`` in the session's transaction."""
    session.info.setdefault(_PUBLISHED, []).append(Event(org_id, event_type, data))


def take_published(session: Session) -> list[Event]:
    """The events published in ``session`` since the last call (for the outbox)."""
    events: list[Event] = session.info.pop(_PUBLISHED, [])
    return events
