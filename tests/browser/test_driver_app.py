"""The driver's app on a phone-sized screen (360 x 740): today's stops, a delivery
with scans and a signature, a wrong parcel refused, an action made offline that
arrives once, a stop inserted while the app is open, the app's shell offline,
and what the app weighs."""

from __future__ import annotations

import datetime as dt
import gzip
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lastmile.service.pod.storage import LocalFileStore

DAY = dt.date(2026, 3, 10)
HELSINKI = ZoneInfo("Europe/Helsinki")
PHONE = {"width": 360, "height": 740}
#: Our own files of the app (HTML, scripts, styles, manifest), gzipped, at most.
BUDGET_BYTES = 300 * 1024
DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "driver-app.png"
CUSTOMERS = [
    ("Aino Virtanen", "Mannerheimintie 10, Helsinki", 24.938, 60.169),
    ("Eero Korhonen", "Hämeentie 3, Helsinki", 24.951, 60.183),
    ("Liisa Nieminen", "Bulevardi 20, Helsinki", 24.936, 60.164),
]


def _window(start_h: int = 8, end_h: int = 20) -> list[dict[str, str]]:
    return [{"start": f"{DAY}T{start_h:02d}:00:00+02:00", "end": f"{DAY}T{end_h:02d}:00:00+02:00"}]


def _order(api: Any, ref: str, name: str, address: str, lon: float, lat: float) -> dict[str, Any]:
    body = {
        "external_id": ref,
        "delivery": {
            "address": address,
            "lon": lon,
            "lat": lat,
            "service_s": 180,
            "time_windows": _window(),
        },
        "amount": [1],
        "customer": {"name": name, "phone": "+358 40 123 4567"},
        "instructions": f"Ring twice ({ref})",
        "items": [{"barcode": f"{ref}-A", "description": "box"}],
    }
    r = api.post("/orders", json=body)
    assert r.status_code == 201, r.text
    order: dict[str, Any] = r.json()
    return order


