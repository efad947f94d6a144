"""Notifications: customer e-mails through a real SMTP server (aiosmtpd on
127.0.0.1), SMS through the log gateway, signed webhooks retried with backoff
against a receiver on 127.0.0.1, delays, and customer replies through the
tracking link.

The app's notifier runs in the background; tests give it their own senders
and settings and also run it themselves until what they wait for happens.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.notifications.delivery import Senders, backoff_s
from lastmile.service.notifications.gateways.log import LogGateway
from lastmile.service.notifications.models import CustomerNotification, WebhookDelivery
from lastmile.service.notifications.outbox import scan_delays
from lastmile.service.notifications.runtime import Notifier
from lastmile.service.notifications.senders import (
    SmtpEmailSender,
    sign,
    verify_signature,
)
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order
from lastmile.service.plans.models import Visit

from ..conftest import DAY, Tenant, World, build_world  # type: ignore[import-not-found]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        del server, session
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def notifier(app: FastAPI, smtp: tuple[_Mailbox, int]) -> Iterator[Notifier]:
    """The app's notifier, sending e-mail to the test server and retrying webhooks at once."""
    running: Notifier = app.state.notifier
    saved = (running.settings, running.senders)
    running.settings = NotifySettings(
        webhook_backoff_s=0.0, webhook_max_attempts=3, webhook_allow="127.0.0.1/32"
    )
    running.senders = Senders(
        email=SmtpEmailSender("127.0.0.1", smtp[1], sender="acme@example.com", starttls=False),
        sms=LogGateway(),
        http=httpx.Client(),
        tracking_base_url="https://track.example",
    )
    yield running
    running.senders.http.close()
    running.settings, running.senders = saved


