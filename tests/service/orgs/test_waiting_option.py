"""The organisation's option ``waiting_costs_like_driving``: on by default, switched
through PATCH /org, and honoured by the plans the service makes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]

#: The automation options as they stand by default (tests/service/automation).
AUTOMATIONS_OFF = {
    "plan_carry_over": False,
    "auto_plan_at": "",
    "auto_plan_time_limit_s": 60.0,
    "auto_dispatch": False,
}


def _order(t: Tenant, i: int, start: str, end: str) -> dict[str, Any]:
    window = {"start": f"{DAY}T{start}:00+02:00", "end": f"{DAY}T{end}:00+02:00"}
    return t.order(
        i,
        delivery={"lon": 2.30 + 0.01 * i, "lat": 48.83, "service_s": 240, "time_windows": [window]},
    )


def _plan(t: Tenant) -> dict[str, Any]:
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 0.5}, status=202)
    job = t.wait_for_job(plan["id"])
    assert job["status"] == "succeeded", job
    return t.ok("get", f"/plans/{plan['id']}")  # type: ignore[no-any-return]


def _seconds(a: str, b: str) -> int:
    return int((dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds())


#: The other options' defaults (customers' language; arrival detection, see
#: tests/service/tracking/test_arrivals.py).
OTHERS = {
    "customer_language": None,
    "arrival_detection": True,
    "arrival_radius_m": 60.0,
    "arrival_dwell_s": 25,
    "departure_radius_m": 120.0,
    "arrival_max_accuracy_m": 100.0,
}


def test_the_option_is_on_by_default_and_switchable(tenant: Tenant) -> None:
    settings = tenant.ok("get", "/org")["settings"]
    assert (
        settings
        == {"waiting_costs_like_driving": True, "language": "en", **OTHERS} | AUTOMATIONS_OFF
    )
    off = {"settings": {"waiting_costs_like_driving": False}}
    assert tenant.patch("/org", "dispatcher", json=off).status_code == 403
    bad = tenant.patch("/org", json={"settings": {"waiting_costs_like_driving": "maybe"}})
    assert bad.status_code == 422
    unknown = tenant.patch("/org", json={"settings": {"overtime": True}})
    assert unknown.status_code == 422
    changed = tenant.ok("patch", "/org", json=off)
    assert (
        changed["settings"]
        == {"waiting_costs_like_driving": False, "language": "en", **OTHERS} | AUTOMATIONS_OFF
    )
    # Other changes leave it alone.
    renamed = tenant.ok("patch", "/org", json={"name": "Renamed"})
    assert (
        renamed["settings"]
        == {"waiting_costs_like_driving": False, "language": "en", **OTHERS} | AUTOMATIONS_OFF
    )
    assert tenant.ok("get", "/org", "d1")["settings"]["waiting_costs_like_driving"] is False
    on = {"settings": {"waiting_costs_like_driving": True}}
    assert tenant.ok("patch", "/org", json=on)["settings"]["waiting_costs_like_driving"] is True


@pytest.mark.parametrize("waiting", [True, False])
def test_plans_charge_waiting_like_driving_unless_switched_off(
    tenant: Tenant, waiting: bool
) -> None:
    t = tenant
    if not waiting:
        t.ok("patch", "/org", json={"settings": {"waiting_costs_like_driving": False}})
    depot = t.depot()
    vtype = t.vehicle_type(cost_per_hour=3600, cost_per_km=0, fixed_cost=0)  # 1 per second
    van = t.vehicle(vtype["id"], depot["id"])
    t.shift("d1", van["id"])
    # One van, a morning stop and an afternoon stop: it must wait in between.
    _order(t, 1, "09:00", "09:30")
    _order(t, 2, "15:00", "15:30")

    plan = _plan(t)
    assert plan["unassigned"] == []
    (route,) = plan["routes"]
    duration = _seconds(route["start_at"], route["end_at"])
    assert duration > route["travel_s"] + 5 * 3600  # the wait is in it
    if waiting:
        assert route["cost"] == duration
        # The van does not wait at its first stop: it leaves to arrive as it opens.
        first = route["visits"][1]
        assert first["arrival_at"] == first["start_at"]
    else:
        assert route["cost"] == route["travel_s"]


def test_the_pages_language_is_an_option(tenant: Tenant) -> None:
    changed = tenant.ok("patch", "/org", json={"settings": {"language": "fi"}})
    assert changed["settings"]["language"] == "fi"
    assert changed["settings"]["waiting_costs_like_driving"] is True
    bad = tenant.patch("/org", json={"settings": {"language": "klingon"}})
    assert bad.status_code == 422
    assert "language" in bad.json()["errors"][0]["column"]
