"""Customer messages are sent by e-mail while the notifier holds no write lock.

SQLite serves one writer at a time: a notifier that had written (the attempt
counted, the tracking link added) before handing the e-mail to a slow SMTP server
would keep every other writer of the database waiting for as long, and failing
``database is locked`` after the busy timeout. The e-mail sender below takes
SQLite's write lock while it is being called, as another writer would: were the
notifier that calls it holding that lock, the sender would wait for its own caller
and fail after its busy timeout, every time. The app's other writers (its
background rounds) hold the lock for moments only.

SQLite only: PostgreSQL writers lock rows, not the database.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from lastmile.service.notifications.delivery import Senders
from lastmile.service.notifications.gateways.log import LogGateway
from lastmile.service.notifications.models import CustomerNotification
from lastmile.service.notifications.runtime import Notifier
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order

from ..conftest import Tenant  # type: ignore[import-not-found]


@dataclass
class LockProbe:
    """An SMTP server that notes, at each e-mail, whether SQLite's write lock is free."""

    path: str
    free: list[bool] = field(default_factory=list)

    def send(self, *, to: str, subject: str, text: str) -> None:
        del to, subject, text
        probe = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # the write lock
            probe.execute("ROLLBACK")
            self.free.append(True)
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc), exc
            self.free.append(False)
        finally:
            probe.close()


@pytest.fixture
def probed(app: FastAPI) -> Iterator[tuple[Notifier, LockProbe]]:
    engine = app.state.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    running: Notifier = app.state.notifier
    saved = (running.settings, running.senders)
    probe = LockProbe(str(engine.url.database))
    running.settings = NotifySettings()
    running.senders = Senders(
        email=probe, sms=LogGateway(), http=httpx.Client(), tracking_base_url="https://t.example"
    )
    yield running, probe
    running.senders.http.close()
    running.settings, running.senders = saved


def test_an_email_is_sent_while_the_notifier_holds_no_write_lock(
    app: FastAPI, tenant: Tenant, probed: tuple[Notifier, LockProbe]
) -> None:
    running, probe = probed
    made = tenant.order(71, customer={"email": "c71@x.example", "phone": "+358400000071"})
    with app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(made["id"]))
        assert order is not None
        order.status = "dispatched"
        session.commit()

    def note() -> CustomerNotification | None:
        with app.state.sessionmaker() as session:
            return session.scalars(
                select(CustomerNotification).where(CustomerNotification.order_id == order.id)
            ).one_or_none()

    deadline = time.monotonic() + 120  # a ceiling, not a measure
    while (sent := note()) is None or sent.status == "pending":
        assert time.monotonic() < deadline, "the message was not sent"
        running.run_once()  # the app's own notifier round may send it first
    assert probe.free == [True]
    # What the notifier wrote around the e-mail is stored all the same.
    assert sent.status == "sent"
    assert sent.attempts == 1
    assert sent.lease_until is None
    channels = {c["channel"]: c["status"] for c in sent.channels}
    assert channels["email"] == "sent"
    assert channels["sms"] in ("queued", "sent")  # the text goes on the SMS pool
