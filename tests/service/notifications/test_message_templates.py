"""Message templates through the API: defaults, an organisation's own wording and
its restoring, refusals that name the problem, previews with their SMS length,
who may do what, tenants kept apart, and the customer's language in the messages
actually sent (and on their tracking page)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.notifications.delivery import Senders
from lastmile.service.notifications.gateways.log import LogGateway
from lastmile.service.notifications.models import CustomerNotification
from lastmile.service.notifications.runtime import Notifier
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orders.models import Order

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]

KINDS = ("dispatched", "on_the_way", "delay", "delivered", "failed", "window_changed")
SMS_FI = "/message-templates/dispatched/sms/fi"


@dataclass
class Outbox:
    """Captures e-mails as an SMTP server would receive them."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)

    def send(self, *, to: str, subject: str, text: str) -> None:
        self.sent.append((to, subject, text))


@pytest.fixture
def notifier(app: FastAPI) -> Iterator[tuple[Notifier, Outbox, LogGateway]]:
    running: Notifier = app.state.notifier
    saved = (running.settings, running.senders)
    mails, sms = Outbox(), LogGateway()
    running.settings = NotifySettings()
    running.senders = Senders(
        email=mails, sms=sms, http=httpx.Client(), tracking_base_url="https://track.example"
    )
    yield running, mails, sms
    running.senders.http.close()
    running.settings, running.senders = saved


def notes(app: FastAPI, order_id: str) -> list[CustomerNotification]:
    with app.state.sessionmaker() as session:
        return list(
            session.scalars(
                select(CustomerNotification)
                .where(CustomerNotification.order_id == uuid.UUID(order_id))
                .order_by(CustomerNotification.created_at)
            )
        )


