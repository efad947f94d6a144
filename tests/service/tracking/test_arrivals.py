"""Arrivals and departures detected from the fixes posted to ``POST
/routes/{route_id}/pings``, recorded as stop events marked ``detected``; the
organisation's thresholds through ``PATCH /org``.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import math
from typing import Any

from ..conftest import DAY, World  # type: ignore[import-not-found]
from .conftest import route_of  # type: ignore[import-not-found]

M_PER_DEG = 111_320.0


def _fix(name: str, second: int, lon: float, lat: float, east_m: float = 0.0) -> dict[str, Any]:
    """A fix ``east_m`` metres east of (lon, lat), ``second`` s after 10:00."""
    hh, rest = divmod(10 * 3600 + second, 3600)
    mm, ss = divmod(rest, 60)
    return {
        "event_id": name,
        "at": f"{DAY}T{hh:02d}:{mm:02d}:{ss:02d}+02:00",
        "lon": lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))),
        "lat": lat,
        "accuracy_m": 8,
    }


def _visit_stops(tw: World, who: str) -> list[dict[str, Any]]:
    route = route_of(tw, who)
    return [v for v in route["visits"] if v["kind"] in ("job", "pickup", "delivery")]


def _events(tw: World, rid: str) -> list[dict[str, Any]]:
    return tw.tenant.ok("get", f"/routes/{rid}/events", "d1")  # type: ignore[no-any-return]


def test_thresholds_are_organisation_settings(tw: World) -> None:
    t = tw.tenant
    settings = t.ok("get", "/org", "d1")["settings"]
    assert settings["arrival_detection"] is True
    assert (settings["arrival_radius_m"], settings["departure_radius_m"]) == (60.0, 120.0)
    changed = t.ok("patch", "/org", json={"settings": {"arrival_dwell_s": 20}})["settings"]
    assert changed["arrival_dwell_s"] == 20 and changed["arrival_radius_m"] == 60.0
    bad = t.patch("/org", json={"settings": {"departure_radius_m": 30}})
    assert bad.status_code == 422 and "departure_radius_m" in bad.text
    assert t.patch("/org", json={"settings": {"arrival_radius_m": -5}}).status_code == 422
    # Only admins change them.
    assert t.patch("/org", "d1", json={"settings": {"arrival_dwell_s": 5}}).status_code == 403
    assert t.ok("get", "/org")["settings"]["arrival_dwell_s"] == 20


def test_pings_make_a_detected_arrival_and_departure(tw: World) -> None:
    t = tw.tenant
    rid = route_of(tw, "d1")["id"]
    first, second = _visit_stops(tw, "d1")[:2]
    lon, lat = first["lon"], first["lat"]
    # Driving in from 600 m, parked 2 minutes at the door (fixes wander a few metres), away.
    batch = [_fix(f"in-{k}", 15 * k, lon, lat, -600 + 100 * k) for k in range(6)]
    batch += [_fix(f"at-{k}", 90 + 15 * k, lon, lat, (-1) ** k * 6) for k in range(9)]
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": batch})
    events = _events(tw, rid)
    arrived = [e for e in events if e["kind"] == "arrived"]
    assert [(e["sequence"], e["detected"]) for e in arrived] == [(first["sequence"], True)]
    assert arrived[0]["at"] == f"{DAY}T10:01:30+02:00"  # the first fix at the door
    assert arrived[0]["order_status"] in ("dispatched", "en_route")  # arriving changes nothing
    # The same fixes again (a retried batch) detect nothing twice.
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": batch})
    assert len(_events(tw, rid)) == len(events)
    eta = t.ok("get", f"/routes/{rid}/eta", "d1")
    assert eta["origin"] == "at_stop"
    # The driver delivers, then drives away: the departure is detected.
    t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={
            "events": [
                {
                    "event_id": "done-1",
                    "kind": "delivered",
                    "sequence": first["sequence"],
                    "at": f"{DAY}T10:04:00+02:00",
                }
            ]
        },
    )
    away = [_fix(f"out-{k}", 250 + 15 * k, lon, lat, 100 * k) for k in range(1, 5)]
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": away})
    events = _events(tw, rid)
    departed = [e for e in events if e["kind"] == "departed"]
    assert [(e["sequence"], e["detected"]) for e in departed] == [(first["sequence"], True)]
    assert not next(e for e in events if e["event_id"] == "done-1")["detected"]
    outcomes = t.ok("get", f"/routes/{rid}/outcomes", "d1")
    assert {o["sequence"]: o["outcome"] for o in outcomes}[first["sequence"]] == "delivered"

    # At the next stop the driver presses "arrived" first: no arrival is detected there.
    lon2, lat2 = second["lon"], second["lat"]
    t.ok(
        "post",
        f"/routes/{rid}/events",
        "d1",
        json={
            "events": [
                {
                    "event_id": "here-2",
                    "kind": "arrived",
                    "sequence": second["sequence"],
                    "at": f"{DAY}T10:20:00+02:00",
                }
            ]
        },
    )
    parked = [_fix(f"at2-{k}", 1200 + 15 * k, lon2, lat2) for k in range(8)]
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": parked})
    at_second = [e for e in _events(tw, rid) if e["sequence"] == second["sequence"]]
    assert [(e["kind"], e["detected"]) for e in at_second] == [("arrived", False)]
    # The driver reports leaving too: the departure is not detected on top of it.
    left = {
        "event_id": "left-2",
        "kind": "departed",
        "sequence": second["sequence"],
        "at": f"{DAY}T10:22:00+02:00",
    }
    t.ok("post", f"/routes/{rid}/events", "d1", json={"events": [left]})
    away = [_fix(f"out2-{k}", 1330 + 15 * k, lon2, lat2, 150 * k) for k in range(1, 4)]
    t.ok("post", f"/routes/{rid}/pings", "d1", json={"pings": away})
    at_second = [e for e in _events(tw, rid) if e["sequence"] == second["sequence"]]
    assert [(e["kind"], e["detected"]) for e in at_second] == [
        ("arrived", False),
        ("departed", False),
    ]


def test_detection_can_be_switched_off(tw: World) -> None:
    t = tw.tenant
    rid = route_of(tw, "d2")["id"]
    stop = _visit_stops(tw, "d2")[0]
    t.ok("patch", "/org", json={"settings": {"arrival_detection": False}})
    try:
        parked = [_fix(f"off-{k}", 15 * k, stop["lon"], stop["lat"]) for k in range(10)]
        t.ok("post", f"/routes/{rid}/pings", "d2", json={"pings": parked})
        assert t.ok("get", f"/routes/{rid}/events", "d2") == []
    finally:
        t.ok("patch", "/org", json={"settings": {"arrival_detection": True}})
    # Drivers still post only to their own route.
    assert t.post(f"/routes/{rid}/pings", "d1", json={"pings": parked}).status_code == 403


def test_each_stop_of_the_drivers_route_has_navigation_links(tw: World) -> None:
    t = tw.tenant
    rid = route_of(tw, "d1")["id"]
    for answer in (t.ok("get", f"/routes/{rid}", "d1"), t.ok("get", "/me/routes", "d1")[0]):
        stops = [v for v in answer["visits"] if v["stop"] is not None]
        assert stops
        for v in stops:
            nav = v["stop"]["navigation"]
            lat, lon = (float(x) for x in nav["geo"].removeprefix("geo:").split("?")[0].split(","))
            assert (lat, lon) == (round(v["lat"], 6), round(v["lon"], 6))
            assert nav["osmand"].startswith("https://osmand.net/map?pin=")
            assert nav["google_maps"].startswith(
                "https://www.google.com/maps/dir/?api=1&destination="
            )
            assert nav["apple_maps"].startswith("https://maps.apple.com/?daddr=")
    # Another driver's route stays out of reach.
    assert t.get(f"/routes/{rid}", "d2").status_code == 403
