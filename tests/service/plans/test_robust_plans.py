"""Plan requests with ``robust``: checked, kept with the job's options, shown with the plan."""

from __future__ import annotations

import datetime as dt

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


def test_bad_robust_options_name_the_field(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    tenant.vehicle(vtype["id"], depot["id"])
    cases = {
        "body.robust.on_time": {"on_time": 1.5},
        "robust.noise.sigma": {"on_time": 0.9, "noise": "lognormal:sigma=lots"},
        "robust.noise.distribution": {"on_time": 0.9, "noise": "uniform"},
        "robust.noise": {"on_time": 0.9, "noise": "lognormal:speed=2"},
    }
    for column, robust in cases.items():
        r = tenant.post("/plans", json={"date": str(DAY), "robust": robust})
        assert r.status_code == 422, (robust, r.text)
        assert [e["column"] for e in r.json()["errors"]] == [column], r.json()


def test_a_robust_plan_keeps_its_option_and_waits_more(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    tenant.vehicle(vtype["id"], depot["id"])
    ids = [tenant.order(i)["id"] for i in range(6)]
    plans = {}
    for name, robust in (("plain", None), ("robust", {"on_time": 0.95, "noise": "lognormal"})):
        body = {"date": str(DAY), "order_ids": ids, "time_limit_s": 2, "name": name}
        if robust is not None:
            body["robust"] = robust
        plan = tenant.ok("post", "/plans", json=body, status=202)
        assert tenant.wait_for_job(plan["id"])["status"] == "succeeded"
        plans[name] = tenant.ok("get", f"/plans/{plan['id']}")
    plain, sturdy = plans["plain"], plans["robust"]
    assert plain["job"]["robust"] is None
    shown = sturdy["job"]["robust"]
    assert shown["on_time"] == 0.95 and shown["noise"].startswith("lognormal:sigma=0.25")
    job = tenant.ok("get", f"/plans/{sturdy['id']}/job")
    assert job["robust"] == shown
    assert not plain["unassigned"] and not sturdy["unassigned"]

    def first_wait(plan: dict) -> float:  # type: ignore[type-arg]
        first = next(v for v in plan["routes"][0]["visits"] if v["order_id"])
        return dt.datetime.fromisoformat(first["start_at"]).timestamp() - (
            dt.datetime.fromisoformat(first["arrival_at"]).timestamp()
        )

    # Windows open at 09:00: the plain van arrives then; the robust one leaves with
    # its buffer and, on the predicted travel times, waits for the window to open.
    assert first_wait(plain) == 0
    assert first_wait(sturdy) > 60
