"""The dispatcher's orders and plan pages: import a CSV with a bad row, find the
orders, check an uncertain geocode, plan the day, dispatch it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import uuid
import zoneinfo
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from lastmile.service.orders.models import Order

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
HELSINKI = zoneinfo.ZoneInfo("Europe/Helsinki")


def the_day() -> dt.date:
    """Tomorrow in the organisation's time zone (Helsinki)."""
    return dt.datetime.now(HELSINKI).date() + dt.timedelta(days=1)


def csv_text() -> str:
    rows = [
        "external_id,customer_name,address,lon,lat,window_start,window_end,service_min,units",
        "HEL-1,Aino Virtanen,Mannerheimintie 1,24.9410,60.1690,09:00,12:00,5,1",
        "HEL-2,Eero Korhonen,Aleksanterinkatu 20,24.9490,60.1685,10:00,14:00,5,1",
        "HEL-3,Liisa Nieminen,Hämeentie 5,24.9600,60.1830,12:00,16:00,5,1",
        "HEL-4,Matti Mäkinen,Fredrikinkatu 9,24.9380,north,09:00,17:00,5,1",
    ]
    return "\n".join(rows) + "\n"


def seed_fleet(org: Any, day: dt.date) -> None:
    """A depot, a van type for three orders, two vans and their drivers on shift all day."""
    api = org.api("admin")

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = api.post(path, json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    depot = post("/depots", {"name": "Pasila", "lon": 24.933, "lat": 60.199, "opens_s": 6 * 3600})
    vtype = post("/vehicle-types", {"name": "Van", "capacity": [3]})
    for k, name in enumerate(("Van Helmi", "Van Otso")):
        vehicle = post(
            "/vehicles",
            {
                "name": name,
                "registration": f"ABC-{k + 1}",
                "type_id": vtype["id"],
                "depot_id": depot["id"],
            },
        )
        driver = post("/drivers", {"name": ("Sanna Lahti", "Jukka Rinne")[k]})
        start = dt.datetime.combine(day, dt.time(7), tzinfo=HELSINKI)
        post(
            "/shifts",
            {
                "driver_id": driver["id"],
                "vehicle_id": vehicle["id"],
                "start_at": start.isoformat(),
                "end_at": (start + dt.timedelta(hours=11)).isoformat(),
            },
        )


def add_order(org: Any, external_id: str, customer: str, **body: Any) -> str:
    r = org.api("admin").post(
        "/orders",
        json={"external_id": external_id, "customer": {"name": customer}, "amount": [1], **body},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def flag_for_review(server: Any, order_id: str, *, confidence: float, matched: str) -> None:
    """Mark the order's stop as the geocoder would have placed it, unsure (the test
    server has no geocoder)."""
    with server.app.state.sessionmaker() as session:
        order = session.get(Order, uuid.UUID(order_id))
        assert order is not None
        order.delivery_geocode_confidence = confidence
        order.delivery_geocoded_address = matched
        order.delivery_needs_review = True
        session.commit()


def keep_screenshot(path: Path, name: str) -> None:
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, DOCS_SCREENSHOTS / f"{name}.png")


def test_a_dispatcher_imports_finds_plans_and_dispatches(
    server: Any, org: Any, new_page: Any, sign_in: Any, shot: Any, axe: Any, tmp_path: Path
) -> None:
    day = the_day()
    seed_fleet(org, day)
    kaivokatu = add_order(
        org, "HEL-8", "Ville Laine", delivery={"address": "Kaivokatu 8", "lon": 24.94, "lat": 60.17}
    )
    flag_for_review(server, kaivokatu, confidence=0.62, matched="Kaivokatu, Helsinki")
    runeberg = add_order(
        org,
        "HEL-9",
        "Sari Koski",
        delivery={"address": "Runeberginkatu 40", "lon": 25.66, "lat": 60.39},
    )
    flag_for_review(server, runeberg, confidence=0.41, matched="Runeberginkatu, Porvoo")
    # No van has a crane: planning leaves this one out, saying why.
    add_order(org, "HEL-7", "Pekka Salo", delivery={"lon": 24.95, "lat": 60.16}, skills=["crane"])
    page = new_page(1280, 900)
    sign_in(page, org.emails["dispatcher"], "/dashboard/orders")
    assert page.url.endswith("/dashboard/orders")
    expect(page.locator("#review-list")).to_be_visible()

    # Import: three good rows and one with a latitude that is not a number.
    csv = tmp_path / "orders.csv"
    csv.write_text(csv_text(), encoding="utf-8")
    page.set_input_files("#import-file", str(csv))
    page.fill("#import-date", day.isoformat())
    page.get_by_role("button", name="Import", exact=True).click()
    result = page.locator("#import-result")
    expect(result).to_contain_text("3 new")
    expect(result).to_contain_text("1 left out")
    errors = page.locator("#import-errors tbody tr")
    expect(errors).to_have_count(1)
    cells = errors.first.locator("th, td").all_inner_texts()
    assert cells[0] == "5" and cells[1] == "lat", cells

    # The good orders are in the table, their windows in Helsinki time.
    table = page.locator("#orders-table tbody")
    for external_id in ("HEL-1", "HEL-2", "HEL-3"):
        expect(table).to_contain_text(external_id)
    expect(table).not_to_contain_text("HEL-4")
    first = table.locator("tr", has_text="HEL-1")
    expect(first).to_contain_text("Aino Virtanen")
    expect(first).to_contain_text("Mannerheimintie 1")
    expect(first).to_contain_text("09:00–12:00")
    expect(first).to_contain_text("Pending")

    # Search finds one order by its customer; the day filter keeps the imported ones.
    page.fill("#orders-search", "korhonen")
    page.get_by_role("button", name="Show").click()
    expect(table.locator("tr")).to_have_count(1)
    expect(table).to_contain_text("HEL-2")
    page.get_by_role("button", name="Clear").click()
    page.fill("#orders-day", day.isoformat())
    page.get_by_role("button", name="Show").click()
    expect(table.locator("tr")).to_have_count(3)
    expect(table).not_to_contain_text("HEL-9")  # no time window: on no day

    # The uncertain addresses are listed with what the geocoder found.
    review = page.locator("#review-list tbody tr")
    expect(review).to_have_count(2)
    kaivokatu_row = review.filter(has_text="HEL-8")
    expect(kaivokatu_row).to_contain_text("Kaivokatu, Helsinki")
    expect(kaivokatu_row).to_contain_text("62 %")
    assert axe(page) == []
    keep_screenshot(shot(page, "dashboard-orders"), "dashboard-orders")
    # Confirm one where it is.
    page.get_by_role("button", name="Confirm the position of order HEL-8").click()
    expect(page.locator("#review-status")).to_contain_text("HEL-8 confirmed")
    expect(review).to_have_count(1)
    got = org.api("dispatcher").get(f"/orders/{kaivokatu}").json()
    assert got["needs_review"] is False
    assert got["delivery"]["geocode"]["confidence"] == 0.62  # confirmed, not moved
    # Correct the other one (Porvoo is the wrong town), by keyboard.
    correct = page.get_by_role("button", name="Correct the position of order HEL-9")
    correct.focus()
    page.keyboard.press("Enter")
    expect(correct).to_have_attribute("aria-expanded", "true")
    longitude = page.get_by_label("Longitude of order HEL-9")
    expect(longitude).to_be_focused()
    longitude.fill("24.9265")
    page.get_by_label("Latitude of order HEL-9").fill("60.1790")
    page.keyboard.press("Enter")
    expect(page.locator("#review-status")).to_contain_text("HEL-9 corrected")
    expect(page.locator("#review-empty")).to_be_visible()
    got = org.api("dispatcher").get(f"/orders/{runeberg}").json()
    assert got["needs_review"] is False and got["delivery"]["geocode"] is None
    assert (got["delivery"]["lon"], got["delivery"]["lat"]) == (24.9265, 60.179)

    # Plan the day from the plan page: the three imported orders and the two checked.
    page.get_by_role("link", name="Plan and dispatch").click()
    page.wait_for_url("**/dashboard/plan")
    page.fill("#plan-date", day.isoformat())
    page.fill("#plan-limit", "2")
    page.get_by_role("button", name="Plan the day").click()
    expect(page.locator("#plan-progress")).to_be_visible()
    expect(page.locator("#plan-progress-text")).to_contain_text(re.compile(r"of 2 s"))
    routes = page.locator("#plan-routes tbody tr")
    expect(routes).to_have_count(2, timeout=60_000)
    expect(page.locator("#plan-progress-text")).to_contain_text("Done")
    expect(page.locator("#plan-result-heading")).to_have_text(
        f"Plan for {day:%a}, {day:%b} {day.day}"  # Chromium's English: "Tue, Dec 8"
    )
    text = page.locator("#plan-routes tbody").inner_text()
    assert "Van Helmi" in text and "Van Otso" in text
    # Before dispatch, each van's driver is the one on shift with it.
    for van, driver in (("Van Helmi", "Sanna Lahti"), ("Van Otso", "Jukka Rinne")):
        expect(routes.filter(has_text=van)).to_contain_text(
            f"{driver} (on shift; assigned at dispatch)"
        )
    assert "cost units" in text
    expect(page.locator("#plan-summary")).to_contain_text("stops: 5")
    left_out = page.locator("#plan-unassigned tbody tr")
    expect(left_out).to_have_count(1)
    expect(left_out).to_contain_text("HEL-7 · Pekka Salo")
    expect(left_out).to_contain_text("needs skill crane")
    assert axe(page) == []

    # Dispatch asks first; not yet, then yes.
    page.get_by_role("button", name="Dispatch").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("The 2 routes go to their drivers")
    dialog.get_by_role("button", name="Not yet").click()
    expect(dialog).to_be_hidden()
    assert org.api("dispatcher").get("/plans").json()[0]["status"] == "ready"
    page.get_by_role("button", name="Dispatch").click()
    dialog.get_by_role("button", name="Dispatch").click()
    expect(page.locator("#plan-dispatch-status")).to_contain_text("Dispatched at")
    text = page.locator("#plan-routes tbody").inner_text()
    assert "Sanna Lahti" in text and "Jukka Rinne" in text
    live = page.get_by_role("link", name="Follow the day live")
    expect(live).to_be_visible()
    assert live.get_attribute("href") == f"/dashboard?day={day}"
    assert org.api("dispatcher").get("/plans").json()[0]["status"] == "dispatched"
    assert axe(page) == []
    keep_screenshot(shot(page, "dashboard-plan"), "dashboard-plan")
    # Opened again, the page shows the newest plan.
    page.reload()
    expect(page.locator("#plan-dispatch-status")).to_contain_text("Dispatched at")
    expect(page.get_by_role("button", name="Dispatch")).to_be_hidden()

    # The live page opens on the plan's day: its routes on the map and the timeline.
    live.click()
    page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
    assert page.url.endswith(f"/dashboard?day={day}")
    expect(page.locator("#live-plan")).to_contain_text("2 routes")
    expect(page.locator("#live-timeline .bar.stop")).to_have_count(5)
    heads = page.locator("#live-timeline .row:not(.axis) .head").all_inner_texts()
    assert any("Van Helmi" in h for h in heads) and any("Sanna Lahti" in h for h in heads)
    drawn = page.evaluate(
        """() => { const c = document.querySelector('#live-map canvas');
                   return c ? c.width * c.height : 0; }"""
    )
    assert drawn > 0
    assert page.locator("#live-map .leaflet-interactive, #live-map canvas").count() > 0

    # Back on the orders page the orders name their vans and drivers.
    page.goto("/dashboard/orders")
    row = page.locator("#orders-table tbody tr", has_text="HEL-1")
    expect(row).to_contain_text("Dispatched")
    expect(row).to_contain_text(re.compile(r"Van (Helmi|Otso) · (Sanna Lahti|Jukka Rinne)"))
    # A delivery reported from the road shows without reloading the page.
    api = org.api("dispatcher")
    [hel1] = api.get("/orders", params={"external_id": "HEL-1"}).json()
    done = {
        "event_id": "hel-1-done",
        "kind": "delivered",
        "order_id": hel1["id"],
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    r = api.post(f"/routes/{hel1['route']['route_id']}/events", json={"events": [done]})
    assert r.status_code == 200, r.text
    expect(row).to_contain_text("Completed")
    assert page.blocked == []


def test_an_all_or_nothing_import_with_a_bad_row_imports_nothing(
    org: Any, new_page: Any, sign_in: Any, tmp_path: Path
) -> None:
    page = new_page()
    sign_in(page, org.emails["dispatcher"], "/dashboard/orders")
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "external_id,address,lon,lat,window_start,window_end\n"
        "A-1,Mannerheimintie 1,24.941,60.169,2030-01-02T09:00,2030-01-02T12:00\n"
        "A-2,Mannerheimintie 2,24.942,60.169,2030-01-02T12:00,2030-01-02T09:00\n",
        encoding="utf-8",
    )
    page.set_input_files("#import-file", str(csv))
    page.get_by_label("Import nothing if any row has an error").check()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result")).to_contain_text("Nothing was imported")
    error = page.locator("#import-errors tbody tr")
    expect(error).to_have_count(1)
    assert error.locator("th, td").all_inner_texts()[:2] == ["3", "window_end"]
    expect(page.locator("#orders-empty")).to_be_visible()
    assert org.api("dispatcher").get("/orders").json() == []


def test_the_pages_speak_the_organisation_language_on_a_phone(
    org: Any, new_page: Any, sign_in: Any, axe: Any
) -> None:
    r = org.api("admin").patch("/org", json={"settings": {"language": "fi"}})
    assert r.status_code == 200, r.text
    page = new_page(390, 844)  # a phone: tables scroll in their own regions
    sign_in(page, org.emails["dispatcher"], "/dashboard/orders")
    expect(page.get_by_role("heading", name="Tuo tilauksia CSV-tiedostosta")).to_be_visible()
    expect(page.locator("#review-empty")).to_have_text("Yksikään osoite ei odota tarkistusta.")
    assert axe(page) == []
    page.goto("/dashboard/plan")
    plan = page.get_by_role("button", name="Suunnittele päivä")
    expect(plan).to_be_visible()
    assert axe(page) == []
    # No vans yet: the API's reason is shown, naming the field.
    plan.click()
    expect(page.locator("#plan-progress-text")).to_contain_text(
        "vehicle_ids: the organisation has no active vehicle"
    )
