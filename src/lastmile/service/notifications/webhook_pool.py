"""Webhook calls on worker threads, a few at a time per endpoint.

One slow or dead receiver must only delay itself: :class:`WebhookPool` starts
each due delivery on a thread of its own pool, with at most
``webhook_workers`` calls in flight in the process and at most
``webhook_per_endpoint`` to any one endpoint. A delivery is claimed (leased)
only when it can start at once, so rows of a busy endpoint stay free for the
next round and for other processes; each call is bounded by
``webhook_timeout_s``. Customer messages are sent by another loop
(:func:`lastmile.service.notifications.delivery.send_messages`) and never wait
here.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from lastmile.service.db import utcnow
from lastmile.service.notifications.delivery import Senders, claim_one, deliver_webhook
from lastmile.service.notifications.models import WebhookDelivery
from lastmile.service.notifications.settings import NotifySettings

logger = logging.getLogger(__name__)


class WebhookPool:
    """Delivers due webhooks concurrently, bounded in total and per endpoint."""

    def __init__(self, sessions: sessionmaker[Session], *, workers: int) -> None:
        self.sessions = sessions
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhooks")
        self._workers = workers
        self._lock = threading.Lock()
        self._busy: Counter[uuid.UUID] = Counter()

    def in_flight(self, endpoint_id: uuid.UUID | None = None) -> int:
        """Calls in flight (to ``endpoint_id``, or in all)."""
        with self._lock:
            return self._busy[endpoint_id] if endpoint_id else sum(self._busy.values())

    def _reserve(self, endpoint_id: uuid.UUID, settings: NotifySettings) -> bool:
        with self._lock:
            limit = min(self._workers, settings.webhook_workers)
            if sum(self._busy.values()) >= limit:
                return False
            if self._busy[endpoint_id] >= settings.webhook_per_endpoint:
                return False
            self._busy[endpoint_id] += 1
            return True

    def _release(self, endpoint_id: uuid.UUID) -> None:
        with self._lock:
            self._busy[endpoint_id] -= 1
            if self._busy[endpoint_id] <= 0:
                del self._busy[endpoint_id]

    def dispatch(
        self, *, senders: Senders, settings: NotifySettings, now: dt.datetime | None = None
    ) -> list[Future[bool]]:
        """Start every due delivery there is room for; answers their futures (each
        ``True`` when delivered). Returns at once: the calls run on the pool."""
        now = now or utcnow()
        with self._lock:
            full = [e for e, n in self._busy.items() if n >= settings.webhook_per_endpoint]
        started: list[Future[bool]] = []
        with self.sessions() as session:
            stmt = select(WebhookDelivery.id, WebhookDelivery.endpoint_id).where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until < now),
            )
            if full:
                stmt = stmt.where(WebhookDelivery.endpoint_id.not_in(full))
            due = session.execute(stmt.order_by(WebhookDelivery.next_attempt_at).limit(500)).all()
            for delivery_id, endpoint_id in due:
                if not self._reserve(endpoint_id, settings):
                    continue
                won = claim_one(session, WebhookDelivery, delivery_id, now)
                session.commit()
                if not won:
                    self._release(endpoint_id)
                    continue
                started.append(
                    self._executor.submit(
                        self._deliver, delivery_id, endpoint_id, senders, settings
                    )
                )
        return started

    def _deliver(
        self,
        delivery_id: uuid.UUID,
        endpoint_id: uuid.UUID,
        senders: Senders,
        settings: NotifySettings,
    ) -> bool:
        try:
            with self.sessions() as session:
                session.info["lastmile_outbox_off"] = True
                delivery = session.get(WebhookDelivery, delivery_id)
                if delivery is None:
                    return False
                ok = deliver_webhook(session, delivery=delivery, senders=senders, settings=settings)
                session.commit()
                return ok
        except Exception:  # the lease runs out and the next round tries again
            logger.exception("webhook delivery %s failed", delivery_id)
            return False
        finally:
            self._release(endpoint_id)

    def close(self) -> None:
        """Wait for the calls in flight (each bounded by its timeout); start no more."""
        self._executor.shutdown(wait=True, cancel_futures=True)