def wait_for(check: Callable[[], bool], notifier: Notifier, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        notifier.run_once()
        time.sleep(0.05)
    raise AssertionError("timed out")


def notes(app: FastAPI, order_id: str) -> list[CustomerNotification]:
    with app.state.sessionmaker() as session:
        return list(
            session.scalars(
                select(CustomerNotification)
                .where(CustomerNotification.order_id == uuid.UUID(order_id))
                .order_by(CustomerNotification.created_at)
            )
        )


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


# -- senders -------------------------------------------------------------------------------------


def test_smtp_sender_talks_to_a_real_server(smtp: tuple[_Mailbox, int]) -> None:
    box, port = smtp
    sender = SmtpEmailSender("127.0.0.1", port, sender="acme@example.com", starttls=False)
    sender.send(to="ada@example.com", subject="Hello", text="Your parcel is on the way.")
    to, content = box.messages[-1]
    assert to == ["ada@example.com"]
    assert "Subject: Hello" in content and "Your parcel is on the way." in content


def test_signatures_and_backoff() -> None:
    body = b'{"a":1}'
    header = sign("whsec_x", body, timestamp=1_700_000_000)
    assert verify_signature("whsec_x", header, body, now=1_700_000_100)
    assert not verify_signature("whsec_x", header, body + b" ", now=1_700_000_100)
    assert not verify_signature("whsec_y", header, body, now=1_700_000_100)
    assert not verify_signature("whsec_x", header, body, now=1_700_001_000)  # too old
    assert not verify_signature("whsec_x", "garbage", body)
    settings = NotifySettings(webhook_backoff_s=30, webhook_backoff_max_s=200)
    assert [backoff_s(n, settings) for n in range(1, 6)] == [30, 60, 120, 200, 200]


# -- customers -----------------------------------------------------------------------------------


def test_customers_hear_about_their_delivery(
    app: FastAPI, world: World, notifier: Notifier, smtp: tuple[_Mailbox, int]
) -> None:
    t = world.tenant
    # Dispatching told every customer (they gave a phone: an SMS each).
    first = world.orders[0]["id"]
    # The SMS pool sends the queued text and then updates the channel's entry.
    wait_for(
        lambda: all(
            n.status != "pending" and all(c["status"] != "queued" for c in n.channels)
            for n in notes(app, first)
        ),
        notifier,
    )
    (dispatched,) = notes(app, first)
    assert dispatched.event == "dispatched" and dispatched.status == "sent"
    assert dispatched.channels == [
        {"channel": "sms", "to": "+33100000000", "status": "sent", "error": ""}
    ]
    assert dispatched.subject.startswith("Your delivery ord-0 is scheduled")
    # An urgent order with an e-mail address, put into the plan: scheduled by e-mail.
    app.state.clock = lambda: dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=dt.UTC)
    try:
        urgent = t.order(
            60, external_id="urgent-60", customer={"name": "Ada", "email": "ada@x.example"}
        )
        t.ok("post", f"/plans/{world.plan['id']}/orders", json={"order_id": urgent["id"]})
    finally:
        del app.state.clock
    box, _ = smtp
    wait_for(lambda: any("urgent-60" in m for _, m in box.messages), notifier)
    to, content = next((to, m) for to, m in box.messages if "urgent-60" in m)
    assert to == ["ada@x.example"]
    message = email.message_from_string(content, policy=email.policy.default)
    assert message["Subject"] == "Your delivery urgent-60 is scheduled"
    text = message.get_content()  # type: ignore[attr-defined]
    assert text.startswith("Hello Ada,")
    assert "Friday 2 May between 09:00 and 18:00" in text
    assert "https://track.example/track/" in text
    wait_for(lambda: all(n.status == "sent" for n in notes(app, urgent["id"])), notifier)
    listed = t.ok("get", f"/orders/{urgent['id']}/notifications")
    assert [n["event"] for n in listed] == ["dispatched"] and listed[0]["status"] == "sent"
    # The route starts: on the way, with a window around the ETA.
    route = next(r for r in world.plan["routes"] if first in {v["order_id"] for v in r["visits"]})
    driver = "d1" if route["driver_id"] == str(t.driver_ids["d1"]) else "d2"
    t.ok("post", f"/routes/{route['id']}/start", driver)
    wait_for(
        lambda: any(n.event == "on_the_way" and n.status == "sent" for n in notes(app, first)),
        notifier,
    )
    on_way = next(n for n in notes(app, first) if n.event == "on_the_way")
    assert "expects to be with you Friday 2 May between" in on_way.body


def test_delays_are_told_once(app: FastAPI, world: World, notifier: Notifier) -> None:
    t = world.tenant
    route = world.plan["routes"][0]
    driver = "d1" if route["driver_id"] == str(t.driver_ids["d1"]) else "d2"
    t.ok("post", f"/routes/{route['id']}/start", driver)
    visit = next(v for v in route["visits"] if v["order_id"])
    late = dt.datetime(DAY.year, DAY.month, DAY.day, 17, 30, tzinfo=dt.UTC)  # after 18:00 Paris
    with app.state.sessionmaker() as session:
        row = session.get(Visit, uuid.UUID(visit["id"]))
        assert row is not None
        row.eta_at = late
        session.commit()
        now = late - dt.timedelta(hours=1)
        settings = notifier.settings
        # Other tests' routes on the road in the same database may be late too.
        assert scan_delays(session, settings=settings, now=now) >= 1
        assert scan_delays(session, settings=settings, now=now) == 0
    wait_for(
        lambda: any(
            n.event == "delay" and n.status == "sent" for n in notes(app, visit["order_id"])
        ),
        notifier,
    )
    (delay,) = [n for n in notes(app, visit["order_id"]) if n.event == "delay"]
    assert "running late" in delay.subject
    assert "instead of Friday 2 May between 09:00 and 18:00" in delay.body


# -- webhooks ------------------------------------------------------------------------------------


class _Receiver(http.server.BaseHTTPRequestHandler):
    """Answers 500 to the first ``fail`` requests, then 200; keeps what it got."""

    fail = 2
    got: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012 -- shared with the test

    def log_message(self, *args: Any) -> None:
        del args

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).got.append((dict(self.headers.items()), body))
        self.send_response(500 if len(type(self).got) <= type(self).fail else 200)
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.got = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()
    server.server_close()


