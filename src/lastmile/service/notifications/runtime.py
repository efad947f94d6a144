"""The notifier: background tasks in each API process that send queued webhooks,
customer messages and texts, and look for delays.

Customer messages (and the delay scan), texts and webhooks run in three loops of
their own: texts are handed to the SMS gateway on a pool of their own
(:mod:`.messages`, ``sms_workers`` at once, which also collects what the gateway's
connection brought back: SMPP receipts and replies), and webhook calls run on
another pool, a few at a time per endpoint (:mod:`.webhook_pool`): a slow
receiver delays neither other organisations' webhooks nor any customer's
message or text. The router's lifespan builds a
:class:`Notifier` into ``app.state.notifier`` after the app's start-up and stops
it before shut-down. Its senders are attributes:
replace ``notifier.senders`` (or set ``app.state.notify_settings`` before start)
to send elsewhere; tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lastmile.service.db import utcnow
from lastmile.service.notifications import delivery, messages
from lastmile.service.notifications.gateways import make_gateway
from lastmile.service.notifications.inbound import handle_answer
from lastmile.service.notifications.outbox import scan_delays
from lastmile.service.notifications.senders import SmtpEmailSender
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.notifications.webhook_pool import WebhookPool

logger = logging.getLogger(__name__)


def make_senders(settings: NotifySettings, *, base_url: str, ttl_s: int) -> delivery.Senders:
    email = (
        SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
        )
        if settings.smtp_host
        else None
    )
    return delivery.Senders(
        email=email,
        sms=make_gateway(settings),
        http=httpx.Client(follow_redirects=False),
        tracking_base_url=base_url,
        tracking_ttl_s=ttl_s,
    )


@dataclass
class Notifier:
    """Sends what is due every ``notify_poll_s``; scans for delays every ``delay_scan_s``."""

    settings: NotifySettings
    sessions: sessionmaker[Session]
    senders: delivery.Senders
    pool: WebhookPool | None = None
    sms_pool: ThreadPoolExecutor | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _last_scan: float = field(default=0.0)
    _stopping: asyncio.Event | None = None

    def __post_init__(self) -> None:
        if self.pool is None:
            self.pool = WebhookPool(self.sessions, workers=self.settings.webhook_workers)
        if self.sms_pool is None:
            self.sms_pool = ThreadPoolExecutor(
                max_workers=self.settings.sms_workers, thread_name_prefix="sms"
            )

    def send_messages_once(self) -> delivery.SendReport:
        """Delays first (when a scan is due), then every due customer message."""
        if time.monotonic() - self._last_scan >= self.settings.delay_scan_s:
            self._last_scan = time.monotonic()
            with self.sessions() as session:
                scan_delays(session, settings=self.settings, now=utcnow())
        return delivery.send_messages(self.sessions, senders=self.senders, settings=self.settings)

    def collect_received(self) -> int:
        """Apply what the gateway's own connection brought back (SMPP delivery receipts
        and customers' texts); answers how many."""
        gateway = self.senders.sms
        if gateway is None:
            return 0
        received = gateway.poll()
        if received.statuses:
            with self.sessions() as session:
                messages.record_statuses(session, received.statuses, gateway=gateway.name)
        for sms in received.inbound:
            with self.sessions() as session:
                handle_answer(
                    session,
                    org_id=None,
                    channel="sms",
                    sender=sms.sender,
                    text=sms.text,
                    senders=self.senders,
                )
        return len(received.statuses) + len(received.inbound)

    def send_texts_once(self, stop: Callable[[], bool] = lambda: False) -> messages.SendRound:
        """What the gateway brought back, then every due text (batches while they come full)."""
        assert self.sms_pool is not None
        self.collect_received()
        return messages.send_all_due(
            self.sessions,
            senders=self.senders,
            settings=self.settings,
            executor=self.sms_pool,
            stop=stop,
        )

    def start_webhooks(self) -> int:
        """Start every due webhook there is room for on the pool; answers how many."""
        assert self.pool is not None
        return len(self.pool.dispatch(senders=self.senders, settings=self.settings))

    def run_once(self) -> delivery.SendReport:
        """One round, in the calling thread: delays, customer messages, texts (on the SMS
        pool), then the due webhooks (sent on their pool; this waits for them)."""
        report = self.send_messages_once()
        texts = self.send_texts_once()
        report.texts += texts.sent
        report.errors += texts.errors
        assert self.pool is not None
        started = self.pool.dispatch(senders=self.senders, settings=self.settings)
        wait(started)
        for future in started:
            if future.result():
                report.webhooks_delivered += 1
            else:
                report.webhooks_failed += 1
        return report

    async def _loop(self, stopping: asyncio.Event, round_: Callable[[], object]) -> None:
        while not stopping.is_set():
            try:
                await run_in_threadpool(round_)
            except Exception:  # keep the notifier alive; the next round tries again
                logger.exception("notifier round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.notify_poll_s)

    def start(self) -> None:
        self._stopping = stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._loop(self._stopping, self.send_messages_once)),
            loop.create_task(
                self._loop(self._stopping, lambda: self.send_texts_once(stopping.is_set))
            ),
            loop.create_task(self._loop(self._stopping, self.start_webhooks)),
        ]

    async def stop(self) -> None:
        """Stop after the rounds in progress and the webhook calls in flight: they use
        database sessions, which must be done before the app disposes of its engine."""
        if self._stopping is not None:
            self._stopping.set()
            for task in self._tasks:
                await task
        if self.pool is not None:
            await run_in_threadpool(self.pool.close)
        if self.sms_pool is not None:
            await run_in_threadpool(self.sms_pool.shutdown, True, cancel_futures=True)
        if self.senders.sms is not None:
            await run_in_threadpool(self.senders.sms.close)
        self.senders.http.close()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = getattr(app.state, "notify_settings", None) or NotifySettings()
    main = app.state.settings
    notifier = Notifier(
        settings=settings,
        sessions=app.state.sessionmaker,
        senders=make_senders(
            settings, base_url=main.public_base_url, ttl_s=main.tracking_link_ttl_s
        ),
    )
    app.state.notifier = notifier
    notifier.start()
    try:
        yield
    finally:
        await notifier.stop()
