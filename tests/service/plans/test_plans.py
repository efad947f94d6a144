"""Planning jobs in worker processes, plans with ETAs, dispatch, routes, loading lists."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import time
import uuid
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.plans import service as plans_service
from lastmile.service.plans.jobs import INTERRUPTED, STALE_AFTER
from lastmile.service.plans.models import Plan, PlanningJob

from ..conftest import DAY, Tenant, World  # type: ignore[import-not-found]


def worker_pids() -> set[int]:
    """Planning worker processes this test process started, alive (Linux /proc).

    Only descendants count: other test runs on the same machine have workers of
    their own."""
    parent: dict[int, int] = {}
    workers = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            pid = int(entry.name)
            # the parent's pid is the second field after the command, which is in parentheses
            parent[pid] = int(stat.rpartition(")")[2].split()[1])
            if b"lastmile.service.plans.worker" in cmd:
                workers.add(pid)
    me = os.getpid()

    def ours(pid: int) -> bool:
        seen = set()
        while pid in parent and pid not in seen:
            seen.add(pid)
            pid = parent[pid]
            if pid == me:
                return True
        return False

    return {pid for pid in workers if ours(pid)}


def test_a_dispatched_plan_has_routes_with_etas(world: World) -> None:
    t, plan = world.tenant, world.plan
    assert plan["status"] == "dispatched" and plan["engine"]
    assert plan["travel_note"].startswith("straight-line distance")
    assert plan["job"]["status"] == "succeeded" and plan["job"]["progress"] == 1.0
    served = set()
    for route in plan["routes"]:
        assert route["status"] == "dispatched" and route["driver_id"]
        visits = route["visits"]
        assert visits[0]["kind"] == "start" and visits[-1]["kind"] == "end"
        assert visits[0]["depot_id"] == world.depot["id"]
        for a, b in itertools.pairwise(visits):
            assert a["departure_at"] <= b["arrival_at"]
        for v in visits:
            assert v["eta_at"] == v["arrival_at"] <= v["start_at"] <= v["departure_at"]
            if v["kind"] == "job":
                served.add(v["order_id"])
                # Inside the order's window, 09:00-18:00 Paris time.
                # Answers show Paris time, with its offset.
                assert v["start_at"].endswith("+02:00")
                assert f"{DAY}T09:00:00+02:00" <= v["start_at"] <= f"{DAY}T18:00:00+02:00"
        assert route["distance_m"] == visits[-1]["distance_m"] > 0
    assert served | {u["order_id"] for u in plan["unassigned"]} == {o["id"] for o in world.orders}
    statuses = {o["id"]: o["status"] for o in t.ok("get", "/orders")}
    assert all(statuses[oid] == "dispatched" for oid in served)
    assert plan["cost"] == sum(r["cost"] for r in plan["routes"])
    assert [p["id"] for p in t.ok("get", "/plans")] == [plan["id"]]


def test_loading_list_loads_the_last_stop_first(world: World) -> None:
    t = world.tenant
    route_id = world.objects["route_id"]
    route = t.ok("get", f"/routes/{route_id}", "d1")
    listing = t.ok("get", f"/routes/{route_id}/loading-list", "d1")
    sequence_of = {v["order_id"]: v["sequence"] for v in route["visits"] if v["order_id"]}
    assert {e["order_id"] for e in listing["entries"]} == set(sequence_of)
    assert listing["compartments"][0] == "chilled"
    for compartment in listing["compartments"]:
        entries = [e for e in listing["entries"] if e["compartment"] == compartment]
        assert [e["position"] for e in entries] == list(range(1, len(entries) + 1))
        assert [e["sequence"] for e in entries] == sorted(
            (e["sequence"] for e in entries), reverse=True
        )
        for e in entries:
            assert e["sequence"] == sequence_of[e["order_id"]]
            assert e["label"].startswith("ord-") and e["barcode"].startswith("BC")


def test_tracking_shows_the_eta_once_dispatched(client: TestClient, world: World) -> None:
    t = world.tenant
    route = t.ok("get", f"/routes/{world.objects['route_id']}")
    visit = next(v for v in route["visits"] if v["kind"] == "job")
    link = t.ok("post", f"/orders/{visit['order_id']}/tracking-links", status=201)
    view = client.get(f"/track/{link['token']}").json()
    assert view["status"] == "dispatched"
    # The customer is told the start of service (the planned one, before any ETA
    # update), in the organisation's time zone.
    told = dt.datetime.fromisoformat(view["eta_at"])
    assert told == dt.datetime.fromisoformat(visit["start_at"])
    assert told.utcoffset() == dt.timedelta(hours=2)  # Paris in May
    assert view["expected_from"] <= view["eta_at"] <= view["expected_to"]


def test_driver_starts_their_route(world: World) -> None:
    t = world.tenant
    route_id = world.objects["route_id"]
    started = t.ok("post", f"/routes/{route_id}/start", "d1")
    assert started["status"] == "started" and started["started_at"]
    ids = {v["order_id"] for v in started["visits"] if v["order_id"]}
    statuses = {o["id"]: o["status"] for o in t.ok("get", "/orders")}
    assert {statuses[i] for i in ids} == {"en_route"}
    assert t.post(f"/routes/{route_id}/start", "d1").status_code == 409
    # Re-dispatching keeps the started route with its driver.
    again = t.ok("post", f"/plans/{world.plan['id']}/dispatch", json={})
    assert {r["id"]: r["driver_id"] for r in again["routes"]} == {
        r["id"]: r["driver_id"] for r in world.plan["routes"]
    }


def test_unassigned_orders_come_with_reasons_and_explicit_dispatch(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type(skills=[])
    vehicle = tenant.vehicle(vtype["id"], depot["id"])
    fine = tenant.order(1)
    fridge = tenant.order(2, skills=["fridge"])
    yesterday = {"start": "2025-05-01T09:00:00+02:00", "end": "2025-05-01T12:00:00+02:00"}
    stale = tenant.order(3, delivery={"lon": 2.3, "lat": 48.8, "time_windows": [yesterday]})
    ids = [fine["id"], fridge["id"], stale["id"]]
    plan = tenant.ok(
        "post", "/plans", json={"date": str(DAY), "order_ids": ids, "time_limit_s": 0.3}, status=202
    )
    assert plan["status"] == "planning" and plan["job"]["status"] in ("queued", "running")
    assert tenant.wait_for_job(plan["id"])["status"] == "succeeded"
    detail = tenant.ok("get", f"/plans/{plan['id']}")
    assert detail["status"] == "ready" and len(detail["routes"]) == 1
    reasons = {u["order_id"]: (u["code"], u["reason"]) for u in detail["unassigned"]}
    assert reasons[fridge["id"]][0] == "skills" and "fridge" in reasons[fridge["id"]][1]
    assert reasons[stale["id"]] == ("time_window", "its time window ended before the plan's day")
    assert tenant.ok("get", f"/orders/{fine['id']}")["status"] == "planned"
    assert tenant.ok("get", f"/orders/{fridge['id']}")["status"] == "pending"

    refused = tenant.post(f"/plans/{plan['id']}/dispatch", json={})
    assert refused.status_code == 422
    assert "has no driver" in refused.json()["errors"][0]["reason"]
    assert vehicle["name"] in refused.json()["errors"][0]["reason"]
    route_id = detail["routes"][0]["id"]
    body = {"assignments": [{"route_id": route_id, "driver_id": str(tenant.driver_ids["d2"])}]}
    done = tenant.ok("post", f"/plans/{plan['id']}/dispatch", json=body)
    assert done["routes"][0]["driver_id"] == str(tenant.driver_ids["d2"])
    assert tenant.get(f"/routes/{route_id}", "d1").status_code == 403
    assert tenant.ok("get", "/me/routes", "d2")[0]["id"] == route_id
    assert tenant.delete(f"/plans/{plan['id']}").status_code == 409


def test_plan_requests_are_checked(tenant: Tenant, other_tenant: Tenant) -> None:
    r = tenant.post("/plans", json={"date": str(DAY)})
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "vehicle_ids"
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    tenant.vehicle(vtype["id"], depot["id"])
    foreign = other_tenant.order(1)
    cancelled = tenant.order(2)
    tenant.ok("post", f"/orders/{cancelled['id']}/cancel")
    body = {
        "date": str(DAY),
        "engine": "magic",
        "time_limit_s": 10_000,
        "order_ids": [foreign["id"], cancelled["id"]],
    }
    r = tenant.post("/plans", json=body)
    assert r.status_code == 422
    columns = [e["column"] for e in r.json()["errors"]]
    assert columns == ["engine", "time_limit_s", "order_ids[0]", "order_ids[1]"]


def test_cancel_a_running_job_while_the_api_stays_responsive(
    tenant: Tenant, client: TestClient
) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    for _ in range(2):
        tenant.vehicle(vtype["id"], depot["id"])
    for i in range(25):
        tenant.order(i)
    plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 60}, status=202)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = tenant.ok("get", f"/plans/{plan['id']}/job")
        if job["status"] == "running" and worker_pids():
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"the job did not start: {job}")
    time.sleep(1.0)
    slowest = 0.0
    for _ in range(5):
        began = time.perf_counter()
        assert client.get("/health").status_code == 200
        job = tenant.ok("get", f"/plans/{plan['id']}/job")
        slowest = max(slowest, time.perf_counter() - began)
    assert slowest < 1.0, slowest
    assert job["status"] == "running" and 0 < job["progress"] < 1
    began = time.monotonic()
    assert tenant.ok("post", f"/plans/{plan['id']}/cancel")["status"] in ("running", "cancelled")
    final = tenant.wait_for_job(plan["id"], timeout_s=10)
    assert final["status"] == "cancelled" and time.monotonic() - began < 5
    assert tenant.ok("get", f"/plans/{plan['id']}")["status"] == "cancelled"
    assert not worker_pids()
    assert tenant.post(f"/plans/{plan['id']}/cancel").status_code == 409
    assert all(o["status"] == "pending" for o in tenant.ok("get", "/orders"))
    tenant.ok("delete", f"/plans/{plan['id']}", status=204)


def test_abandoned_jobs_are_failed_at_start_up(app: FastAPI, tenant: Tenant) -> None:
    with app.state.sessionmaker() as session:
        plan = Plan(
            id=uuid.uuid4(), org_id=tenant.org_id, epoch=dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
        )
        old = dt.datetime.now(dt.UTC) - STALE_AFTER - dt.timedelta(seconds=5)
        job = PlanningJob(
            org_id=tenant.org_id, plan_id=plan.id, status="running", heartbeat_at=old, params={}
        )
        session.add_all([plan, job])
        session.commit()
        job_id = job.id
    app.state.job_runner.recover()
    with app.state.sessionmaker() as session:
        row = session.get(PlanningJob, job_id)
        assert row is not None and row.status == "failed"
        assert row.error == "interrupted: the service stopped"
        assert (
            plans_service.get_plan(session, org_id=tenant.org_id, plan_id=plan.id).status
            == "failed"
        )
    assert os.getpid() not in worker_pids()


def test_a_running_process_fails_jobs_left_by_a_dead_one(app: FastAPI, tenant: Tenant) -> None:
    """Not only at start-up: a job whose heartbeat stopped while this process runs
    (another API process was killed under it) ends failed; a live one is left alone."""
    now = dt.datetime.now(dt.UTC)
    ids = {}
    with app.state.sessionmaker() as session:
        for name, beat in (("dead", now - STALE_AFTER - dt.timedelta(seconds=5)), ("live", now)):
            plan = Plan(
                id=uuid.uuid4(), org_id=tenant.org_id, epoch=dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
            )
            job = PlanningJob(
                org_id=tenant.org_id,
                plan_id=plan.id,
                status="running",
                heartbeat_at=beat,
                params={},
            )
            session.add_all([plan, job])
            session.commit()
            ids[name] = job.id
    # This call takes the dead job, unless the app's own keeper, running all the
    # while, took it first; the live one is never taken.
    taken = app.state.job_runner.keep_once()
    assert ids["live"] not in taken
    with app.state.sessionmaker() as session:
        dead, live = session.get(PlanningJob, ids["dead"]), session.get(PlanningJob, ids["live"])
        assert dead is not None and (dead.status, dead.error) == ("failed", INTERRUPTED)
        assert live is not None and live.status == "running"
        live.status = "failed"  # not to be taken for a dead process's job later
        session.commit()
