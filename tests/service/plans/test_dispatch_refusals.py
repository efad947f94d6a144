"""Plan and dispatch requests refused instead of accepted: a seed no engine takes,
an empty vehicle list, an infinite time limit, the same route twice in one
dispatch, and a new driver for a route already on the road."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.plans.schemas import MAX_SEED

from ..conftest import DAY, Tenant, new_tenant  # type: ignore[import-not-found]


@dataclass
class Dispatched:
    """A tenant's dispatched plan with two routes, d1's and d2's."""

    tenant: Tenant
    plan: dict[str, Any]

    def route_of(self, who: str) -> str:
        driver = str(self.tenant.driver_ids[who])
        return next(r["id"] for r in self.plan["routes"] if r["driver_id"] == driver)


@pytest.fixture(scope="module")
def dw(app: FastAPI, client: TestClient) -> Dispatched:
    t = new_tenant(app, client)
    depot, vtype = t.depot(), t.vehicle_type(capacity=[3])  # 6 orders of 1: both vans
    for who in ("d1", "d2"):
        t.shift(who, t.vehicle(vtype["id"], depot["id"])["id"])
    for i in range(6):
        t.order(i)
    # The search is not under test: searched in a thread of this process, 1 s is
    # twice what the suite's world gets.
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1}, status=202)
    job = t.wait_for_job(plan["id"])
    assert job["status"] == "succeeded", job["error"]
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    assert len(plan["routes"]) == 2, plan
    return Dispatched(t, plan)


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ({"seed": 2**32}, "body.seed"),
        ({"seed": MAX_SEED + 1}, "body.seed"),
        ({"vehicle_ids": []}, "body.vehicle_ids"),
    ],
)
def test_plan_requests_out_of_what_the_engines_take_are_refused(
    tenant: Tenant, body: dict[str, object], column: str
) -> None:
    r = tenant.post("/plans", json={"date": str(DAY)} | body)
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == [column]


def test_an_infinite_time_limit_is_refused(tenant: Tenant) -> None:
    body = f'{{"date": "{DAY}", "time_limit_s": Infinity}}'
    headers = tenant.headers() | {"Content-Type": "application/json"}
    r = tenant.client.post("/plans", content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["column"] == "body.time_limit_s"


def test_the_same_route_twice_in_one_dispatch_is_refused(dw: Dispatched) -> None:
    t, route = dw.tenant, dw.route_of("d1")
    body = {
        "assignments": [
            {"route_id": route, "driver_id": str(t.driver_ids["d1"])},
            {"route_id": route, "driver_id": str(t.driver_ids["d2"])},
        ]
    }
    r = t.post(f"/plans/{dw.plan['id']}/dispatch", json=body)
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["column"] == "assignments[1].route_id"
    assert route in error["reason"] and "assignments[0]" in error["reason"]


def test_a_started_route_keeps_its_driver(dw: Dispatched) -> None:
    t, route = dw.tenant, dw.route_of("d1")
    t.ok("post", f"/routes/{route}/start", "d1")
    other = {"assignments": [{"route_id": route, "driver_id": str(t.driver_ids["d2"])}]}
    r = t.post(f"/plans/{dw.plan['id']}/dispatch", json=other)
    assert r.status_code == 409, r.text
    assert "keeps its driver" in r.json()["detail"]
    assert t.ok("get", f"/routes/{route}")["driver_id"] == str(t.driver_ids["d1"])
    same = {"assignments": [{"route_id": route, "driver_id": str(t.driver_ids["d1"])}]}
    again = t.ok("post", f"/plans/{dw.plan['id']}/dispatch", json=same)
    assert {r["id"]: r["driver_id"] for r in again["routes"]}[route] == str(t.driver_ids["d1"])