def deliveries(app: FastAPI, endpoint_id: str) -> list[WebhookDelivery]:
    with app.state.sessionmaker() as session:
        return list(
            session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.endpoint_id == uuid.UUID(endpoint_id))
            )
        )


def test_webhooks_are_signed_retried_and_logged(
    app: FastAPI, tenant: Tenant, notifier: Notifier, receiver: str
) -> None:
    t = tenant
    bad = t.post("/webhooks", json={"url": receiver, "events": ["order.eaten"]})
    assert bad.status_code == 422
    hook = t.ok(
        "post", "/webhooks", json={"url": receiver, "events": ["order.created"]}, status=201
    )
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in t.ok("get", "/webhooks")[0]
    assert t.post("/webhooks", "dispatcher", json={"url": receiver}).status_code == 403
    order = t.order(1)
    wait_for(lambda: any(d.status != "pending" for d in deliveries(app, hook["id"])), notifier)
    (delivery,) = deliveries(app, hook["id"])
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert delivery.last_status_code == 200
    assert len(_Receiver.got) == 3
    headers, body = _Receiver.got[-1]
    assert verify_signature(hook["secret"], headers["X-Lastmile-Signature"], body)
    assert headers["X-Lastmile-Event"] == "order.created"
    payload = json.loads(body)
    assert payload["type"] == "order.created" and payload["data"]["order_id"] == order["id"]
    log = t.ok("get", "/webhooks/deliveries", params={"endpoint_id": hook["id"]})
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 3)]


def test_a_webhook_that_keeps_failing_gives_up(
    app: FastAPI, tenant: Tenant, notifier: Notifier, receiver: str
) -> None:
    _Receiver.fail = 100
    try:
        hook = t_hook = tenant.ok("post", "/webhooks", json={"url": receiver}, status=201)
        tenant.order(2)
        wait_for(
            lambda: (
                bool(deliveries(app, hook["id"]))
                and all(d.status == "failed" for d in deliveries(app, hook["id"]))
            ),
            notifier,
        )
        assert {d.attempts for d in deliveries(app, t_hook["id"])} == {3}
        assert {d.last_error for d in deliveries(app, hook["id"])} == {"answered 500"}
        tenant.ok("delete", "/webhooks", params={"endpoint_id": hook["id"]}, status=204)
        assert tenant.ok("get", "/webhooks") == []
    finally:
        _Receiver.fail = 2


# -- where webhooks may go ----------------------------------------------------------------------


@pytest.fixture
def strict(notifier: Notifier) -> Iterator[Notifier]:
    """The notifier with no allow-list and a resolver the test sets (``NAMES``)."""
    saved = notifier.settings
    notifier.settings = saved.model_copy(update={"webhook_allow": ""})
    notifier.senders.resolve = lambda host, port: NAMES[host]
    yield notifier
    notifier.settings = saved


NAMES: dict[str, list[str]] = {}


def test_webhooks_to_internal_addresses_are_refused(tenant: Tenant, strict: Notifier) -> None:
    NAMES.update({"intranet.example": ["10.1.2.3"], "hooks.example": ["93.184.216.34"]})
    for url in (
        "http://127.0.0.1:8000/hooks",
        "http://localhost:5432/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[::1]:8080/",
        "http://0.0.0.0/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://127.1/",
        "http://0177.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://224.0.0.1/",
        "http://intranet.example/",
        "http://hooks.example/" + "a" * 2048,
    ):
        r = tenant.post("/webhooks", json={"url": url})
        assert r.status_code == 422, url
        columns = [e["column"].removeprefix("body.") for e in r.json()["errors"]]
        assert columns == ["url"], (url, r.json())
    assert tenant.ok("get", "/webhooks") == []
    tenant.ok("post", "/webhooks", json={"url": "https://hooks.example/in"}, status=201)
    strict.settings = strict.settings.model_copy(
        update={"webhook_allow": "10.0.0.0/8, 127.0.0.1/32"}
    )
    for url in ("http://intranet.example/", "http://10.0.0.1/", "http://2130706433/"):
        tenant.ok("post", "/webhooks", json={"url": url}, status=201)


