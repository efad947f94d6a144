"""The dispatcher's day, live (/dashboard): a plan made and dispatched through the
API shows on the map and the timeline; what drivers report arrives without a
reload; an urgent order is inserted, a breakdown reported and a move previewed
and saved from the page.

The organisation's time zone is set where it is now about 10 o'clock, so the day's
routes (07:00-19:00) are under way whenever the tests run, and a stop whose window
ends a few minutes from now is predicted late."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import httpx

SCREENSHOT_FOR_README = "dashboard"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _zone_where_it_is_ten() -> ZoneInfo:
    """A fixed-offset zone where it is now between 10:00 and 10:59."""
    shift = (10 - dt.datetime.now(dt.UTC).hour) % 24
    if shift > 14:
        shift -= 24
    return ZoneInfo("Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}")


def _dispatched_day(api: httpx.Client, *, orders: int = 8, tight: bool = False) -> dict[str, Any]:
    """Today in the organisation's zone (moved where it is 10 o'clock): a depot, two
    vans with drivers on 07:00-19:00 shifts, ``orders`` orders with 08:00-18:00
    windows (with ``tight``, the first one's window ends five minutes from now)
    planned and dispatched, and one urgent order left pending."""
    zone = _zone_where_it_is_ten()
    _ok(api.patch("/org", json={"timezone": zone.key}))
    now = dt.datetime.now(zone)
    day = now.date()

    def at(hour: int, minute: int = 0) -> str:
        return dt.datetime.combine(day, dt.time(hour, minute), zone).isoformat()

    depot = _ok(
        api.post(
            "/depots", json={"name": "Vallila", "lon": 24.95, "lat": 60.19, "opens_s": 6 * 3600}
        ),
        201,
    )
    vtype = _ok(api.post("/vehicle-types", json={"name": "Van", "capacity": [5]}), 201)
    vans = []
    for k in range(2):
        van = _ok(
            api.post(
                "/vehicles",
                json={"name": f"Van {k + 1}", "type_id": vtype["id"], "depot_id": depot["id"]},
            ),
            201,
        )
        driver = _ok(api.post("/drivers", json={"name": f"Driver {'AB'[k]}"}), 201)
        _ok(
            api.post(
                "/shifts",
                json={
                    "driver_id": driver["id"],
                    "vehicle_id": van["id"],
                    "start_at": at(7),
                    "end_at": at(19),
                },
            ),
            201,
        )
        vans.append(van)

    def order(i: int, **extra: Any) -> dict[str, Any]:
        end = (now + dt.timedelta(minutes=5)).isoformat() if tight and i == 0 else at(18)
        body = {
            "external_id": f"HEL-{i}",
            "delivery": {
                "lon": 24.90 + 0.012 * (i % 6),
                "lat": 60.16 + 0.008 * (i % 5),
                "service_s": 300,
                "time_windows": [{"start": at(8), "end": end}],
            },
            "amount": [1],
            "customer": {"name": f"Customer {i}"},
        }
        return _ok(api.post("/orders", json=body | extra), 201)  # type: ignore[no-any-return]

    made = [order(i) for i in range(orders)]
    # Searched in a thread of the served app: 8 orders need no more than 1 s, a
    # longer limit only when a busy machine makes the first search miss.
    for time_limit_s in (1, 5):
        body = {"date": day.isoformat(), "time_limit_s": time_limit_s}
        plan = _ok(api.post("/plans", json=body), 202)
        deadline = time.monotonic() + 60
        while (job := _ok(api.get(f"/plans/{plan['id']}/job")))["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, "planning did not finish"
            time.sleep(0.05)
        if job["status"] == "succeeded":
            break
    assert job["status"] == "succeeded", job
    dispatched = _ok(api.post(f"/plans/{plan['id']}/dispatch", json={}))
    urgent = order(99, customer={"name": "Urgent Customer"})
    return {
        "plan": dispatched,
        "orders": made,
        "urgent": urgent,
        "vans": vans,
        "depot": depot,
        "zone": zone,
    }


def _open(new_page: Any, sign_in: Any, email: str) -> Any:
    page = new_page(width=1400, height=1000)
    sign_in(page, email, "/dashboard")
    page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
    return page


def _stop_bar(page: Any, route_id: str, sequence: int) -> Any:
    return page.locator(f'#live-timeline .bar[data-key="{route_id}:{sequence}"]')


def test_the_dispatcher_sees_the_day_and_reports_arrive_live(
    new_page: Any, org: Any, sign_in: Any, shot: Any, axe: Any
) -> None:
    day = _dispatched_day(org.api("admin"), tight=True)
    zone = day["zone"]
    plan = day["plan"]
    routes = [r for r in plan["routes"] if r["visits"]]
    page = _open(new_page, sign_in, org.emails["dispatcher"])

    # The plan, its routes on the map and its stops as bars on the timeline.
    assert f"{len(routes)} routes" in page.inner_text("#live-plan")
    order_stops = sum(1 for r in routes for v in r["visits"] if v["order_id"])
    assert page.locator("#live-timeline .bar.stop").count() == order_stops
    # Each row names its vehicle and driver; windows are drawn as bands.
    heads = page.locator("#live-timeline .row:not(.axis) .head").all_inner_texts()
    assert any("Van 1" in h for h in heads) and any("Driver" in h for h in heads)
    assert page.locator("#live-timeline .window").count() == order_stops
    # Routes drawn on the map's canvas: one line per route (straight lines: this
    # service has no road network), a circle per stop and depot.
    drawn = page.evaluate(
        """() => { const c = document.querySelector('#live-map canvas');
                   return c ? c.width * c.height : 0; }"""
    )
    assert drawn > 0
    assert page.inner_text("#kpi-stops") == f"0 / {order_stops}"
    assert page.blocked == []

    # The stop whose window ends in five minutes is predicted late (GET /routes/{id}/eta):
    # its bar and the alerts say so; every other stop is as planned.
    tight_id = day["orders"][0]["id"]
    route = next(r for r in routes if any(v["order_id"] == tight_id for v in r["visits"]))
    tight = next(v for v in route["visits"] if v["order_id"] == tight_id)
    tight_bar = _stop_bar(page, route["id"], tight["sequence"])
    assert "status-late" in (tight_bar.get_attribute("class") or "")
    assert page.locator("#live-timeline .late-mark").count() == 1
    assert page.locator("#live-timeline .bar.status-planned").count() == order_stops - 1
    late_alert = page.locator("#live-alert-list .alert-late")
    assert "HEL-0" in late_alert.inner_text() and "predicted late" in late_alert.inner_text()

    # The driver serves it: the report, posted through the API, shows without a
    # reload (colour, figures), and the late alert goes.
    now = dt.datetime.now(zone)
    _ok(
        org.api("admin").post(
            f"/routes/{route['id']}/events",
            json={
                "events": [
                    {
                        "event_id": f"e-{uuid.uuid4()}",
                        "kind": "delivered",
                        "sequence": tight["sequence"],
                        "at": now.isoformat(),
                    }
                ]
            },
        )
    )
    tight_bar.and_(page.locator(".status-delivered")).wait_for(timeout=10_000)
    page.wait_for_function(
        "(total) => document.getElementById('kpi-stops').textContent === `1 / ${total}`",
        arg=order_stops,
        timeout=10_000,
    )
    assert page.inner_text("#kpi-on-time").startswith("100 %")
    late_alert.wait_for(state="detached", timeout=10_000)
    # A served order can no longer be moved.
    page.locator(f'#move-order option[value="{tight_id}"]').wait_for(
        state="detached", timeout=10_000
    )
    first = tight

    # A failure is an alert; a GPS fix moves the vehicle and is the newest fix.
    second = next(v for v in route["visits"] if v["order_id"] and v["order_id"] != tight_id)
    _ok(
        org.api("admin").post(
            f"/routes/{route['id']}/events",
            json={
                "events": [
                    {
                        "event_id": f"e-{uuid.uuid4()}",
                        "kind": "failed",
                        "sequence": second["sequence"],
                        "reason": "recipient_absent",
                        "at": now.isoformat(),
                    }
                ]
            },
        )
    )
    page.locator("#live-alert-list .alert-failed").wait_for(timeout=10_000)
    assert "Customer" in page.inner_text("#live-alert-list .alert-failed")
    assert "Recipient not at home" in page.inner_text("#live-alert-list .alert-failed")
    fix_at = dt.datetime.now(zone).replace(microsecond=0)
    _ok(
        org.api("admin").post(
            f"/routes/{route['id']}/pings",
            json={
                "pings": [
                    {
                        "event_id": f"p-{uuid.uuid4()}",
                        "at": fix_at.isoformat(),
                        "lon": first["lon"],
                        "lat": first["lat"],
                    }
                ]
            },
        )
    )
    page.wait_for_function(
        "(at) => document.getElementById('kpi-newest-fix').dataset.at === at",
        arg=fix_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        timeout=10_000,
    )
    # Times are the organisation's, whatever the browser's zone.
    assert page.inner_text("#kpi-newest-fix") == fix_at.strftime("%H:%M:%S")

    # Five kilometres away from its route, the van is off route; back on it, it is not.
    def fix(seconds: int, lon: float, lat: float) -> None:
        at = fix_at + dt.timedelta(seconds=seconds)
        ping = {"event_id": f"p-{uuid.uuid4()}", "at": at.isoformat(), "lon": lon, "lat": lat}
        _ok(org.api("admin").post(f"/routes/{route['id']}/pings", json={"pings": [ping]}))

    fix(1, first["lon"], first["lat"] + 0.05)
    off = page.locator("#live-alert-list .alert-off_route")
    off.wait_for(timeout=10_000)
    assert "Van" in off.inner_text() and "km off its route" in off.inner_text()
    fix(2, first["lon"], first["lat"])
    off.wait_for(state="detached", timeout=10_000)

    assert axe(page, exclude=("#live-map",)) == []
    shot(page, SCREENSHOT_FOR_README)

    # Another day: no plan there; the day is kept in the address.
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    page.fill("#live-day", tomorrow)
    page.locator("#live-plan", has_text=f"No plan for {tomorrow}").wait_for(timeout=10_000)
    assert page.url.endswith(f"?day={tomorrow}")
    assert page.locator("#live-timeline .bar").count() == 0
    assert page.is_disabled("#insert-form button[type=submit]")


def test_an_urgent_order_is_inserted_from_the_page(new_page: Any, org: Any, sign_in: Any) -> None:
    day = _dispatched_day(org.api("admin"), orders=6)
    page = _open(new_page, sign_in, org.emails["dispatcher"])
    before = page.locator("#live-timeline .bar.stop").count()
    page.wait_for_selector(f'#insert-order option[value="{day["urgent"]["id"]}"]', state="attached")
    page.select_option("#insert-order", day["urgent"]["id"])
    page.click("#insert-form button[type=submit]")
    page.locator("#insert-result.ok").wait_for(timeout=30_000)
    assert "Inserted" in page.inner_text("#insert-result")
    # The page read the plan again: one more stop, the order on a route.
    page.wait_for_function(
        "(n) => document.querySelectorAll('#live-timeline .bar.stop').length === n",
        arg=before + 1,
        timeout=10_000,
    )
    order = _ok(org.api("admin").get(f"/orders/{day['urgent']['id']}"))
    assert order["status"] == "dispatched"
    # The inserted order can be moved next (it is in the move form's list).
    assert page.locator(f'#move-order option[value="{day["urgent"]["id"]}"]').count() == 1


def test_a_breakdown_is_reported_from_the_page(new_page: Any, org: Any, sign_in: Any) -> None:
    day = _dispatched_day(org.api("admin"), orders=6)
    routes = [r for r in day["plan"]["routes"] if r["visits"]]
    page = _open(new_page, sign_in, org.emails["dispatcher"])
    page.select_option("#breakdown-vehicle", routes[0]["vehicle_id"])
    page.check("#breakdown-confirm")
    page.click("#breakdown-form button[type=submit]")
    page.locator("#breakdown-result.ok, #breakdown-result.error").first.wait_for(timeout=30_000)
    detail = _ok(org.api("admin").get(f"/plans/{day['plan']['id']}"))
    broken = next(r for r in detail["routes"] if r["vehicle_id"] == routes[0]["vehicle_id"])
    assert broken["status"] == "broken_down"
    assert "Breakdown recorded" in page.inner_text("#breakdown-result")
    row = page.locator(f'#live-timeline .row[data-route-id="{broken["id"]}"] .route-status')
    row.and_(page.get_by_text("broken down")).wait_for(timeout=10_000)


def test_a_move_is_previewed_before_it_is_saved(
    new_page: Any, org: Any, sign_in: Any, shot: Any
) -> None:
    day = _dispatched_day(org.api("admin"), orders=6)
    plan = day["plan"]

    def stops(route: dict[str, Any]) -> list[str]:
        return [v["order_id"] for v in route["visits"] if v["order_id"]]

    routes = sorted((r for r in plan["routes"] if stops(r)), key=lambda r: len(stops(r)))
    assert len(routes) == 2
    # From the longer route to the shorter one: room enough, windows all day.
    source, target = routes[-1], routes[0]
    order_id = stops(source)[-1]
    target_name = next(v["name"] for v in day["vans"] if v["id"] == target["vehicle_id"])
    page = _open(new_page, sign_in, org.emails["dispatcher"])
    page.select_option("#move-order", order_id)
    page.select_option("#move-route", target["id"])
    page.fill("#move-position", "0")
    assert page.is_disabled("#move-save")
    page.click("#move-preview")
    page.locator("#move-result .cost").wait_for(timeout=30_000)
    # The verdict, the cost change and the new times are shown before saving.
    assert "The plan's rules allow this move." in page.inner_text("#move-result")
    assert "Cost" in page.inner_text("#move-result .cost")
    changed = page.locator("#move-result .moved-stops li").all_inner_texts()
    assert changed and all(" (id " not in line for line in changed)
    assert any(line.startswith(f"{target_name}: ") for line in changed)
    assert page.is_enabled("#move-save")
    shot(page, "dashboard-move-preview")
    # Nothing is stored by the preview.
    detail = _ok(org.api("admin").get(f"/plans/{plan['id']}"))
    assert order_id in stops(next(r for r in detail["routes"] if r["id"] == source["id"]))
    # Changing the form asks for a new preview.
    page.fill("#move-position", "")
    assert page.is_disabled("#move-save")
    page.click("#move-preview")
    page.locator("#move-result .cost").wait_for(timeout=30_000)
    page.click("#move-save")
    page.locator("#move-result.ok", has_text="Moved").wait_for(timeout=30_000)
    detail = _ok(org.api("admin").get(f"/plans/{plan['id']}"))
    assert order_id in stops(next(r for r in detail["routes"] if r["id"] == target["id"]))
    # The page read the plan again: the stop is on the target's row.
    row = page.locator(f'#live-timeline .row[data-route-id="{target["id"]}"] .bar.stop')
    row.nth(len(stops(target))).wait_for(timeout=10_000)


def test_a_van_whose_gps_goes_quiet_is_an_alert(new_page: Any, org: Any, sign_in: Any) -> None:
    day = _dispatched_day(org.api("admin"), orders=6)
    route = next(r for r in day["plan"]["routes"] if r["visits"])
    _ok(org.api("admin").post(f"/routes/{route['id']}/start"))
    page = new_page(width=1400, height=1000)
    page.clock.install()  # the page's timers, to let eleven minutes pass at once
    sign_in(page, org.emails["dispatcher"], "/dashboard")
    page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
    quiet = page.locator("#live-alert-list .alert-stale")
    assert quiet.count() == 0
    page.clock.run_for("11:00")
    quiet.wait_for(timeout=10_000)
    assert "no GPS fix since the route started" in quiet.inner_text()
    # A fix comes: the alert goes.
    stop = next(v for v in route["visits"] if v["order_id"])
    ping = {
        "event_id": f"p-{uuid.uuid4()}",
        "at": dt.datetime.now(dt.UTC).isoformat(),
        "lon": stop["lon"],
        "lat": stop["lat"],
    }
    _ok(org.api("admin").post(f"/routes/{route['id']}/pings", json={"pings": [ping]}))
    page.clock.run_for(1000)  # animation frames
    quiet.wait_for(state="detached", timeout=10_000)


def test_routes_follow_the_road_geometry_when_the_service_has_it(
    new_page: Any, org: Any, sign_in: Any
) -> None:
    day = _dispatched_day(org.api("admin"), orders=6)
    routes = [r for r in day["plan"]["routes"] if r["visits"]]
    depot = day["depot"]
    # Roads that leave the depot northwards first: 3.3 km from any straight line
    # between the stops, which all lie south of the depot.
    detour = [depot["lon"], depot["lat"] + 0.03]
    geometry = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"route_id": r["id"], "vehicle_id": r["vehicle_id"]},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[depot["lon"], depot["lat"]], detour]
                    + [[v["lon"], v["lat"]] for v in r["visits"] if v["order_id"]],
                },
            }
            for r in routes
        ],
    }
    page = new_page(width=1400, height=1000)
    asked: list[str] = []

    def answer(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(json=geometry)

    page.route("**/plans/*/geometry", answer)
    sign_in(page, org.emails["dispatcher"], "/dashboard")
    page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
    assert asked and asked[0].endswith(f"/plans/{day['plan']['id']}/geometry")
    # A van on that road is on its route (on straight lines it would be 3 km off).
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ping = {
        "event_id": f"p-{uuid.uuid4()}",
        "at": at.isoformat(),
        "lon": detour[0],
        "lat": detour[1],
    }
    _ok(org.api("admin").post(f"/routes/{routes[0]['id']}/pings", json={"pings": [ping]}))
    page.wait_for_function(
        "(at) => document.getElementById('kpi-newest-fix').dataset.at === at",
        arg=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        timeout=10_000,
    )
    assert page.locator("#live-alert-list .alert-off_route").count() == 0
