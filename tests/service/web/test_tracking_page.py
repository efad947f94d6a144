"""The customer's tracking page: a browser opening the link gets HTML (everything
essential rendered on the server), API clients still get JSON; the page is
public but shows only its own order, leaks its token nowhere, and takes the
customer's replies from plain form posts."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.app import create_app
from lastmile.service.orders.models import TrackingLink
from lastmile.service.security import digest
from lastmile.service.web.tracking_page import form_token, wants_html

from ..conftest import Tenant, make_settings, new_tenant  # type: ignore[import-not-found]

BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}


def browser(app: FastAPI) -> TestClient:
    """A client of its own that does not follow redirects."""
    return TestClient(app, follow_redirects=False)


def link(tenant: Tenant, order: dict[str, Any]) -> str:
    made = tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)
    return str(made["token"])


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags and scripts removed."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_browsers_get_the_page_and_api_clients_json() -> None:
    assert wants_html(BROWSER["Accept"])
    assert wants_html("text/html")
    assert not wants_html(None)
    assert not wants_html("*/*")
    assert not wants_html("application/json")
    assert not wants_html("application/json, text/html;q=0.5")
    assert not wants_html("text/html;q=0")


def test_the_page_shows_status_and_window_without_javascript(app: FastAPI, tenant: Tenant) -> None:
    order = tenant.order(1, customer={"name": "Ada Customer", "phone": "+33100000001"})
    token = link(tenant, order)
    client = browser(app)
    page = client.get(f"/track/{token}", headers=BROWSER)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    text = text_of(page.text)
    assert "Received: we are planning your delivery." in text
    # The agreed window in the organisation's zone (Paris), as the order says it.
    assert "Friday 2 May between 09:00 and 18:00" in text
    assert "Europe/Paris" in text
    assert f'action="/track/{token}/replies"' in page.text
    assert f'value="{form_token(token)}"' in page.text
    # The same address still answers JSON to API clients.
    answer = client.get(f"/track/{token}")
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["status"] == "pending"
    assert answer.headers["vary"] == "Accept" and answer.headers["cache-control"] == "no-store"


def test_the_page_keeps_its_token_to_itself(app: FastAPI, tenant: Tenant) -> None:
    token = link(tenant, tenant.order(2))
    page = browser(app).get(f"/track/{token}", headers=BROWSER)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    assert "Accept" in page.headers["vary"]
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page.text)


def test_the_page_speaks_the_organisations_language(app: FastAPI, client: TestClient) -> None:
    tenant = new_tenant(app, client, timezone="Europe/Helsinki")
    tenant.ok("patch", "/org", json={"settings": {"language": "fi"}})
    token = link(tenant, tenant.order(3))
    page = browser(app).get(f"/track/{token}", headers=BROWSER)
    assert page.status_code == 200
    assert '<html lang="fi">' in page.text
    text = text_of(page.text)
    assert "Vastaanotettu: suunnittelemme toimitustasi." in text
    # 09:00-18:00 in Paris is 10:00-19:00 in Helsinki.
    assert "perjantai 2. toukokuuta klo 10:00–19:00" in text
    assert "Europe/Helsinki" in text


def test_another_orders_link_shows_nothing_of_this_one(app: FastAPI, tenant: Tenant) -> None:
    mine = tenant.order(4, customer={"name": "Mine Person", "phone": "+33100000004"})
    tenant.ok("patch", f"/orders/{mine['id']}", json={"instructions": "Gate code 4711"})
    theirs = tenant.order(5, customer={"name": "Other Person", "phone": "+33100000005"})
    mine_token, their_token = link(tenant, mine), link(tenant, theirs)
    client = browser(app)
    assert "Gate code 4711" in client.get(f"/track/{mine_token}", headers=BROWSER).text
    page = client.get(f"/track/{their_token}", headers=BROWSER).text
    for secret in ("Gate code 4711", "Mine Person", mine["id"], "ord-4", mine_token):
        assert secret not in page
    # Not even the customer's own name or phone: the page shows the delivery, not them.
    assert "Other Person" not in page and "+33100000005" not in page


def test_an_unknown_or_expired_link_is_a_friendly_404_page(app: FastAPI, tenant: Tenant) -> None:
    client = browser(app)
    page = client.get("/track/not-a-real-token", headers=BROWSER)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Tracking link not found" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    order = tenant.order(6)
    token = link(tenant, order)
    tenant.ok("delete", f"/orders/{order['id']}/tracking-links", status=204)
    gone = client.get(f"/track/{token}", headers=BROWSER)
    assert gone.status_code == 404 and "Tracking link not found" in gone.text
    assert client.get(f"/track/{token}").json()["detail"] == "unknown or expired tracking link"
    expiring = link(tenant, tenant.order(12))
    with app.state.sessionmaker() as session:
        row = session.scalar(
            select(TrackingLink).where(TrackingLink.token_hash == digest(expiring))
        )
        assert row is not None
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.commit()
    expired = client.get(f"/track/{expiring}", headers=BROWSER)
    assert expired.status_code == 404 and "Tracking link not found" in expired.text


def _tomorrow_in(zone: str) -> str:
    return str(dt.datetime.now(zoneinfo.ZoneInfo(zone)).date() + dt.timedelta(days=1))


def test_a_plain_form_post_chooses_a_new_window(app: FastAPI, tenant: Tenant) -> None:
    order = tenant.order(7)
    token = link(tenant, order)
    client = browser(app)
    day = _tomorrow_in("Europe/Paris")
    form = {"form_token": form_token(token), "kind": "new_window", "date": day}
    r = client.post(f"/track/{token}/replies", data=form | {"start": "14:00", "end": "16:00"})
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/track/{token}?sent=new_window#replies"
    assert r.headers["referrer-policy"] == "no-referrer"
    stored = tenant.ok("get", f"/orders/{order['id']}")["delivery"]["time_windows"]
    start = dt.datetime.fromisoformat(stored[0]["start"])
    assert start == dt.datetime.fromisoformat(f"{day}T14:00").replace(
        tzinfo=zoneinfo.ZoneInfo("Europe/Paris")
    )
    page = client.get(r.headers["location"], headers=BROWSER)
    assert "Thank you: we have your new time." in page.text
    replies = tenant.ok("get", f"/orders/{order['id']}/replies")
    assert [(x["kind"], x["applied"]) for x in replies] == [("new_window", True)]


def test_a_form_post_with_a_mistake_shows_the_page_again(app: FastAPI, tenant: Tenant) -> None:
    order = tenant.order(8)
    token = link(tenant, order)
    client = browser(app)
    form = {"form_token": form_token(token), "kind": "new_window", "date": _tomorrow_in("UTC")}
    r = client.post(f"/track/{token}/replies", data=form | {"start": "14:00", "end": "14:10"})
    assert r.status_code == 422
    assert "at least 30 minutes" in r.text
    assert 'value="14:10"' in r.text  # what they typed is kept
    r = client.post(
        f"/track/{token}/replies",
        data={"form_token": form_token(token), "kind": "leave_with_neighbour"},
    )
    assert r.status_code == 422 and "Write your neighbour&#39;s name." in r.text
    assert tenant.ok("get", f"/orders/{order['id']}/replies") == []


@pytest.mark.parametrize(
    ("headers", "with_token"),
    [
        ({}, False),
        ({"Origin": "https://evil.example"}, True),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "null"}, True),
    ],
)
def test_form_posts_need_the_forms_token_and_this_sites_origin(
    app: FastAPI, tenant: Tenant, headers: dict[str, str], with_token: bool
) -> None:
    order = tenant.order(9)
    token = link(tenant, order)
    data = {"kind": "instructions", "text": "Ring twice"}
    if with_token:
        data["form_token"] = form_token(token)
    r = browser(app).post(f"/track/{token}/replies", data=data, headers=headers)
    assert r.status_code == 403
    assert "<h1>Not sent</h1>" in r.text and "did not come from your tracking page" in r.text
    assert tenant.ok("get", f"/orders/{order['id']}")["instructions"] == ""
    # From the page itself it goes through, and the page shows the instructions.
    ok = browser(app).post(
        f"/track/{token}/replies",
        data=data | {"form_token": form_token(token)},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )
    assert ok.status_code == 303
    assert "Customer: Ring twice" in browser(app).get(f"/track/{token}", headers=BROWSER).text


def test_another_links_form_token_does_not_fit(app: FastAPI, tenant: Tenant) -> None:
    first, second = link(tenant, tenant.order(10)), link(tenant, tenant.order(11))
    data = {"kind": "instructions", "text": "Back door", "form_token": form_token(first)}
    assert browser(app).post(f"/track/{second}/replies", data=data).status_code == 403
    unknown = browser(app).post("/track/nope/replies", data=data)
    assert unknown.status_code == 404 and "Tracking link not found" in unknown.text


def test_the_page_shares_the_tracking_rate_limit(database_url: str) -> None:
    app = create_app(make_settings(database_url, tracking_requests_per_minute=2), geocode=None)
    with TestClient(app) as client:
        codes = [client.get("/track/nothing-here").status_code for _ in range(2)]
        page = client.get("/track/nothing-here", headers=BROWSER)
    assert codes == [404, 404]
    assert page.status_code == 429 and "Too many requests" in page.text
    assert int(page.headers["retry-after"]) > 0


def test_a_form_reply_that_does_not_fit_the_instructions_is_refused(
    app: FastAPI, tenant: Tenant
) -> None:
    order = tenant.order(13, instructions="z" * 1800)
    token = link(tenant, order)
    client = browser(app)
    form = {"form_token": form_token(token), "kind": "instructions", "text": "w" * 300}
    r = client.post(f"/track/{token}/replies", data=form)
    assert r.status_code == 422
    assert "at most 2,000 characters" in r.text
    assert tenant.ok("get", f"/orders/{order['id']}")["instructions"] == "z" * 1800


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_form_post_with_a_day_out_of_range_shows_the_page_again(
    app: FastAPI, tenant: Tenant, day: str
) -> None:
    order = tenant.order(9)
    token = link(tenant, order)
    client = browser(app)
    form = {"form_token": form_token(token), "kind": "new_window", "date": day}
    r = client.post(f"/track/{token}/replies", data=form | {"start": "00:00", "end": "23:59"})
    assert r.status_code == 422, r.text
    assert client.get(f"/track/{token}", headers=BROWSER).status_code == 200
    assert tenant.ok("get", f"/orders/{order['id']}/replies") == []
