"""SMS gateways and customers' answers, against local fakes: an HTTP gateway
(http.server on 127.0.0.1), an SMSC (a small SMPP server on a socket, speaking
through smpplib's own PDU classes), the log gateway as ``lastmile serve`` shows
it; texts retried with back-off, delivery statuses posted back, and customers
answering "1", "2" or instructions by text and by e-mail.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import http.server
import json
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
import zoneinfo
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import smpplib.consts
import smpplib.smpp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.operations.segments import sms_length
from lastmile.service.notifications import inbound, messages
from lastmile.service.notifications.delivery import Senders
from lastmile.service.notifications.gateways import CallbackFormat, GatewayError, make_gateway
from lastmile.service.notifications.gateways.http import HttpGateway
from lastmile.service.notifications.gateways.smpp import SmppGateway, parse_receipt
from lastmile.service.notifications.guard import Allow
from lastmile.service.notifications.models import OutboundMessage
from lastmile.service.notifications.runtime import Notifier
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order

from ..conftest import Tenant, new_tenant  # type: ignore[import-not-found]

LOCAL = Allow.parse("127.0.0.1/32")


# -- a fake HTTP gateway ---------------------------------------------------------------------------


class FakeHttpGateway:
    """Takes texts like a provider's REST API; ``answers`` are served first (status,
    body), and ``scripted[text]`` to the requests carrying that text (the service's
    notifier runs in the background and may send other tests' texts here); then
    every text gets 200 with ``{"messages": [{"id": "p<n>"}]}``."""

    def __init__(self, *, delay_s: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.scripted: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.delay_s = delay_s
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                with fake.lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    n = len(fake.requests)
                    try:
                        text = json.loads(body).get("text", "")
                    except ValueError:
                        text = ""
                    queue = fake.scripted.get(text) or fake.answers
                    status, answer = (
                        queue.pop(0) if queue else (200, {"messages": [{"id": f"p{n}"}]})
                    )
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self) -> list[Any]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_http() -> Iterator[FakeHttpGateway]:
    fake = FakeHttpGateway()
    yield fake
    fake.close()


# -- a fake SMSC -----------------------------------------------------------------------------------


class _Sequence:
    sequence = 0

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


class FakeSmsc:
    """An SMSC on 127.0.0.1 for one client at a time: answers bind_transceiver,
    submit_sm (``refuse`` maps a number to the error status it gets; each part taken
    is kept in ``parts``) and enquire_link, and sends a delivery receipt per part."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.server.settimeout(0.1)
        self.port = int(self.server.getsockname()[1])
        self.binds: list[tuple[str, str]] = []
        self.parts: list[Any] = []
        self.refuse: dict[str, int] = {}
        self._seq = _Sequence()
        self._conn: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._ids = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _send(self, pdu: Any) -> None:
        assert self._conn is not None
        with self._send_lock:
            self._conn.sendall(pdu.generate())

    def _read(self, conn: socket.socket) -> Any:
        def exact(n: int) -> bytes | None:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    return None
                data += chunk
            return data

        head = exact(4)
        if head is None:
            return None
        rest = exact(struct.unpack(">L", head)[0] - 4)
        if rest is None:
            return None
        return smpplib.smpp.parse_pdu(head + rest, client=self._seq, allow_unknown_opt_params=True)

    def _answer(self, request: Any, name: str, status: int = 0, **fields: Any) -> None:
        pdu = smpplib.smpp.make_pdu(name, client=self._seq, status=status, **fields)
        pdu.sequence = request.sequence
        self._send(pdu)

    def deliver(self, *, source: str, text: bytes, esm_class: int = 0) -> None:
        pdu = smpplib.smpp.make_pdu(
            "deliver_sm",
            client=self._seq,
            source_addr=source,
            destination_addr="ACME",
            short_message=text,
            esm_class=esm_class,
        )
        self._send(pdu)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self._conn = conn
            try:
                self._session(conn)
            except OSError:
                pass
            finally:
                self._conn = None
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        while (pdu := self._read(conn)) is not None:
            if pdu.command == "bind_transceiver":
                self.binds.append((pdu.system_id.decode(), pdu.password.decode()))
                self._answer(pdu, "bind_transceiver_resp", system_id="fake")
            elif pdu.command == "submit_sm":
                to = pdu.destination_addr.decode()
                if to in self.refuse:
                    self._answer(pdu, "submit_sm_resp", status=self.refuse[to], message_id="")
                    continue
                self._ids += 1
                message_id = f"m{self._ids}"
                self.parts.append(pdu)
                self._answer(pdu, "submit_sm_resp", message_id=message_id)
                receipt = f"id:{message_id} sub:001 dlvr:001 stat:DELIVRD err:000 text:"
                self.deliver(source=to, text=receipt.encode(), esm_class=0x04)
            elif pdu.command == "enquire_link":
                self._answer(pdu, "enquire_link_resp")
            elif pdu.command == "unbind":
                self._answer(pdu, "unbind_resp")
                return

    def drop(self) -> None:
        """Cut the connection (the SMSC restarted)."""
        conn = self._conn
        if conn is not None:
            # The client may have hung up first: the connection is cut already.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop.set()
        try:
            self.drop()
            self._thread.join(timeout=5)
        finally:
            self.server.close()


@pytest.fixture
def smsc() -> Iterator[FakeSmsc]:
    fake = FakeSmsc()
    yield fake
    fake.close()


def _wait(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- the gateways on their own -----------------------------------------------------------------


def test_http_gateway_fills_its_template_and_reads_the_id(fake_http: FakeHttpGateway) -> None:
    gateway = HttpGateway(
        url=fake_http.url,
        body_template='{"messages": [{"to": "{to}", "body": "{text}"}], "ref": "{reference}", '
        '"from": "{from}", "n": 1}',
        sender="ACME",
        auth_header="Authorization: Bearer key-1",
        id_path="messages.0.id",
        allow=LOCAL,
    )
    text = 'Say "hi" {to}\nback'
    answer = gateway.send(to="+33612345678", text=text, reference="r-1")
    assert answer.provider_id == "p1"
    body = fake_http.bodies()[0]
    # Filled value by value: quotes, new lines and braces in a text stay text.
    assert body == {
        "messages": [{"to": "+33612345678", "body": text}],
        "ref": "r-1",
        "from": "ACME",
        "n": 1,
    }
    assert fake_http.requests[0]["headers"]["Authorization"] == "Bearer key-1"
    gateway.close()
    form = HttpGateway(
        url=fake_http.url,
        body_format="form",
        body_template="To={to}&Body={text}&Ref={reference}",
        username="acct",
        password="pw",
        id_path="nowhere",
        allow=LOCAL,
    )
    assert form.send(to="+1555", text="a&b=c", reference="r-2").provider_id == ""
    sent = fake_http.requests[1]
    assert urllib.parse.parse_qs(sent["body"].decode()) == {
        "To": ["+1555"],
        "Body": ["a&b=c"],
        "Ref": ["r-2"],
    }
    expected = "Basic " + base64.b64encode(b"acct:pw").decode()
    assert sent["headers"]["Authorization"] == expected
    form.close()


def test_http_gateway_errors_say_whether_to_try_again(fake_http: FakeHttpGateway) -> None:
    gateway = HttpGateway(url=fake_http.url, allow=LOCAL)
    fake_http.answers = [(503, {"error": "busy"}), (429, {}), (400, {"error": "bad number"})]
    for permanent in (False, False, True):
        with pytest.raises(GatewayError) as caught:
            gateway.send(to="+1", text="x", reference="r")
        assert caught.value.permanent is permanent
    assert "400" in str(caught.value) and "bad number" in str(caught.value)
    gateway.close()
    # The guard of webhooks: an internal address is refused before connecting.
    unguarded = HttpGateway(url=fake_http.url)
    with pytest.raises(GatewayError, match="loopback"):
        unguarded.send(to="+1", text="x", reference="r")
    assert len(fake_http.requests) == 3
    unguarded.close()


def test_settings_choose_the_gateway() -> None:
    assert make_gateway(NotifySettings()).name == "log"
    http_gateway = make_gateway(
        NotifySettings(sms_gateway="http", sms_http_url="https://sms.example/send")
    )
    assert isinstance(http_gateway, HttpGateway)
    http_gateway.close()
    assert isinstance(
        make_gateway(NotifySettings(sms_gateway="smpp", smpp_host="smsc")), SmppGateway
    )
    with pytest.raises(Exception, match="sms_http_url"):
        make_gateway(NotifySettings(sms_gateway="http"))
    with pytest.raises(Exception, match="sms_http_body"):
        HttpGateway(url="https://sms.example", body_template="{not json")


def test_status_callbacks_are_read_from_json_and_forms() -> None:
    read = CallbackFormat()
    many = json.dumps(
        [
            {"id": "a", "status": "DELIVERED"},
            {"id": "b", "status": "undelivered", "error": "absent subscriber"},
            {"id": "c", "status": "queued"},  # not final: left out
            {"status": "delivered"},  # names no message: left out
        ]
    ).encode()
    found = read.statuses(many, "application/json")
    assert [(s.provider_id, s.status, s.error) for s in found] == [
        ("a", "delivered", ""),
        ("b", "failed", "absent subscriber"),
    ]
    twilio = CallbackFormat(status_id_path="MessageSid", status_path="MessageStatus")
    form = b"MessageSid=SM1&MessageStatus=failed&To=%2B331"
    (one,) = twilio.statuses(form, "application/x-www-form-urlencoded")
    assert (one.provider_id, one.status) == ("SM1", "failed")
    with pytest.raises(ValueError, match="not JSON"):
        read.statuses(b"{broken", "application/json")
    assert read.inbound(b"from=%2B33612345678&text=2", "") is not None
    assert parse_receipt("id:9 sub:001 dlvr:000 stat:UNDELIV err:001") is not None
    assert parse_receipt("id:9 stat:ENROUTE") is None


def test_smpp_gateway_binds_splits_and_reads_receipts(smsc: FakeSmsc) -> None:
    gateway = SmppGateway(
        host="127.0.0.1",
        port=smsc.port,
        system_id="acme",
        password="pw",
        source_addr="ACME",
        timeout_s=2,
    )
    try:
        short = gateway.send(to="+33612345678", text="Your parcel comes today.", reference="r1")
        assert short.segments == 1 and smsc.binds == [("acme", "pw")]
        first = smsc.parts[0]
        assert first.destination_addr == b"33612345678" and first.source_addr == b"ACME"
        assert first.registered_delivery == smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH
        # 200 GSM characters: two parts, each with a UDH (esm_class 0x40) naming 2 parts.
        long = gateway.send(to="+33612345678", text="x" * 200, reference="r2")
        assert long.segments == 2 and len(long.part_ids) == 1
        parts = smsc.parts[1:3]
        assert all(p.esm_class & 0x40 for p in parts)
        assert [p.short_message[4:6] for p in parts] == [b"\x02\x01", b"\x02\x02"]
        # Not GSM: UCS-2.
        gateway.send(to="+33612345678", text="Доставка сегодня", reference="r3")
        assert smsc.parts[-1].data_coding == smpplib.consts.SMPP_ENCODING_ISO10646
        # Receipts and a customer's text come back on the same connection.
        smsc.deliver(source="33612345678", text=b"2")
        received: list[Any] = []
        inbound: list[Any] = []

        def collected() -> bool:
            got = gateway.poll()
            received.extend(got.statuses)
            inbound.extend(got.inbound)
            return len(received) >= 4 and len(inbound) >= 1

        _wait(collected)
        assert {s.provider_id for s in received} == {"m1", "m2", "m3", "m4"}
        assert {s.status for s in received} == {"delivered"}
        assert [(i.sender, i.text) for i in inbound] == [("33612345678", "2")]
        # Refusals: a bad number is final, a throttled SMSC is worth another try.
        smsc.refuse = {"33600000001": 0x0B, "33600000002": smpplib.consts.SMPP_ESME_RTHROTTLED}
        with pytest.raises(GatewayError) as bad:
            gateway.send(to="+33600000001", text="x", reference="r4")
        assert bad.value.permanent and "Invalid Destination" in str(bad.value)
        with pytest.raises(GatewayError) as busy:
            gateway.send(to="+33600000002", text="x", reference="r5")
        assert not busy.value.permanent
        # A lost connection is made again.
        smsc.drop()
        _wait(lambda: smsc._conn is None)
        again = gateway.send(to="+33612345678", text="again", reference="r6")
        assert again.provider_id.startswith("m") and len(smsc.binds) >= 2
    finally:
        gateway.close()


def test_the_log_gateway_shows_in_the_servers_output() -> None:
    script = (
        "import logging.config\n"
        "from lastmile.service.commands import log_config\n"
        "from lastmile.service.notifications.gateways.log import LogGateway\n"
        "logging.config.dictConfig(log_config('info'))\n"
        "LogGateway().send(to='+33612345678', text='Your parcel comes today.', reference='r1')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "SMS to +33612345678 [r1]: Your parcel comes today." in done.stderr
    assert done.stderr.startswith("INFO:")


# -- through the service -----------------------------------------------------------------------


SECRET = "status-secret"


@pytest.fixture
def sms_notifier(app: FastAPI, fake_http: FakeHttpGateway) -> Iterator[Notifier]:
    """The app's notifier with the fake HTTP gateway, retrying at once."""
    running: Notifier = app.state.notifier
    saved = (running.settings, running.senders)
    settings = NotifySettings(
        webhook_allow="127.0.0.1/32",
        sms_gateway="http",
        sms_http_url=fake_http.url,
        sms_http_id_path="messages.0.id",
        sms_gateway_allow="127.0.0.1/32",
        sms_backoff_s=0.0,
        sms_max_attempts=3,
        sms_callback_secret=SECRET,
    )
    running.settings = settings
    running.senders = Senders(
        email=None,
        sms=make_gateway(settings),
        http=httpx.Client(),
        tracking_base_url="https://track.example",
    )
    yield running
    assert running.senders.sms is not None
    running.senders.sms.close()
    running.senders.http.close()
    running.settings, running.senders = saved


def _order(t: Tenant, i: int, **customer: str) -> dict[str, Any]:
    return t.order(i, customer={"name": f"Customer {i}", **customer})


def _queue(app: FastAPI, order_id: str, text: str = "Your delivery comes today.") -> uuid.UUID:
    with app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order is not None
        message = messages.queue_sms(
            session, org_id=order.org_id, order_id=order.id, to=order.customer_phone, text=text
        )
        session.commit()
        return message.id


def _message(app: FastAPI, message_id: uuid.UUID) -> OutboundMessage:
    with app.state.sessionmaker() as session:
        found = session.get(OutboundMessage, message_id)
        assert found is not None
        return found


def _send_until(app: FastAPI, notifier: Notifier, message_id: uuid.UUID, status: str) -> None:
    deadline = time.monotonic() + 15
    while _message(app, message_id).status != status:
        assert time.monotonic() < deadline, _message(app, message_id).status
        notifier.send_texts_once()
        time.sleep(0.02)


def test_texts_go_out_and_their_statuses_come_back(
    app: FastAPI,
    client: TestClient,
    tenant: Tenant,
    sms_notifier: Notifier,
    fake_http: FakeHttpGateway,
) -> None:
    order = _order(tenant, 1, phone="+33612345678")
    message_id = _queue(app, order["id"])
    _send_until(app, sms_notifier, message_id, "sent")
    sent = _message(app, message_id)
    assert sent.gateway == "http" and sent.provider_id and sent.attempts == 1
    assert [b["reference"] for b in fake_http.bodies()].count(str(message_id)) == 1
    # Status callbacks: the operator's secret in the address.
    body = {"id": sent.provider_id, "status": "delivered"}
    assert client.post("/sms/status/wrong", json=body).status_code == 401
    r = client.post(f"/sms/status/{SECRET}", json=body)
    assert r.status_code == 200 and r.json() == {"matched": 1, "unmatched": 0}
    assert _message(app, message_id).status == "delivered"
    unknown = client.post(f"/sms/status/{SECRET}", json={"id": "nope", "status": "failed"})
    assert unknown.json() == {"matched": 0, "unmatched": 1}
    history = tenant.ok("get", f"/orders/{order['id']}/messages")
    assert [(h["direction"], h["status"], h["provider_id"]) for h in history] == [
        ("out", "delivered", sent.provider_id)
    ]
    # With an HMAC header required, the address alone is not enough; a form body by
    # our reference works too.
    sms_notifier.settings = sms_notifier.settings.model_copy(
        update={"sms_callback_hmac_header": "X-Signature"}
    )
    form = f"reference={message_id}&status=failed&error=absent".encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post(f"/sms/status/{SECRET}", content=form, headers=headers)
    assert r.status_code == 401
    mac = hmac.new(SECRET.encode(), form, hashlib.sha256).hexdigest()
    r = client.post(f"/sms/status/{SECRET}", content=form, headers={**headers, "X-Signature": mac})
    assert r.status_code == 200 and r.json()["matched"] == 1
    failed = _message(app, message_id)
    assert failed.status == "failed" and failed.last_error == "absent"


def test_failed_texts_are_retried_then_given_up(
    app: FastAPI, tenant: Tenant, sms_notifier: Notifier, fake_http: FakeHttpGateway
) -> None:
    order = _order(tenant, 2, phone="+33612345679")
    fake_http.scripted["retried"] = [(503, {}), (502, {})]
    retried = _queue(app, order["id"], "retried")
    _send_until(app, sms_notifier, retried, "sent")
    assert _message(app, retried).attempts == 3
    references = [b["reference"] for b in fake_http.bodies()]
    assert references.count(str(retried)) == 3
    # Refused for good: no second attempt.
    fake_http.scripted["refused"] = [(400, {"error": "bad number"})]
    refused = _queue(app, order["id"], "refused")
    _send_until(app, sms_notifier, refused, "failed")
    assert _message(app, refused).attempts == 1
    assert "bad number" in _message(app, refused).last_error
    # Failing every time: given up after sms_max_attempts.
    fake_http.scripted["doomed"] = [(500, {})] * 3
    doomed = _queue(app, order["id"], "doomed")
    _send_until(app, sms_notifier, doomed, "failed")
    assert _message(app, doomed).attempts == 3
    settings = NotifySettings(sms_backoff_s=30, sms_backoff_max_s=100)
    assert [messages.backoff_s(n, settings) for n in range(1, 5)] == [30, 60, 100, 100]


def _secret(t: Tenant) -> str:
    assert t.post("/messaging/inbound-secret", "dispatcher").status_code == 403
    created = t.ok("post", "/messaging/inbound-secret", status=201)
    assert created["sms_inbound_path"] == f"/sms/inbound/{created['secret']}"
    return str(created["secret"])


def test_customers_answer_by_text(
    app: FastAPI,
    client: TestClient,
    tenant: Tenant,
    sms_notifier: Notifier,
    fake_http: FakeHttpGateway,
) -> None:
    secret = _secret(tenant)
    order = _order(tenant, 3, phone="+33 6 12 34 56 70")
    other = _order(tenant, 4, phone="+33612345671")
    _send_until(app, sms_notifier, _queue(app, order["id"]), "sent")

    def answer(text: str, sender: str = "0033612345670", to: str = secret) -> httpx.Response:
        return client.post(f"/sms/inbound/{to}", json={"from": sender, "text": text})

    assert answer("1").json() == {"outcome": "keep"}
    r = answer(" 2 ")
    assert r.json() == {"outcome": "new_window"}
    # Answered with a new link to the tracking page, where the window is chosen.
    texts = [
        m for m in tenant.ok("get", f"/orders/{order['id']}/messages") if m["direction"] == "out"
    ]
    assert len(texts) == 2 and "https://track.example/track/" in texts[-1]["text"]
    assert texts[-1]["party"] == "+33 6 12 34 56 70"
    assert answer("Ring twice, the bell is broken").json() == {"outcome": "instructions"}
    assert (
        "Customer: Ring twice, the bell is broken"
        in tenant.ok("get", f"/orders/{order['id']}")["instructions"]
    )
    replies = tenant.ok("get", f"/orders/{order['id']}/replies")
    assert [r["kind"] for r in replies] == ["keep", "new_window_asked", "instructions"]
    history = tenant.ok("get", f"/orders/{order['id']}/messages")
    assert [h["status"] for h in history if h["direction"] == "in"] == [
        "keep",
        "new_window",
        "instructions",
    ]
    # The other order was never texted: found by its customer's phone.
    assert answer("1", sender="+33612345671").json() == {"outcome": "keep"}
    assert [r["kind"] for r in tenant.ok("get", f"/orders/{other['id']}/replies")] == ["keep"]
    # An unknown sender changes nothing; a wrong secret is refused.
    assert answer("1", sender="+33799999999").json() == {"outcome": "unmatched"}
    assert answer("1", to="lmi_wrong").status_code == 401
    assert answer("1", to="nothing").status_code == 401
    # Another organisation's address does not reach this one's customers.
    stranger = new_tenant(app, client)
    theirs = _secret(stranger)
    assert answer("Leave it at the door", to=theirs).json() == {"outcome": "unmatched"}
    assert len(tenant.ok("get", f"/orders/{order['id']}/replies")) == 3
    # A new secret replaces the old one.
    renewed = _secret(tenant)
    assert answer("1", to=secret).status_code == 401
    assert answer("1", to=renewed).status_code == 200


def test_customers_answer_by_email(
    app: FastAPI, client: TestClient, tenant: Tenant, sms_notifier: Notifier
) -> None:
    secret = _secret(tenant)
    order = _order(tenant, 5, email="ada@x.example")
    _order(tenant, 6, email="ada@x.example")  # a later order of the same customer
    url = f"/email/inbound/{secret}"
    quoted = "2\n\nOn Fri 2 May, Acme wrote:\n> Your delivery ord-5 is scheduled"
    mail = {"from": "Ada <ADA@x.example>", "subject": "Re: Your delivery ord-5", "text": quoted}
    assert client.post(url, json=mail).json() == {"outcome": "new_window"}
    history = tenant.ok("get", f"/orders/{order['id']}/messages")
    (answer_mail,) = [h for h in history if h["direction"] == "out"]
    assert answer_mail["channel"] == "email" and answer_mail["party"] == "ADA@x.example"
    assert "https://track.example/track/" in answer_mail["text"]
    form = {
        "sender": "ada@x.example",
        "subject": "ord-5",
        "body-plain": "Leave it with the concierge",
    }
    assert client.post(url, data=form).json() == {"outcome": "instructions"}
    assert client.post(url, json={**mail, "text": "1"}).json() == {"outcome": "keep"}
    kinds = [r["kind"] for r in tenant.ok("get", f"/orders/{order['id']}/replies")]
    assert kinds == ["new_window_asked", "instructions", "keep"]
    assert client.post(url, json={"subject": "x", "text": "1"}).status_code == 422
    nobody = {"from": "eve@x.example", "subject": "", "text": "1"}
    assert client.post(url, json=nobody).json() == {"outcome": "unmatched"}
    assert client.post("/email/inbound/lmi_wrong", json=mail).status_code == 401


def _offered(app: FastAPI, order_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """The windows last offered to the order's customer (kept on their "2")."""
    with app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order is not None
        offer = inbound.open_offer(session, order=order, now=dt.datetime.now(dt.UTC))
        assert offer
        return offer


def _window_of(t: Tenant, order_id: str) -> list[tuple[dt.datetime, dt.datetime]]:
    stored = t.ok("get", f"/orders/{order_id}")["delivery"]["time_windows"]
    return [
        (dt.datetime.fromisoformat(w["start"]), dt.datetime.fromisoformat(w["end"])) for w in stored
    ]


def _outbound(t: Tenant, order_id: str) -> list[dict[str, Any]]:
    history = t.ok("get", f"/orders/{order_id}/messages")
    return [m for m in history if m["direction"] == "out"]


def test_customers_choose_a_new_window_by_text(
    app: FastAPI, client: TestClient, tenant: Tenant, sms_notifier: Notifier
) -> None:
    secret = _secret(tenant)
    order = _order(tenant, 10, phone="+33612345675")
    before = _window_of(tenant, order["id"])

    def answer(text: str, sender: str = "+33612345675") -> str:
        r = client.post(f"/sms/inbound/{secret}", json={"from": sender, "text": text})
        assert r.status_code == 200, r.text
        return str(r.json()["outcome"])

    assert answer("2") == "new_window"
    offered = _offered(app, order["id"])
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    now = dt.datetime.now(dt.UTC)
    # The order's hours (09:00-18:00 in the organisation's zone) on the next days the
    # tracking page accepts, numbered from 3.
    assert len(offered) == inbound.OFFER_SIZE
    for start, end in offered:
        assert start > now and end <= now + dt.timedelta(days=14)
        assert (start.astimezone(paris).time(), end.astimezone(paris).time()) == (
            dt.time(9),
            dt.time(18),
        )
    days = [s.astimezone(paris).date() for s, _ in offered]
    assert days == sorted(set(days))
    text = _outbound(tenant, order["id"])[-1]["text"]
    first = offered[0][0].astimezone(paris)
    assert f"answer 2 and a number: 3 {first:%a %d/%m}, 4 " in text
    assert "to 09:00-18:00 on another day" in text and " 7 " in text and " 8 " not in text
    assert "Other times: https://track.example/track/" in text
    assert sms_length(text).segments <= 2, text
    assert _window_of(tenant, order["id"]) == before  # nothing moved yet

    # A number that was not offered: told so, nothing changed.
    assert answer("2 9") == "refused"
    assert _window_of(tenant, order["id"]) == before
    told = _outbound(tenant, order["id"])[-1]["text"]
    assert "9 is not one of the times offered for ord-10 (3-7): nothing was changed" in told
    entry = tenant.ok("get", f"/orders/{order['id']}/messages")[-2]
    assert entry["direction"] == "in" and entry["status"] == "refused"
    assert "9 is not one of the windows offered (3-7)" in entry["note"]

    # A follow-up "4" takes the second window offered, as the tracking page's form.
    assert answer("4") == "window_chosen"
    assert _window_of(tenant, order["id"]) == [offered[1]]
    chosen = offered[1][0].astimezone(paris)
    assert (
        f"ord-10 moved to {chosen:%d/%m} 09:00-18:00" in _outbound(tenant, order["id"])[-1]["text"]
    )
    # "2 3" in one answer takes the first.
    assert answer("2 3") == "window_chosen"
    assert _window_of(tenant, order["id"]) == [offered[0]]
    replies = tenant.ok("get", f"/orders/{order['id']}/replies")
    assert [(r["kind"], r["applied"]) for r in replies] == [
        ("new_window_asked", False),
        ("new_window", True),
        ("new_window", True),
    ]
    assert dt.datetime.fromisoformat(replies[-1]["window_start"]) == offered[0][0]
    history = tenant.ok("get", f"/orders/{order['id']}/messages")
    assert [h["status"] for h in history if h["direction"] == "in"] == [
        "new_window",
        "refused",
        "window_chosen",
        "window_chosen",
    ]
    # "1" still keeps, other text is still instructions (a number alone only
    # answers an open offer).
    assert answer("1") == "keep"
    assert answer("Gate code 4567") == "instructions"
    # An unknown sender is ignored: nothing changes.
    assert answer("5", sender="+33799999998") == "unmatched"
    assert answer("2 5", sender="+33799999998") == "unmatched"
    assert _window_of(tenant, order["id"]) == [offered[0]]
    assert len(tenant.ok("get", f"/orders/{order['id']}/replies")) == 5


def test_a_window_chosen_by_number_is_checked_as_the_page_checks_it(
    app: FastAPI, tenant: Tenant, sms_notifier: Notifier
) -> None:
    order = _order(tenant, 11, phone="+33612345676")
    now = dt.datetime.now(dt.UTC)

    def answer(text: str, at: dt.datetime) -> str:
        with app.state.sessionmaker() as session:
            return inbound.handle_answer(
                session,
                org_id=tenant.org_id,
                channel="sms",
                sender="+33612345676",
                text=text,
                senders=sms_notifier.senders,
                now=at,
            ).outcome

    assert answer("2", now) == "new_window"
    offered = _offered(app, order["id"])
    before = _window_of(tenant, order["id"])
    # Chosen once the window has begun: refused by the form's own check, told, kept.
    late = offered[0][0] + dt.timedelta(minutes=1)
    assert late - now < inbound.OFFER_VALID
    assert answer("3", late) == "refused"
    assert _window_of(tenant, order["id"]) == before
    told = _outbound(tenant, order["id"])[-1]["text"]
    assert "ord-11 could not be moved (the window must start in the future)" in told
    # Once the offer is too old, a number alone is instructions again, and "2 N"
    # offers the windows anew.
    later = now + inbound.OFFER_VALID + dt.timedelta(minutes=1)
    assert answer("2 4", later) == "new_window"
    assert answer("5", later + inbound.OFFER_VALID + dt.timedelta(minutes=1)) == "instructions"
    assert _window_of(tenant, order["id"]) == before


def test_customers_choose_a_new_window_by_email(
    app: FastAPI, client: TestClient, tenant: Tenant, sms_notifier: Notifier
) -> None:
    secret = _secret(tenant)
    order = _order(tenant, 12, email="grace@x.example")
    before = _window_of(tenant, order["id"])
    url = f"/email/inbound/{secret}"
    quoted = "2\n\nOn Fri 2 May, Acme wrote:\n> Your delivery ord-12 is scheduled"
    mail = {"from": "Grace <grace@x.example>", "subject": "Re: ord-12", "text": quoted}
    assert client.post(url, json=mail).json() == {"outcome": "new_window"}
    offered = _offered(app, order["id"])
    (offer_mail,) = _outbound(tenant, order["id"])
    assert (
        offer_mail["channel"] == "email"
        and offer_mail["subject"] == "Choose another time for ord-12"
    )
    assert "answer 2 and a number: 3 " in offer_mail["text"]
    # A choice not offered: answered, nothing changed.
    wrong = {**mail, "text": "2 12\n\nOn Fri 2 May, Acme wrote:\n> 3 Mon"}
    assert client.post(url, json=wrong).json() == {"outcome": "refused"}
    assert "12 is not one of the times offered" in _outbound(tenant, order["id"])[-1]["text"]
    assert _window_of(tenant, order["id"]) == before
    # "2 5" moves the order to the third window offered.
    chosen = {**mail, "text": "2 5\n\nOn Fri 2 May, Acme wrote:\n> ..."}
    assert client.post(url, json=chosen).json() == {"outcome": "window_chosen"}
    assert _window_of(tenant, order["id"]) == [offered[2]]
    confirm = _outbound(tenant, order["id"])[-1]
    assert confirm["subject"] == "New time for ord-12" and "moved to" in confirm["text"]
    replies = tenant.ok("get", f"/orders/{order['id']}/replies")
    assert [(r["kind"], r["applied"]) for r in replies] == [
        ("new_window_asked", False),
        ("new_window", True),
    ]
    # An unknown sender is ignored.
    stranger = {"from": "mallory@x.example", "subject": "Re: ord-12", "text": "2 3"}
    assert client.post(url, json=stranger).json() == {"outcome": "unmatched"}
    assert _window_of(tenant, order["id"]) == [offered[2]]


def test_the_windows_offered_are_in_the_customers_language(
    app: FastAPI, client: TestClient, tenant: Tenant, sms_notifier: Notifier
) -> None:
    secret = _secret(tenant)
    order = tenant.order(13, customer={"name": "Aino", "phone": "+358401234567"}, language="fi")
    r = client.post(f"/sms/inbound/{secret}", json={"from": "+358401234567", "text": "2"})
    assert r.json() == {"outcome": "new_window"}
    text = _outbound(tenant, order["id"])[-1]["text"]
    first = _offered(app, order["id"])[0][0].astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    weekday = ["ma", "ti", "ke", "to", "pe", "la", "su"][first.weekday()]
    assert f"klo 09.00-18.00 vastaamalla 2 ja numero: 3 {weekday} {first:%d.%m.}, 4 " in text


def test_answers_to_a_closed_order_are_refused_and_kept(
    app: FastAPI, client: TestClient, tenant: Tenant, sms_notifier: Notifier
) -> None:
    secret = _secret(tenant)
    order = _order(tenant, 7, phone="+33612345672")
    _queue(app, order["id"])  # texted, then cancelled
    tenant.ok("post", f"/orders/{order['id']}/cancel")
    r = client.post(f"/sms/inbound/{secret}", json={"from": "+33612345672", "text": "1"})
    assert r.json() == {"outcome": "refused"}
    entry = tenant.ok("get", f"/orders/{order['id']}/messages")[-1]
    assert entry["direction"] == "in" and entry["status"] == "refused"
    assert "cancelled" in entry["note"]


def test_texts_are_answered_through_an_smpp_bind(
    app: FastAPI, client: TestClient, tenant: Tenant, smsc: FakeSmsc
) -> None:
    running: Notifier = app.state.notifier
    saved = (running.settings, running.senders)
    settings = NotifySettings(sms_gateway="smpp", smpp_host="127.0.0.1", smpp_port=smsc.port)
    running.settings = settings
    running.senders = Senders(
        email=None,
        sms=make_gateway(settings),
        http=httpx.Client(),
        tracking_base_url="https://track.example",
    )
    try:
        order = _order(tenant, 8, phone="+33612345673")
        message_id = _queue(app, order["id"])
        _send_until(app, running, message_id, "delivered")  # the receipt came back
        assert _message(app, message_id).gateway == "smpp"
        smsc.deliver(source="33612345673", text=b"Back door please")
        deadline = time.monotonic() + 10
        while not tenant.ok("get", f"/orders/{order['id']}/replies"):
            assert time.monotonic() < deadline
            running.send_texts_once()
            time.sleep(0.05)
        (reply,) = tenant.ok("get", f"/orders/{order['id']}/replies")
        assert reply["kind"] == "instructions" and reply["text"] == "Back door please"
    finally:
        assert running.senders.sms is not None
        running.senders.sms.close()
        running.senders.http.close()
        running.settings, running.senders = saved


def test_the_order_history_is_the_organisations_own(
    app: FastAPI, client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    order = _order(tenant, 9, phone="+33612345674")
    _queue(app, order["id"])
    assert len(tenant.ok("get", f"/orders/{order['id']}/messages")) == 1
    assert other_tenant.get(f"/orders/{order['id']}/messages").status_code == 404