@pytest.fixture
def day(org: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The org's driver with a dispatched route of three deliveries, the app's
    clock at 07:30 on that day (re-planning reads it), signatures and photos
    stored in a temporary folder."""
    admin = org.api("admin")
    users = admin.get("/users").json()
    user_id = next(u["id"] for u in users if u["email"] == org.emails["driver"])
    driver = admin.post("/drivers", json={"name": "Dana Driver", "user_id": user_id}).json()
    depot = admin.post(
        "/depots", json={"name": "Depot", "lon": 24.94, "lat": 60.17, "opens_s": 6 * 3600}
    ).json()
    vtype = admin.post("/vehicle-types", json={"name": "Van", "capacity": [20]}).json()
    van = admin.post(
        "/vehicles",
        json={
            "name": "Van 7",
            "registration": "ABC-123",
            "type_id": vtype["id"],
            "depot_id": depot["id"],
        },
    ).json()
    shift = {
        "driver_id": driver["id"],
        "vehicle_id": van["id"],
        "start_at": f"{DAY}T07:00:00+02:00",
        "end_at": f"{DAY}T21:00:00+02:00",
    }
    assert admin.post("/shifts", json=shift).status_code == 201
    orders = [_order(admin, f"HEL-{k}", *c) for k, c in enumerate(CUSTOMERS)]
    plan = admin.post("/plans", json={"date": str(DAY), "time_limit_s": 1.0}).json()
    for _ in range(600):
        job = admin.get(f"/plans/{plan['id']}/job").json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert job["status"] == "succeeded", job
    plan = admin.post(f"/plans/{plan['id']}/dispatch", json={}).json()
    (route,) = plan["routes"]
    state = org.server.app.state
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 7, 30, tzinfo=HELSINKI)
    state.clock = lambda: moment
    store = getattr(state, "pod_store", None)
    state.pod_store = LocalFileStore(tmp_path / "pod")
    yield {"plan": plan, "route": route, "orders": orders}
    del state.clock
    state.pod_store = store


def _open_app(new_page: Any, sign_in: Any, org: Any, **options: Any) -> Any:
    page = new_page(**PHONE, **options)
    sign_in(page, org.emails["driver"])
    assert urllib.parse.urlsplit(page.url).path == "/driver"
    page.wait_for_selector(".stop.next")
    return page


def _next_stop(page: Any) -> Any:
    return page.locator(".stop.next")


def test_a_driver_sees_the_stops_and_delivers_with_a_scan_and_a_signature(
    new_page: Any, org: Any, sign_in: Any, day: dict[str, Any], axe: Any, shot: Any
) -> None:
    first_visit = next(v for v in day["route"]["visits"] if v["order_id"])
    lon, lat = first_visit["lon"], first_visit["lat"]  # the phone is at the first stop
    page = _open_app(
        new_page,
        sign_in,
        org,
        geolocation={"longitude": lon, "latitude": lat, "accuracy": 8},
        permissions=["geolocation"],
    )
    # Every stop with its customer, address, phone and window (Helsinki time).
    for name, address, _, _ in CUSTOMERS:
        card = page.locator(".stop", has_text=name)
        assert address in card.inner_text()
    first = _next_stop(page)
    text = first.inner_text()
    assert "08:00–20:00" in text and "Ring twice" in text
    assert first.locator('a[href^="tel:+358401234567"]').count() == 1
    hrefs = [a.get_attribute("href") for a in first.locator("nav.navigate a").all()]
    assert hrefs[0].startswith("geo:") and "osmand.net/map?pin=" in hrefs[1]
    assert hrefs[2].startswith("https://www.google.com/maps/dir/?api=1&destination=")
    assert hrefs[3].startswith("https://maps.apple.com/?daddr=")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert axe(page) == []
    shot(page, "driver-app")
    if DOCS_SHOT.parent.is_dir():
        page.screenshot(path=str(DOCS_SHOT))

    order_id = first.get_attribute("data-order")
    assert order_id == first_visit["order_id"]
    order = next(o for o in day["orders"] if o["id"] == order_id)
    first.get_by_role("button", name="Delivered").click()
    dialog = page.locator("dialog#complete")
    assert dialog.is_visible()
    assert axe(page) == []
    # A parcel of another order is refused with the API's reason.
    other = next(o for o in day["orders"] if o["id"] != order_id)
    page.fill("#scan-input", other["items"][0]["barcode"])
    page.click("#scan-add")
    message = page.locator("#scan-message")
    message.wait_for(state="visible")
    assert other["items"][0]["barcode"] in message.inner_text()
    assert page.locator("#scan-list li").count() == 0
    # The right one is taken (typed: BarcodeDetector is missing in headless Chromium).
    page.fill("#scan-input", order["items"][0]["barcode"])
    page.press("#scan-input", "Enter")
    page.locator("#scan-list li").first.wait_for()
    assert page.locator("#scan-list li").inner_text() == order["items"][0]["barcode"]
    assert message.inner_text() == ""
    page.fill("#recipient", "Aino V.")
    box = page.locator("#signature").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 60)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(box["x"] + 20 + 20 * k, box["y"] + 60 + (15 if k % 2 else -15))
    page.mouse.up()
    page.click("#complete-submit")
    page.wait_for_selector(f'.stop[data-order="{order_id}"] .status.delivered')
    page.locator("#outbox").wait_for(state="hidden")

    proofs = org.api("admin").get(f"/orders/{order_id}/pod").json()
    assert len(proofs) == 1
    proof = proofs[0]
    assert proof["outcome"] == "delivered" and proof["recipient_name"] == "Aino V."
    assert proof["barcodes"] == [order["items"][0]["barcode"]]
    assert proof["signature_file_id"] is not None
    # Where the phone was: with the proof, and as the route's positions.
    assert (proof["lon"], proof["lat"]) == (lon, lat) and proof["flags"] == []
    positions = org.api("driver").get(f"/routes/{day['route']['id']}/positions").json()
    assert positions and (positions[0]["lon"], positions[0]["lat"]) == (lon, lat)
    picture = org.api("admin").get(
        f"/orders/{order_id}/pod/file", params={"file_id": proof["signature_file_id"]}
    )
    assert picture.headers["content-type"] == "image/png" and len(picture.content) > 500
    outcomes = org.api("driver").get(f"/routes/{day['route']['id']}/outcomes").json()
    assert [o["outcome"] for o in outcomes if o["order_id"] == order_id] == ["delivered"]
    # The next stop is now the second one: the driver arrives, and nobody is home.
    second = _next_stop(page)
    second_id = second.get_attribute("data-order")
    assert second_id != order_id
    second.get_by_role("button", name="Arrived").click()
    page.wait_for_selector(f'.stop[data-order="{second_id}"] .status.arrived')
    page.locator("#outbox").wait_for(state="hidden")
    _next_stop(page).get_by_role("button", name="Failed").click()
    page.select_option("#reason", "recipient_absent")
    page.fill("#note", "Nobody answered")
    page.click("#complete-submit")
    status = page.locator(f'.stop[data-order="{second_id}"] .status.failed')
    status.wait_for()
    assert "Recipient not at home" in status.inner_text()
    page.locator("#outbox").wait_for(state="hidden")
    events = org.api("driver").get(f"/routes/{day['route']['id']}/events").json()
    assert [(e["kind"], e["reason"]) for e in events if e["order_id"] == second_id] == [
        ("arrived", ""),
        ("failed", "recipient_absent"),
    ]
    assert page.blocked == []


def test_a_delivery_made_offline_arrives_once(
    new_page: Any, org: Any, sign_in: Any, day: dict[str, Any]
) -> None:
    page = _open_app(new_page, sign_in, org)
    route_id = day["route"]["id"]
    order_id = _next_stop(page).get_attribute("data-order")
    page.context.set_offline(True)
    page.locator("#offline").wait_for(state="visible")
    _next_stop(page).get_by_role("button", name="Delivered").click()
    page.fill("#recipient", "Neighbour")
    page.click("#complete-submit")
    # Every parcel is scanned first, checked on the phone against the route's parcels.
    message = page.locator("#scan-message")
    assert message.inner_text().startswith("Scan every parcel first")
    barcode = next(o for o in day["orders"] if o["id"] == order_id)["items"][0]["barcode"]
    page.fill("#scan-input", "NOT-OURS")
    page.press("#scan-input", "Enter")
    page.wait_for_function(
        "document.getElementById('scan-message').textContent.includes('NOT-OURS')"
    )
    page.fill("#scan-input", barcode)
    page.press("#scan-input", "Enter")
    page.locator("#scan-list li").first.wait_for()
    page.click("#complete-submit")
    # Kept on the phone, shown as waiting; the API has nothing yet.
    page.locator("#outbox").wait_for(state="visible")
    assert "1 action(s) waiting" in page.locator("#outbox-count").inner_text()
    assert "Sending…" in page.locator(f'.stop[data-order="{order_id}"] .status').inner_text()
    assert org.api("admin").get(f"/orders/{order_id}/pod").json() == []

    # Back online, the first answer is lost on the way back: the proof is
    # stored, the phone sends it again, and the API keeps it once.
    lost: list[str] = []

    def lose_the_first_answer(route: Any) -> None:
        if not lost:
            route.fetch()
            lost.append(route.request.post_data or "")
            route.abort("connectionreset")
        else:
            route.fallback()

    page.route("**/routes/*/pod", lose_the_first_answer)
    page.context.set_offline(False)
    page.locator("#offline").wait_for(state="hidden")
    page.locator("#outbox").wait_for(state="hidden", timeout=30_000)
    page.wait_for_selector(f'.stop[data-order="{order_id}"] .status.delivered')
    assert len(lost) == 1
    proofs = org.api("admin").get(f"/orders/{order_id}/pod").json()
    assert [p["outcome"] for p in proofs] == ["delivered"]
    events = org.api("driver").get(f"/routes/{route_id}/events").json()
    assert [e["kind"] for e in events if e["order_id"] == order_id] == ["delivered"]
    assert events[0]["event_id"] == proofs[0]["event_id"]


def test_an_urgent_order_inserted_by_the_dispatcher_appears_live(
    new_page: Any, org: Any, sign_in: Any, day: dict[str, Any]
) -> None:
    page = _open_app(new_page, sign_in, org)
    page.wait_for_function("document.body.dataset.live === 'connected'")
    urgent = _order(
        org.api("dispatcher"),
        "HEL-URG",
        "Urho Urgent",
        "Aleksanterinkatu 5, Helsinki",
        24.95,
        60.17,
    )
    r = org.api("dispatcher").post(
        f"/plans/{day['plan']['id']}/orders", json={"order_id": urgent["id"]}
    )
    assert r.status_code == 200 and r.json()["applied"], r.text
    card = page.locator(".stop", has_text="Urho Urgent")
    card.wait_for(timeout=15_000)
    assert "Aleksanterinkatu 5, Helsinki" in card.inner_text()
    assert page.locator(".stops > li").count() == len(CUSTOMERS) + 1
    assert "Your route changed" in page.locator("#notice").inner_text()


def test_the_app_opens_offline_once_installed(
    new_page: Any, org: Any, sign_in: Any, day: dict[str, Any]
) -> None:
    page = _open_app(new_page, sign_in, org, service_workers="allow")
    manifest = page.evaluate(
        "fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json())"
    )
    assert manifest["scope"] == "/driver" and manifest["start_url"] == "/driver"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert urllib.parse.urlsplit(scope).path == "/driver"
    page.wait_for_function("navigator.serviceWorker.controller !== null || location.reload()")
    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector(".stop.next")
    assert page.locator("#offline").is_visible()
    for name, _, _, _ in CUSTOMERS:
        assert page.locator(".stop", has_text=name).count() == 1


def test_the_app_weighs_at_most_300_kb_gzipped(
    new_page: Any, org: Any, sign_in: Any, day: dict[str, Any]
) -> None:
    loaded: dict[str, bytes] = {}
    page = new_page(**PHONE)
    page.on(
        "response",
        lambda r: (
            loaded.__setitem__(r.url, b"")
            if r.request.resource_type in ("document", "script", "stylesheet", "manifest")
            else None
        ),
    )
    sign_in(page, org.emails["driver"])
    page.wait_for_selector(".stop.next")
    ours = [
        u
        for u in loaded
        if urllib.parse.urlsplit(u).path.startswith(("/driver", "/static/"))
        and "/static/vendor/leaflet/" not in u
    ]
    ours.append(f"{org.server.url}/driver/sw.js")
    total = 0
    for url in sorted(set(ours)):
        r = page.request.get(url)
        assert r.status == 200, url
        total += len(gzip.compress(r.body()))
    paths = {urllib.parse.urlsplit(u).path for u in ours}
    assert {"/driver", "/static/driver/app.js", "/static/driver/outbox.js"} <= paths
    assert 0 < total <= BUDGET_BYTES, total


def test_staff_are_sent_to_their_dashboard(new_page: Any, org: Any, sign_in: Any) -> None:
    page = new_page(**PHONE)
    sign_in(page, org.emails["dispatcher"], "/driver")
    assert urllib.parse.urlsplit(page.url).path == "/dashboard"
