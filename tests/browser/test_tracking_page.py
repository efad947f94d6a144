"""The customer's tracking page in a browser: it follows the delivery live, shows
the driver only near the end, takes a new window, passes axe, and works without
JavaScript."""

from __future__ import annotations

import datetime as dt
import re
import time
import zoneinfo
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import expect

ZONE = zoneinfo.ZoneInfo("Europe/Helsinki")
#: The server of these tests has the page poll every 2 s (LASTMILE_TRACKING_REFRESH_S);
#: a change must show within one poll and a margin.
LIVE_MS = 10_000


def _day(offset: int) -> dt.date:
    return dt.datetime.now(ZONE).date() + dt.timedelta(days=offset)


def _local(day: dt.date, hour: int) -> str:
    return dt.datetime.combine(day, dt.time(hour), ZONE).isoformat()


@dataclass
class Delivery:
    order_id: str
    token: str
    route_id: str | None = None
    #: Sequences of the stops before this order's, in visiting order.
    before: tuple[int, ...] = ()


def _order(admin: Any, i: int, day: dt.date) -> dict[str, Any]:
    body = {
        "external_id": f"web-{i}",
        "delivery": {
            "lon": 24.93 + 0.004 * i,
            "lat": 60.165 + 0.002 * i,
            "service_s": 120,
            "time_windows": [{"start": _local(day, 8), "end": _local(day, 20)}],
        },
        "amount": [1],
        "customer": {"name": f"Customer {i}", "phone": "+358400000000"},
    }
    r = admin.post("/orders", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _link(admin: Any, order_id: str) -> str:
    r = admin.post(f"/orders/{order_id}/tracking-links")
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def dispatched_day(org: Any, stops: int = 4) -> Delivery:
    """Tomorrow's route for one van and its driver, dispatched; the tracking link of
    the route's last order."""
    admin = org.api("admin")
    day = _day(1)
    depot = admin.post("/depots", json={"name": "Bakery", "lon": 24.94, "lat": 60.17}).json()
    vtype = admin.post("/vehicle-types", json={"name": "Van", "capacity": [20]}).json()
    vehicle = admin.post(
        "/vehicles", json={"name": "Van 1", "type_id": vtype["id"], "depot_id": depot["id"]}
    ).json()
    users = admin.get("/users").json()
    user = next(u for u in users if u["email"] == org.emails["driver"])
    driver = admin.post("/drivers", json={"name": "Dana Driver", "user_id": user["id"]}).json()
    shift = {
        "driver_id": driver["id"],
        "vehicle_id": vehicle["id"],
        "start_at": _local(day, 7),
        "end_at": _local(day, 21),
    }
    assert admin.post("/shifts", json=shift).status_code == 201
    for i in range(stops):
        _order(admin, i, day)
    plan = admin.post("/plans", json={"date": str(day), "time_limit_s": 1.0}).json()
    job: dict[str, Any] = {}
    for _ in range(600):
        job = admin.get(f"/plans/{plan['id']}/job").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    dispatched = admin.post(f"/plans/{plan['id']}/dispatch", json={}).json()
    route = dispatched["routes"][0]
    tasks = sorted((v for v in route["visits"] if v["order_id"]), key=lambda v: v["sequence"])
    assert len(tasks) == stops, route
    last = tasks[-1]
    return Delivery(
        order_id=last["order_id"],
        token=_link(admin, last["order_id"]),
        route_id=route["id"],
        before=tuple(v["sequence"] for v in tasks[:-1]),
    )


def _fi_date(day: dt.date) -> str:
    weekdays = ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai")
    months = ("tammi", "helmi", "maalis", "huhti", "touko", "kesä", "heinä", "elo", "syys")
    months += ("loka", "marras", "joulu")
    weekday = (*weekdays, "sunnuntai")[day.weekday()]
    return f"{weekday} {day.day}. {months[day.month - 1]}kuuta"


def _now() -> str:
    return dt.datetime.now(ZONE).isoformat()


def test_the_page_follows_the_delivery_and_shows_the_driver_only_near_the_end(
    new_page: Any, org: Any, shot: Any, axe: Any
) -> None:
    delivery = dispatched_day(org)
    driver = org.api("driver")
    page = new_page(width=420, height=900)
    page.goto(f"/track/{delivery.token}")
    status = page.locator("#status")
    expect(status).to_have_text("Scheduled: your delivery is on a driver's route.")
    expect(page.locator("#windows")).to_contain_text("between 08:00 and 20:00")
    expect(page.locator("#driver")).to_be_hidden()

    # The driver sets off: a position, then arrives at the first stop.
    ping = {"event_id": "p1", "at": _now(), "lon": 24.935, "lat": 60.168}
    r = driver.post(f"/routes/{delivery.route_id}/pings", json={"pings": [ping]})
    assert r.status_code in (200, 201, 202), r.text
    first = delivery.before[0]
    event = {"event_id": "e1", "kind": "arrived", "sequence": first, "at": _now()}
    r = driver.post(f"/routes/{delivery.route_id}/events", json={"events": [event]})
    assert r.status_code in (200, 201), r.text
    expect(status).to_have_text("On the way: the driver has set off.", timeout=LIVE_MS)
    expect(page.locator("#stops-before")).to_have_text("Stops before yours: 3.")
    # Three stops before theirs: the driver's position is not in the answer at all.
    assert page.locator("#driver").is_hidden()
    answer = page.evaluate(
        "async (u) => (await fetch(u, {headers: {Accept: 'application/json'}})).json()",
        f"/track/{delivery.token}",
    )
    assert answer["driver"] is None and answer["stops_before"] == 3
    assert "24.935" not in page.content()

    # The first stop is delivered: two remain before theirs, the driver shows.
    done = {"event_id": "e2", "kind": "delivered", "sequence": first, "at": _now()}
    r = driver.post(f"/routes/{delivery.route_id}/events", json={"events": [done]})
    assert r.status_code in (200, 201), r.text
    expect(page.locator("#driver")).to_be_visible(timeout=LIVE_MS)
    expect(page.locator("#stops-before")).to_have_text("Stops before yours: 2.")
    expect(page.locator("#map .driver-dot")).to_have_count(1)
    assert axe(page, exclude=("#map",)) == []
    shot(page, "tracking-page")
    assert page.blocked == []


def test_the_customer_chooses_a_new_window_and_it_is_stored(
    new_page: Any, org: Any, axe: Any, shot: Any
) -> None:
    admin = org.api("admin")
    order = _order(admin, 9, _day(1))
    token = _link(admin, order["id"])
    page = new_page(width=420, height=900)
    page.goto(f"/track/{token}")
    expect(page.locator("#status")).to_have_text("Received: we are planning your delivery.")
    assert axe(page) == []
    day = _day(2)
    page.get_by_label("Day").fill(str(day))
    page.get_by_label("From").fill("10:00")
    page.get_by_label("Until").fill("12:00")
    page.get_by_role("button", name="Ask for this time").click()
    expect(page.locator("#reply-result")).to_have_text("Thank you: we have your new time.")
    # Stored on the order (in the organisation's zone) and as the customer's reply.
    stored = admin.get(f"/orders/{order['id']}").json()["delivery"]["time_windows"]
    assert [(w["start"], w["end"]) for w in stored] == [(_local(day, 10), _local(day, 12))]
    replies = admin.get(f"/orders/{order['id']}/replies").json()
    assert [(x["kind"], x["applied"]) for x in replies] == [("new_window", True)]
    # The page shows the new window at its next update, without a reload.
    expect(page.locator("#windows")).to_contain_text("between 10:00 and 12:00")
    assert page.url.endswith(f"/track/{token}")  # the script sent it, no navigation
    shot(page, "tracking-page-new-window")


def test_without_javascript_the_page_shows_status_and_window_and_takes_the_form(
    new_page: Any, org: Any
) -> None:
    admin = org.api("admin")
    order = _order(admin, 8, _day(1))
    token = _link(admin, order["id"])
    page = new_page(java_script_enabled=False)
    page.goto(f"/track/{token}")
    expect(page.locator("#status")).to_have_text("Received: we are planning your delivery.")
    expect(page.locator("#windows")).to_contain_text("between 08:00 and 20:00")
    page.get_by_label("Neighbour's name").fill("Nora Neighbour")
    page.get_by_label("Neighbour's address (optional)").fill("Flat 2")
    page.get_by_role("button", name="Leave it with them").click()
    expect(page.locator("#reply-result")).to_have_text(
        "Thank you: the driver will leave it with your neighbour."
    )
    assert re.search(r"/track/[^/?]+\?sent=leave_with_neighbour", page.url)
    expect(page.locator("#instructions")).to_contain_text("Leave with neighbour Nora Neighbour")
    replies = admin.get(f"/orders/{order['id']}/replies").json()
    assert [(x["kind"], x["neighbour_name"]) for x in replies] == [
        ("leave_with_neighbour", "Nora Neighbour")
    ]


def test_the_page_speaks_finnish_for_a_finnish_organisation(new_page: Any, org: Any) -> None:
    admin = org.api("admin")
    assert admin.patch("/org", json={"settings": {"language": "fi"}}).status_code == 200
    day = _day(1)
    order = _order(admin, 7, day)
    token = _link(admin, order["id"])
    page = new_page()
    page.goto(f"/track/{token}")
    assert page.locator("html").get_attribute("lang") == "fi"
    expect(page.locator("#status")).to_have_text("Vastaanotettu: suunnittelemme toimitustasi.")
    # The script draws the window again with the same Finnish words and zone.
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs\b"))
    expect(page.locator("#windows")).to_have_text(f"{_fi_date(day)} klo 08:00–20:00")
    expect(page.get_by_role("button", name="Pyydä tätä aikaa")).to_be_visible()