def test_a_name_that_turns_internal_is_refused_at_delivery(
    app: FastAPI, tenant: Tenant, strict: Notifier, receiver: str
) -> None:
    """DNS rebinding: the name was public when registered and points at the service's
    own network when the event is sent. Nothing connects, and the log reads the same
    whether something answers on that port or not."""
    open_port = receiver.split(":")[2].split("/")[0]
    closed_port = str(_free_port())
    NAMES.update({"rebind.example": ["93.184.216.34"]})
    hooks = [
        tenant.ok(
            "post", "/webhooks", json={"url": f"http://rebind.example:{port}/hooks"}, status=201
        )
        for port in (open_port, closed_port)
    ]
    NAMES.update({"rebind.example": ["127.0.0.1"]})
    tenant.order(4)
    wait_for(lambda: all(d.attempts > 0 for h in hooks for d in deliveries(app, h["id"])), strict)
    log = [
        tenant.ok("get", "/webhooks/deliveries", params={"endpoint_id": h["id"]})[0] for h in hooks
    ]
    assert _Receiver.got == []
    assert log[0]["last_error"] == log[1]["last_error"]
    assert log[0]["last_error"].startswith("refused: url: the host rebind.example resolves")
    assert open_port not in log[0]["last_error"] and closed_port not in log[0]["last_error"]
    assert {entry["last_status_code"] for entry in log} == {None}


def test_deliveries_go_to_the_address_checked(
    app: FastAPI, tenant: Tenant, notifier: Notifier, receiver: str
) -> None:
    """The call connects to the checked address and names the host: the name is not
    looked up again by the HTTP client (it does not resolve anywhere)."""
    notifier.senders.resolve = lambda host, port: ["127.0.0.1"]
    port = receiver.split(":")[2].split("/")[0]
    _Receiver.fail = 0
    try:
        hook = tenant.ok(
            "post", "/webhooks", json={"url": f"http://hooks.invalid:{port}/hooks"}, status=201
        )
        tenant.order(5)
        wait_for(
            lambda: any(d.status == "delivered" for d in deliveries(app, hook["id"])), notifier
        )
    finally:
        _Receiver.fail = 2
    headers, _ = _Receiver.got[0]
    assert headers["Host"] == f"hooks.invalid:{port}"


class _Redirect(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        del args

    def do_POST(self) -> None:
        # Read the body first: closing a socket with unread data resets the
        # connection, and the client may then lose the answer.
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(307)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.end_headers()


def test_redirects_are_not_followed(app: FastAPI, tenant: Tenant, notifier: Notifier) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        # One attempt: retried at once (no back-off here), a second attempt could
        # race the server's shutdown below and overwrite the first one's answer.
        notifier.settings = notifier.settings.model_copy(update={"webhook_max_attempts": 1})
        hook = tenant.ok("post", "/webhooks", json={"url": url}, status=201)
        tenant.order(6)
        wait_for(lambda: any(d.status != "pending" for d in deliveries(app, hook["id"])), notifier)
    finally:
        server.shutdown()
        server.server_close()
    (delivery,) = deliveries(app, hook["id"])
    assert (delivery.last_status_code, delivery.last_error) == (307, "answered 307")
    assert (delivery.status, delivery.attempts) == ("failed", 1)


class _DropsFirst(http.server.BaseHTTPRequestHandler):
    """Closes the first connection without answering (as a receiver does with a
    kept-alive connection it dropped), then answers 200."""

    seen = 0

    def log_message(self, *args: Any) -> None:
        del args

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen += 1
        if type(self).seen == 1:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_dropped_connection_is_sent_again_within_the_attempt(
    app: FastAPI, tenant: Tenant, notifier: Notifier
) -> None:
    _DropsFirst.seen = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _DropsFirst)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        hook = tenant.ok("post", "/webhooks", json={"url": url}, status=201)
        tenant.order(7)
        wait_for(lambda: any(d.status != "pending" for d in deliveries(app, hook["id"])), notifier)
    finally:
        server.shutdown()
        server.server_close()
    (delivery,) = deliveries(app, hook["id"])
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert _DropsFirst.seen == 2


