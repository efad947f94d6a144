"""The day as the people in it see it at once: a driver completes a stop in the
driver app (parcel scanned, signature drawn) while the dispatcher's live page,
open in another browser, shows it without a reload."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _zone_where_it_is_ten() -> ZoneInfo:
    """A fixed-offset zone where it is now between 10:00 and 10:59 (the dashboard
    opens on today, and every window is open)."""
    shift = (10 - dt.datetime.now(dt.UTC).hour) % 24
    if shift > 14:
        shift -= 24
    return ZoneInfo("Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}")


def _todays_route(org: Any) -> dict[str, Any]:
    """Today: one van driven by the org's driver user, three parcels, dispatched."""
    api = org.api("admin")
    zone = _zone_where_it_is_ten()
    _ok(api.patch("/org", json={"timezone": zone.key}))
    day = dt.datetime.now(zone).date()

    def at(hour: int) -> str:
        return dt.datetime.combine(day, dt.time(hour), zone).isoformat()

    user_id = next(u["id"] for u in _ok(api.get("/users")) if u["email"] == org.emails["driver"])
    driver = _ok(api.post("/drivers", json={"name": "Dana Driver", "user_id": user_id}), 201)
    depot = _ok(api.post("/depots", json={"name": "Depot", "lon": 24.94, "lat": 60.17}), 201)
    vtype = _ok(api.post("/vehicle-types", json={"name": "Van", "capacity": [10]}), 201)
    van = _ok(
        api.post(
            "/vehicles", json={"name": "Van 7", "type_id": vtype["id"], "depot_id": depot["id"]}
        ),
        201,
    )
    shift = {"driver_id": driver["id"], "vehicle_id": van["id"]}
    shift |= {"start_at": at(7), "end_at": at(20)}
    _ok(api.post("/shifts", json=shift), 201)
    orders = []
    for k, (lon, lat) in enumerate(((24.938, 60.169), (24.951, 60.176), (24.936, 60.164))):
        body = {
            "external_id": f"HEL-{k}",
            "delivery": {
                "lon": lon,
                "lat": lat,
                "address": f"Street {k + 1}, Helsinki",
                "service_s": 120,
                "time_windows": [{"start": at(8), "end": at(19)}],
            },
            "amount": [1],
            "customer": {"name": f"Customer {k}", "phone": "+358401234567"},
            "items": [{"barcode": f"PARCEL-{k}"}],
        }
        orders.append(_ok(api.post("/orders", json=body), 201))
    plan = _ok(api.post("/plans", json={"date": day.isoformat(), "time_limit_s": 1}), 202)
    deadline = time.monotonic() + 90
    while (job := _ok(api.get(f"/plans/{plan['id']}/job")))["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "planning did not finish"
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    plan = _ok(api.post(f"/plans/{plan['id']}/dispatch", json={}))
    (route,) = [r for r in plan["routes"] if r["visits"]]
    return {"route": route, "orders": {o["id"]: o for o in orders}}


def test_a_stop_completed_in_the_driver_app_shows_live_on_the_dashboard(
    new_page: Any, org: Any, sign_in: Any
) -> None:
    day = _todays_route(org)
    route = day["route"]
    stops = [v for v in route["visits"] if v["order_id"]]

    dispatcher = new_page(width=1400, height=1000)
    sign_in(dispatcher, org.emails["dispatcher"], "/dashboard")
    dispatcher.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
    expect(dispatcher.locator("#kpi-stops")).to_have_text(f"0 / {len(stops)}")

    driver = new_page(width=360, height=740)
    sign_in(driver, org.emails["driver"])
    driver.wait_for_selector(".stop.next")
    card = driver.locator(".stop.next")
    order_id = card.get_attribute("data-order")
    visit = next(v for v in stops if v["order_id"] == order_id)
    barcode = day["orders"][order_id]["items"][0]["barcode"]
    card.get_by_role("button", name="Delivered").click()
    driver.fill("#scan-input", barcode)
    driver.press("#scan-input", "Enter")
    driver.locator("#scan-list li").first.wait_for()
    driver.fill("#recipient", "Customer")
    box = driver.locator("#signature").bounding_box()
    driver.mouse.move(box["x"] + 20, box["y"] + 50)
    driver.mouse.down()
    for k in range(1, 10):
        driver.mouse.move(box["x"] + 20 + 25 * k, box["y"] + 50 + (12 if k % 2 else -12))
    driver.mouse.up()
    driver.click("#complete-submit")
    driver.wait_for_selector(f'.stop[data-order="{order_id}"] .status.delivered')
    driver.locator("#outbox").wait_for(state="hidden")

    # The dispatcher's page, never reloaded, shows the stop done and counts it.
    bar = dispatcher.locator(f'#live-timeline .bar[data-key="{route["id"]}:{visit["sequence"]}"]')
    bar.and_(dispatcher.locator(".status-delivered")).wait_for(timeout=15_000)
    expect(dispatcher.locator("#kpi-stops")).to_have_text(f"1 / {len(stops)}")
    proofs = _ok(org.api("admin").get(f"/orders/{order_id}/pod"))
    assert [p["barcodes"] for p in proofs] == [[barcode]]
    assert proofs[0]["signature_file_id"] is not None
    assert dispatcher.blocked == [] and driver.blocked == []