def wait_for(check: Callable[[], bool], notifier: Notifier, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        notifier.run_once()
        time.sleep(0.05)
    raise AssertionError("timed out")


def set_status(app: FastAPI, order_id: str, status: str, **columns: Any) -> None:
    """Move an order as the day would (the outbox queues the customer's message)."""
    with app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order is not None
        order.status = status
        for name, value in columns.items():
            setattr(order, name, value)
        session.commit()


def texts_of(sms: LogGateway) -> dict[str, str]:
    """The last text to each number."""
    return {to: text for to, text, _reference in sms.sent}


def sent_to(app: FastAPI, notifier: Notifier, order_id: str, event: str) -> CustomerNotification:
    def done() -> bool:
        # A text is queued for the SMS pool, which sends it and updates its entry.
        return any(
            n.event == event
            and n.status != "pending"
            and all(c.get("status") != "queued" for c in n.channels)
            for n in notes(app, order_id)
        )

    wait_for(done, notifier)
    note = next(n for n in notes(app, order_id) if n.event == event)
    assert note.status == "sent", note.channels
    return note


# -- reading, editing, restoring ---------------------------------------------------------------


def test_every_message_has_a_default_in_english_and_finnish(tenant: Tenant) -> None:
    listed = tenant.ok("get", "/message-templates", "dispatcher")
    keys = {(t["kind"], t["channel"], t["language"]) for t in listed}
    assert keys >= set(itertools.product(KINDS, ("email", "sms"), ("en", "fi")))
    assert not any(t["customised"] for t in listed)
    one = tenant.ok("get", "/message-templates/failed/email/fi", "dispatcher")
    assert one["subject"] and "{{ order_reference }}" in one["body"]
    names = [v["name"] for v in tenant.ok("get", "/message-templates/variables", "dispatcher")]
    assert {"customer_name", "order_reference", "window", "eta", "tracking_link"} <= set(names)
    assert {"driver_first_name", "organisation_name", "next_attempt"} <= set(names)
    missing = tenant.get("/message-templates/dispatched/sms/sv")
    assert missing.status_code == 404 and "en, fi" in missing.json()["detail"]


def test_an_edit_overrides_the_default_and_deleting_it_restores_it(tenant: Tenant) -> None:
    default = tenant.ok("get", SMS_FI)
    body = "{{ organisation_name }}: paketti {{ order_reference }} tulee {{ window_short }}"
    saved = tenant.ok("put", SMS_FI, json={"body": body})
    assert saved["customised"] and saved["body"] == body and saved["updated_at"]
    assert tenant.ok("get", SMS_FI, "dispatcher")["body"] == body
    listed = tenant.ok("get", "/message-templates")
    assert [t for t in listed if t["customised"]] == [saved]
    shown = tenant.ok(
        "post",
        "/message-templates/preview",
        json={"kind": "dispatched", "channel": "sms", "language": "fi"},
    )
    assert shown["customised"] and shown["text"].startswith(
        f"Org {tenant.slug}: paketti ORD-1042 tulee "
    )
    # A language the defaults lack can be added, and restored away.
    tenant.ok(
        "put",
        "/message-templates/delivered/email/sv",
        json={"subject": "Levererat", "body": "Hej!"},
    )
    assert tenant.ok("get", "/message-templates/delivered/email/sv")["subject"] == "Levererat"
    tenant.ok("delete", "/message-templates/delivered/email/sv", status=204)
    assert tenant.get("/message-templates/delivered/email/sv").status_code == 404
    # Deleting restores the default; deleting again finds nothing of the organisation's.
    tenant.ok("delete", SMS_FI, status=204)
    restored = tenant.ok("get", SMS_FI)
    assert restored == default and not restored["customised"]
    assert tenant.delete(SMS_FI).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "column", "words"),
    [
        (SMS_FI, {"body": "Hei {{ asiakas }}"}, "body", ["line 1", "unknown variable 'asiakas'"]),
        (SMS_FI, {"body": "ok\n{% if late %}myöhässä"}, "body", ["syntax error"]),
        (SMS_FI, {"body": "{{ customer_name.__class__ }}"}, "body", ["attribute access"]),
        (SMS_FI, {"body": "{% for x in window %}{{ x }}{% endfor %}"}, "body", ["loops"]),
        (SMS_FI, {"subject": "Hi", "body": "x"}, "subject", ["an SMS has no subject"]),
        ("/message-templates/delay/email/en", {"body": "x"}, "subject", ["needs a subject"]),
        (
            "/message-templates/delay/email/en",
            {"subject": "{{ eta", "body": "x"},
            "subject",
            ["syntax error"],
        ),
        (SMS_FI, {"body": " "}, "body", ["must not be empty"]),
    ],
)
def test_invalid_templates_are_refused_naming_the_problem(
    tenant: Tenant, path: str, body: dict[str, str], column: str, words: list[str]
) -> None:
    r = tenant.put(path, json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert any(e["column"] == column and all(w in e["reason"] for w in words) for e in errors), (
        errors
    )
    # The preview refuses it the same way; nothing was stored.
    kind, channel, language = path.rsplit("/", 3)[1:]
    preview = {"kind": kind, "channel": channel, "language": language, **body}
    assert tenant.post("/message-templates/preview", json=preview).status_code == 422
    assert not tenant.ok("get", path)["customised"]


def test_paths_and_previews_check_their_names(tenant: Tenant) -> None:
    for path, column in (
        ("/message-templates/sent/sms/fi", "kind"),
        ("/message-templates/dispatched/fax/fi", "channel"),
        ("/message-templates/dispatched/sms/finnish", "language"),
    ):
        r = tenant.put(path, json={"body": "x"})
        assert r.status_code == 422, r.text
        assert any(column in e["column"] for e in r.json()["errors"]), r.json()


def test_previews_render_a_sample_order_with_its_sms_length(tenant: Tenant) -> None:
    def preview(**kw: Any) -> dict[str, Any]:
        body = {"kind": "dispatched", "channel": "sms", "language": "fi"} | kw
        return tenant.ok("post", "/message-templates/preview", "dispatcher", json=body)  # type: ignore[no-any-return]

    shown = preview()
    assert shown["language"] == "fi" and "toimitus ORD-1042 aikataulutettu" in shown["text"]
    assert shown["sms"]["encoding"] == "GSM-7" and shown["sms"]["segments"] == 1
    assert preview(pickup=True)["text"].count("nouto ORD-1042") == 1
    long = preview(body="Hyvää päivää {{ customer_name }}! " * 6)
    assert long["sms"]["encoding"] == "GSM-7" and long["sms"]["segments"] == 2
    assert long["sms"]["per_segment"] == 153
    emoji = preview(body="{{ order_reference }} on matkalla 🚚")
    assert emoji["sms"] == {
        "encoding": "UCS-2",
        "characters": 22,  # "ORD-1042 on matkalla 🚚"
        "units": 23,  # the lorry is a surrogate pair
        "segments": 1,
        "per_segment": 70,
        "remaining": 47,
        "non_gsm": ["🚚"],
    }
    mail = preview(channel="email", language="en", kind="delay")
    assert mail["sms"] is None and mail["subject"] == "Your delivery ORD-1042 is running late"
    assert "running late" in mail["text"] and "around 16:20" in mail["text"]
    # A language without templates previews in English.
    assert preview(language="sv")["language"] == "en"


# -- who may, and tenants --------------------------------------------------------------------


def test_dispatchers_read_and_preview_admins_edit_drivers_nothing(tenant: Tenant) -> None:
    body = {"body": "{{ order_reference }}"}
    assert tenant.put(SMS_FI, "dispatcher", json=body).status_code == 403
    assert tenant.delete(SMS_FI, "dispatcher").status_code == 403
    preview = {"kind": "dispatched", "channel": "sms"}
    for path in ("/message-templates", "/message-templates/variables", SMS_FI):
        assert tenant.get(path, "d1").status_code == 403
    assert tenant.post("/message-templates/preview", "d1", json=preview).status_code == 403
    assert tenant.put(SMS_FI, "d1", json=body).status_code == 403
    assert tenant.client.get(SMS_FI).status_code == 401
    assert tenant.client.put(SMS_FI, json=body).status_code == 401
    assert not tenant.ok("get", SMS_FI)["customised"]


def test_tenants_never_see_each_others_wording(
    app: FastAPI,
    tenant: Tenant,
    other_tenant: Tenant,
    notifier: tuple[Notifier, Outbox, LogGateway],
) -> None:
    running, _, sms = notifier
    tenant.ok("put", SMS_FI, json={"body": "OMA {{ order_reference }}"})
    theirs = other_tenant.ok("get", SMS_FI)
    assert not theirs["customised"] and "OMA" not in theirs["body"]
    assert not any(t["customised"] for t in other_tenant.ok("get", "/message-templates"))
    assert other_tenant.delete(SMS_FI).status_code == 404
    shown = other_tenant.ok(
        "post",
        "/message-templates/preview",
        json={"kind": "dispatched", "channel": "sms", "language": "fi"},
    )
    assert not shown["customised"] and "OMA" not in shown["text"]
    # Their customers get their own wording.
    mine = tenant.order(1, language="fi", customer={"phone": "+358401111111"})
    other = other_tenant.order(1, language="fi", customer={"phone": "+358402222222"})
    for order in (mine, other):
        set_status(app, order["id"], "dispatched")
    sent_to(app, running, mine["id"], "dispatched")
    sent_to(app, running, other["id"], "dispatched")
    texts = texts_of(sms)
    assert texts["+358401111111"] == "OMA ord-1"
    assert texts["+358402222222"].startswith(
        f"Org {other_tenant.slug}: toimitus ord-1 aikataulutettu"
    )
    # Still the owner's: editing it from the other tenant made a template of its own.
    other_tenant.ok("put", SMS_FI, json={"body": "TOINEN"})
    assert tenant.ok("get", SMS_FI)["body"] == "OMA {{ order_reference }}"


# -- the customer's language -----------------------------------------------------------------


def test_messages_are_sent_in_the_customers_language(
    app: FastAPI, tenant: Tenant, notifier: tuple[Notifier, Outbox, LogGateway]
) -> None:
    running, mails, sms = notifier

    def order(i: int, language: str | None) -> dict[str, Any]:
        contact = {"name": f"Asiakas {i}", "email": f"c{i}@x.example", "phone": f"+35840000000{i}"}
        made = tenant.order(i, language=language, customer=contact)
        assert made["language"] == (language.lower() if language else None)
        return made

    finnish, plain, swedish = order(1, "FI"), order(2, None), order(3, "sv")
    for made in (finnish, plain, swedish):
        set_status(app, made["id"], "dispatched")
        sent_to(app, running, made["id"], "dispatched")
    mail = {to: (subject, text) for to, subject, text in mails.sent}
    texts = texts_of(sms)
    assert mail["c1@x.example"][0] == "Toimitus ord-1 on aikataulutettu"
    assert "perjantaina 2. toukokuuta klo 09.00-18.00 (UTC+02:00)" in mail["c1@x.example"][1]
    assert texts["+358400000001"].startswith(f"Org {tenant.slug}: toimitus ord-1 aikataulutettu")
    assert mail["c2@x.example"][0] == "Your delivery ord-2 is scheduled"
    assert mail["c3@x.example"][0] == "Your delivery ord-3 is scheduled"  # no Swedish: English
    note = notes(app, finnish["id"])[0]
    assert note.subject == "Toimitus ord-1 on aikataulutettu" and note.body.startswith(
        "Hei Asiakas 1,"
    )
    # Orders naming no language follow the organisation's customer_language.
    tenant.ok("patch", "/org", json={"settings": {"customer_language": "fi"}})
    later = order(4, None)
    set_status(app, later["id"], "dispatched")
    sent_to(app, running, later["id"], "dispatched")
    assert texts_of(sms)["+358400000004"].startswith(f"Org {tenant.slug}: toimitus ord-4")
    # The customer can be switched back to English on the order.
    pending = order(5, None)
    edited = tenant.ok("patch", f"/orders/{pending['id']}", json={"language": "en"})
    assert edited["language"] == "en"
    cleared = tenant.ok("patch", f"/orders/{pending['id']}", json={"language": None})
    assert cleared["language"] is None


def test_a_changed_window_is_told_in_the_customers_language(
    app: FastAPI, tenant: Tenant, notifier: tuple[Notifier, Outbox, LogGateway]
) -> None:
    running, _, sms = notifier
    made = tenant.order(5, language="fi", customer={"phone": "+358405555555"})
    waiting = tenant.order(6, customer={"phone": "+358406666666"})
    set_status(app, made["id"], "failed")
    sent_to(app, running, made["id"], "failed")
    new = [{"start": f"{DAY}T12:00:00+00:00", "end": f"{DAY}T14:00:00+00:00"}]
    set_status(app, made["id"], "failed", delivery_windows=new)
    note = sent_to(app, running, made["id"], "window_changed")
    window = "02.05. klo 14.00-16.00 UTC+02:00"

    def told() -> list[str]:
        return [text for to, text, _ in sms.sent if to == "+358405555555" and window in text]

    # The SMS pool sends queued texts after the note is marked sent: wait for its record.
    wait_for(lambda: bool(told()), running)
    assert len(told()) == 1
    assert note.subject == "Uusi aika: toimitus ord-5"
    # A customer who was told nothing yet hears nothing of a new window.
    set_status(app, waiting["id"], "pending", delivery_windows=new)
    assert [n.event for n in notes(app, waiting["id"])] == []


def test_the_import_reads_the_language_column(tenant: Tenant) -> None:
    header = "external_id,lon,lat,window_start,window_end,customer_phone,language\n"
    good = f"lang-1,2.35,48.85,{DAY}T09:00:00+02:00,{DAY}T18:00:00+02:00,+358401,FI\n"
    blank = f"lang-2,2.35,48.85,{DAY}T09:00:00+02:00,{DAY}T18:00:00+02:00,+358402,\n"
    r = tenant.post(
        "/orders/import", files={"file": ("o.csv", (header + good + blank).encode(), "text/csv")}
    )
    assert r.status_code == 200, r.text
    languages = {o["external_id"]: o["language"] for o in tenant.ok("get", "/orders")}
    assert languages == {"lang-1": "fi", "lang-2": None}
    bad = f"lang-3,2.35,48.85,{DAY}T09:00:00+02:00,{DAY}T18:00:00+02:00,+358403,suomi\n"
    r = tenant.post(
        "/orders/import", files={"file": ("o.csv", (header + bad).encode(), "text/csv")}
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["row"] == 2 and error["column"] == "language" and "suomi" in error["reason"]


def test_the_tracking_page_speaks_the_customers_language(tenant: Tenant) -> None:
    browser = {"Accept": "text/html", "Accept-Language": "en"}

    def page(order: dict[str, Any]) -> str:
        token = tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)["token"]
        return str(tenant.client.get(f"/track/{token}", headers=browser).text)

    assert '<html lang="fi">' in page(tenant.order(7, language="fi"))
    assert '<html lang="en">' in page(tenant.order(8))
    assert '<html lang="en">' in page(tenant.order(9, language="sv"))


# -- the dashboard page ----------------------------------------------------------------------


def test_the_dashboard_has_a_messages_page(app: FastAPI, tenant: Tenant) -> None:
    def signed_in(who: str) -> TestClient:
        browser = TestClient(app, follow_redirects=False)
        login = {"email": f"{who}@{tenant.slug}.example", "password": "correct horse battery"}
        assert browser.post("/login", data=login).status_code == 303
        return browser

    page = signed_in("dispatcher").get("/dashboard/messages")
    assert page.status_code == 200
    for piece in (
        'id="messages-body"',
        'id="messages-preview"',
        'id="messages-length"',
        "/static/dashboard/messages.js",
        'href="/dashboard/messages" aria-current="page"',
        '<option value="window_changed">Time window changed</option>',
    ):
        assert piece in page.text, piece
    # In the organisation's language, and the editor starts in its customers'.
    tenant.ok("patch", "/org", json={"settings": {"language": "fi", "customer_language": "sv"}})
    finnish = signed_in("admin").get("/dashboard/messages").text
    assert "<h1>Viestit</h1>" in finnish and 'value="sv"' in finnish
    assert signed_in("d1").get("/dashboard/messages").status_code == 303  # to the driver app
    script = TestClient(app).get("/static/dashboard/messages.js")
    assert script.status_code == 200 and "/message-templates/preview" in script.text