# -- a slow receiver ------------------------------------------------------------------------------


class _Hanging(http.server.BaseHTTPRequestHandler):
    """Holds every request until ``release`` is set (at most 30 s), then answers 200."""

    arrived = threading.Event()
    release = threading.Event()

    def log_message(self, *args: Any) -> None:
        del args

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).arrived.set()
        type(self).release.wait(30.0)
        self.send_response(200)
        self.end_headers()


def test_a_slow_receiver_delays_only_itself(
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    notifier: Notifier,
    receiver: str,
) -> None:
    """One organisation's receiver hangs; another organisation's webhook and a
    customer's message go out meanwhile, sent by the notifier's own loops."""
    _Hanging.arrived.clear()
    _Hanging.release.clear()
    _Receiver.fail = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hanging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    notifier.settings = notifier.settings.model_copy(update={"notify_poll_s": 0.05})
    try:
        slow = tenant.ok(
            "post",
            "/webhooks",
            json={"url": f"http://127.0.0.1:{server.server_address[1]}/hooks"},
            status=201,
        )
        fast = other_tenant.ok("post", "/webhooks", json={"url": receiver}, status=201)
        for i in range(3):
            tenant.order(10 + i)
        assert _Hanging.arrived.wait(15.0)
        started = time.monotonic()
        order = other_tenant.order(1)
        with app.state.sessionmaker() as session:
            session.add(
                CustomerNotification(
                    org_id=other_tenant.org_id,
                    order_id=uuid.UUID(order["id"]),
                    event="dispatched",
                    detail={},
                    next_attempt_at=dt.datetime.now(dt.UTC),
                )
            )
            session.commit()
        deadline = started + 15.0
        while time.monotonic() < deadline:
            sent = [n.status for n in notes(app, order["id"])]
            done = [d.status for d in deliveries(app, fast["id"])]
            if "sent" in sent and "delivered" in done:
                break
            time.sleep(0.05)
        waited = time.monotonic() - started
        assert "sent" in sent and "delivered" in done, (sent, done)
        assert not _Hanging.release.is_set() and waited < 15.0
        held = deliveries(app, slow["id"])
        assert len(held) == 3 and all(d.status == "pending" for d in held)
        assert notifier.pool is not None and notifier.pool.in_flight(uuid.UUID(slow["id"])) == 2
    finally:
        _Hanging.release.set()
    try:
        wait_for(
            lambda: all(d.status == "delivered" for d in deliveries(app, slow["id"])), notifier
        )
    finally:
        _Receiver.fail = 2
        server.shutdown()
        server.server_close()


# -- replies ---------------------------------------------------------------------------------------


def test_customers_reply_through_their_tracking_link(tenant: Tenant, client: TestClient) -> None:
    t = tenant
    order = t.order(3)
    token = t.ok("post", f"/orders/{order['id']}/tracking-links", status=201)["token"]
    as_customer = {"Authorization": f"Bearer {token}"}

    def reply(body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return client.post(
            "/track/replies", json=body, headers=as_customer if headers is None else headers
        )

    r = reply({"kind": "instructions", "text": "Ring twice"})
    assert r.status_code == 201 and r.json()["applied"] is True
    assert t.ok("get", f"/orders/{order['id']}")["instructions"] == "Customer: Ring twice"
    r = reply(
        {
            "kind": "leave_with_neighbour",
            "neighbour_name": "Mr Dupont",
            "neighbour_address": "flat 3",
        }
    )
    assert r.status_code == 201
    assert t.ok("get", f"/orders/{order['id']}")["instructions"].endswith(
        "Leave with neighbour Mr Dupont (flat 3)"
    )
    start = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).replace(microsecond=0)
    window = {
        "window_start": start.isoformat(),
        "window_end": (start + dt.timedelta(hours=2)).isoformat(),
    }
    r = reply({"kind": "new_window", **window})
    assert r.status_code == 201 and r.json()["applied"] is True
    stored = t.ok("get", f"/orders/{order['id']}")["delivery"]["time_windows"]
    assert [dt.datetime.fromisoformat(w["start"]) for w in stored] == [start]
    for body, column in (
        ({"kind": "leave_with_neighbour"}, "neighbour_name"),
        ({"kind": "instructions", "text": " "}, "text"),
        ({"kind": "new_window"}, "window_start"),
        (
            {
                "kind": "new_window",
                "window_start": "2020-01-01T10:00:00Z",
                "window_end": "2020-01-01T12:00:00Z",
            },
            "window_start",
        ),
    ):
        r = reply(body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["column"] == column
    assert reply({"kind": "instructions", "text": "x"}, {}).status_code == 401
    assert (
        reply({"kind": "instructions", "text": "x"}, {"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert reply({"kind": "instructions", "text": "x"}, t.headers("dispatcher")).status_code == 403
    listed = t.ok("get", f"/orders/{order['id']}/replies")
    assert [r["kind"] for r in listed] == ["instructions", "leave_with_neighbour", "new_window"]


def test_replies_keep_the_instructions_within_the_orders_limit(
    app: FastAPI, tenant: Tenant, client: TestClient
) -> None:
    """Replies add to the instructions only while they fit the orders' limit (2,000);
    an order stored longer than that before stays editable by staff and by imports."""
    t = tenant
    order = t.order(20, external_id="long-1", instructions="Gate code 1234")
    token = t.ok("post", f"/orders/{order['id']}/tracking-links", status=201)["token"]
    as_customer = {"Authorization": f"Bearer {token}"}
    answers = [
        client.post(
            "/track/replies",
            json={"kind": "instructions", "text": f"{i}" * 500},
            headers=as_customer,
        )
        for i in range(5)
    ]
    assert [r.status_code for r in answers] == [201, 201, 201, 422, 422]
    refused = answers[3].json()
    assert [e["column"] for e in refused["errors"]] == ["instructions"]
    assert "at most 2000" in refused["detail"]
    stored = t.ok("get", f"/orders/{order['id']}")["instructions"]
    assert stored.startswith("Gate code 1234") and len(stored) <= 2000
    neighbour = client.post(
        "/track/replies",
        json={"kind": "leave_with_neighbour", "neighbour_name": "N" * 200, "text": "x" * 300},
        headers=as_customer,
    )
    assert neighbour.status_code == 422
    assert [e["column"] for e in neighbour.json()["errors"]] == ["instructions"]

    # An order whose instructions grew past the limit before it held everywhere.
    with app.state.sessionmaker() as session:
        row = session.get(Order, uuid.UUID(order["id"]))
        assert row is not None
        row.instructions = "y" * 2569
        session.commit()
    edited = t.ok("patch", f"/orders/{order['id']}", json={"priority": 7})
    assert edited["priority"] == 7 and edited["instructions"] == "y" * 2569
    csv = (
        "external_id,lon,lat,window_start,window_end,units,priority,instructions\n"
        f"long-1,2.35,48.85,{DAY}T09:00:00+02:00,{DAY}T18:00:00+02:00,1,3,Back door\n"
    )
    r = t.post(
        "/orders/import",
        files={"file": ("orders.csv", csv.encode(), "text/csv")},
        params={"date": str(DAY)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["updated"] == 1
    shortened = t.ok("patch", f"/orders/{order['id']}", json={"instructions": "Back door"})
    assert shortened["instructions"] == "Back door"
