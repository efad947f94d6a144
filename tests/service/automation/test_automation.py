"""The routine runs itself: carry-over into new plans, the plan created at the set
time (once, however many runners look at the clock), dispatch once ready. Each is
off by default and logged when it acts."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from lastmile.service import db
from lastmile.service.app import create_app
from lastmile.service.automation import runtime
from lastmile.service.automation import service as automation
from lastmile.service.automation.models import AutomationRun
from lastmile.service.plans.models import Plan, PlanningJob, Route, UnassignedOrder
from lastmile.service.plans.snapshot import plan_epoch
from lastmile.service.tracking.models import StopEvent

from ..conftest import (  # type: ignore[import-not-found]
    DAY,
    PARIS,
    Tenant,
    make_settings,
    new_tenant,
)

LIMIT = 0.5


@pytest.fixture(scope="module")
def client(database_url: str) -> Iterator[TestClient]:
    """An app that plans in threads (no worker process to start), its scheduler off:
    the tests drive it on a fake clock."""
    settings = make_settings(database_url, planning_executor="thread", automation_tick_s=0)
    with TestClient(create_app(settings, geocode=None)) as c:
        yield c


@pytest.fixture(scope="module")
def app(client: TestClient) -> FastAPI:
    started: FastAPI = client.app  # type: ignore[assignment]
    return started


def fleet(t: Tenant, *, shift: bool = True) -> dict[str, Any]:
    depot = t.depot()
    vtype = t.vehicle_type()
    vehicle = t.vehicle(vtype["id"], depot["id"])
    if shift:
        t.shift("d1", vehicle["id"])
    return vehicle


def set_options(t: Tenant, **options: Any) -> None:
    t.ok("patch", "/org", json={"settings": options})


def log_of(t: Tenant, kind: str | None = None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = t.ok("get", "/automation/log", who="dispatcher")
    return [e for e in entries if kind is None or e["kind"] == kind]


def at_paris(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(PARIS))


# -- settings -------------------------------------------------------------------------


def test_automations_are_off_by_default_and_validated(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    settings = t.ok("get", "/org")["settings"]
    assert settings["plan_carry_over"] is False
    assert settings["auto_plan_at"] == ""
    assert settings["auto_dispatch"] is False
    r = t.patch("/org", json={"settings": {"auto_plan_at": "25:00"}})
    assert r.status_code == 422, r.text
    assert "auto_plan_at" in r.text and "HH:MM" in r.text
    r = t.patch("/org", json={"settings": {"auto_plan_time_limit_s": 0}})
    assert r.status_code == 422 and "auto_plan_time_limit_s" in r.text
    set_options(t, auto_plan_at="18:30", auto_dispatch=True)
    settings = t.ok("get", "/org")["settings"]
    assert (settings["auto_plan_at"], settings["auto_dispatch"]) == ("18:30", True)
    set_options(t, auto_plan_at="")  # off again
    assert t.ok("get", "/org")["settings"]["auto_plan_at"] == ""
    assert t.get("/automation/log", who="d1").status_code == 403


# -- carry-over -----------------------------------------------------------------------


def _left_and_due(app: FastAPI, t: Tenant, vehicle_id: str) -> tuple[str, str, str]:
    """Three pending orders of DAY: one to plan, one an earlier plan left unassigned,
    one whose re-attempt (after a failure on the day before) falls on DAY."""
    planned, left, due = (t.order(i)["id"] for i in range(3))
    before = plan_epoch(DAY - dt.timedelta(days=1), PARIS)
    with app.state.sessionmaker() as session:
        earlier = Plan(org_id=t.org_id, name="Plan of the day before", status="ready", epoch=before)
        session.add(earlier)
        session.flush()
        session.add(
            UnassignedOrder(
                org_id=t.org_id,
                plan_id=earlier.id,
                order_id=uuid.UUID(left),
                code="capacity",
                reason="no vehicle had room",
            )
        )
        route = Route(
            org_id=t.org_id,
            plan_id=earlier.id,
            vehicle_id=uuid.UUID(vehicle_id),
            start_at=before,
            end_at=before + dt.timedelta(hours=10),
        )
        session.add(route)
        session.flush()
        session.add(
            StopEvent(
                org_id=t.org_id,
                source="test",
                event_id=uuid.uuid4().hex,
                route_id=route.id,
                order_id=uuid.UUID(due),
                stop="delivery",
                sequence=0,
                kind="failed",
                reason="not_home",
                recorded_at=before + dt.timedelta(hours=3),
                received_at=before + dt.timedelta(hours=3),
                reattempt_on=DAY,
            )
        )
        session.commit()
    return planned, left, due


def _plan(t: Tenant, order_ids: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    body = {"date": str(DAY), "time_limit_s": LIMIT, "order_ids": order_ids}
    plan = t.ok("post", "/plans", json=body, status=202)
    return plan, t.wait_for_job(plan["id"])


def _planned_orders(app: FastAPI, plan_id: str) -> set[str]:
    """The orders the plan's job was given (whatever the search made of them)."""
    with app.state.sessionmaker() as session:
        job = session.scalar(select(PlanningJob).where(PlanningJob.plan_id == uuid.UUID(plan_id)))
        assert job is not None
        return set(job.params["order_ids"])


def test_carry_over_off_plans_only_what_is_asked(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    vehicle = fleet(t)
    planned, _, _ = _left_and_due(app, t, vehicle["id"])
    plan, _ = _plan(t, [planned])
    assert _planned_orders(app, plan["id"]) == {planned}
    assert log_of(t) == []


def test_carry_over_adds_reattempts_and_leftovers_and_logs_why(
    app: FastAPI, client: TestClient
) -> None:
    t = new_tenant(app, client)
    vehicle = fleet(t)
    planned, left, due = _left_and_due(app, t, vehicle["id"])
    set_options(t, plan_carry_over=True)
    plan, _ = _plan(t, [planned])
    assert _planned_orders(app, plan["id"]) == {planned, left, due}
    entries = {e["order_id"]: e for e in log_of(t, "carry_over")}
    assert set(entries) == {left, due}
    assert "re-attempt due on 2025-05-02" in entries[due]["message"]
    assert "left unassigned by Plan of the day before" in entries[left]["message"]
    assert "no vehicle had room" in entries[left]["message"]
    assert {e["plan_id"] for e in entries.values()} == {plan["id"]}


# -- dispatch once ready --------------------------------------------------------------


def test_auto_dispatch_off_leaves_the_plan_ready(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    fleet(t)
    plan, job = _plan(t, [t.order(0)["id"]])
    assert job["status"] == "succeeded", job.get("error")
    assert t.ok("get", f"/plans/{plan['id']}")["status"] == "ready"
    assert log_of(t) == []


def test_auto_dispatch_sends_the_routes_to_the_shifts_drivers(
    app: FastAPI, client: TestClient
) -> None:
    t = new_tenant(app, client)
    fleet(t)
    set_options(t, auto_dispatch=True)
    plan, job = _plan(t, [t.order(0)["id"], t.order(1)["id"]])
    assert job["status"] == "succeeded", job.get("error")
    detail = t.ok("get", f"/plans/{plan['id']}")
    assert detail["status"] == "dispatched"
    assert [r["driver_id"] for r in detail["routes"]] == [str(t.driver_ids["d1"])]
    entries = log_of(t, "auto_dispatch")
    assert len(entries) == 1 and entries[0]["plan_id"] == plan["id"]
    assert "dispatched: 1 route(s)" in entries[0]["message"]
    assert len(t.ok("get", f"/plans/{plan['id']}/versions")) == 1


def test_auto_dispatch_without_a_shift_logs_why_and_leaves_the_plan_ready(
    app: FastAPI, client: TestClient
) -> None:
    t = new_tenant(app, client)
    fleet(t, shift=False)
    set_options(t, auto_dispatch=True)
    plan, job = _plan(t, [t.order(0)["id"]])
    assert job["status"] == "succeeded", job.get("error")
    assert t.ok("get", f"/plans/{plan['id']}")["status"] == "ready"
    (entry,) = log_of(t, "auto_dispatch")
    assert "not dispatched" in entry["message"] and "has no driver" in entry["message"]


# -- the plan created at the set time --------------------------------------------------


def _run(app: FastAPI, now: dt.datetime | None) -> list[uuid.UUID]:
    return automation.run_due(
        app.state.sessionmaker,
        settings=app.state.settings,
        submit=app.state.job_runner.submit,
        now=now,
    )


def _mine(t: Tenant, created: list[uuid.UUID]) -> list[str]:
    ours = {p["id"] for p in t.ok("get", "/plans")}
    return [str(p) for p in created if str(p) in ours]


def test_no_scheduled_plan_unless_asked(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    fleet(t)
    t.order(0)
    assert _mine(t, _run(app, at_paris(DAY - dt.timedelta(days=1), 23, 59))) == []
    assert t.ok("get", "/plans") == [] and log_of(t) == []


def test_the_plan_for_tomorrow_is_created_once_at_the_set_time(
    app: FastAPI, client: TestClient
) -> None:
    t = new_tenant(app, client)
    fleet(t)
    order = t.order(0)
    set_options(t, auto_plan_at="18:00", auto_plan_time_limit_s=LIMIT)
    eve = DAY - dt.timedelta(days=1)
    assert _mine(t, _run(app, at_paris(eve, 17, 59))) == []
    # The service's clock (a simulated one here) is what the scheduler reads.
    previous = db.install_clock(lambda: at_paris(eve, 18, 0).astimezone(dt.UTC))
    try:
        created = _mine(t, _run(app, None))
    finally:
        db.install_clock(previous)
    assert len(created) == 1
    assert _mine(t, _run(app, at_paris(eve, 21, 0))) == []  # claimed: not again that day
    plan = t.ok("get", f"/plans/{created[0]}")
    assert plan["name"] == f"Plan {DAY.isoformat()} (automatic)"
    assert plan["epoch"].startswith(DAY.isoformat())
    assert _planned_orders(app, created[0]) == {order["id"]}
    t.wait_for_job(created[0])
    (entry,) = log_of(t, "auto_plan")
    assert entry["plan_id"] == created[0] and "1 order(s)" in entry["message"]


def test_two_runners_racing_create_one_plan(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    fleet(t)
    t.order(0)
    set_options(t, auto_plan_at="06:15", auto_plan_time_limit_s=LIMIT)
    now = at_paris(DAY, 6, 20)
    barrier = threading.Barrier(2)
    results: list[list[uuid.UUID]] = []
    errors: list[BaseException] = []

    def runner() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(_run(app, now))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert errors == []
    created = [p for found in results for p in _mine(t, found)]
    assert len(created) == 1
    assert len(t.ok("get", "/plans")) == 1
    assert len(log_of(t, "auto_plan")) == 1
    with app.state.sessionmaker() as session:
        claims = session.scalar(
            select(func.count()).select_from(AutomationRun).where(AutomationRun.org_id == t.org_id)
        )
    assert claims == 1
    t.wait_for_job(created[0])


def test_a_scheduled_plan_that_cannot_be_made_is_logged(
    app: FastAPI, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lastmile.service.automation")
    t = new_tenant(app, client)  # no vehicle
    set_options(t, auto_plan_at="07:00")
    assert _mine(t, _run(app, at_paris(DAY, 7, 0))) == []
    (entry,) = log_of(t, "auto_plan")
    assert "no active vehicle" in entry["message"] and entry["plan_id"] is None
    assert any(
        str(t.org_id) in r.getMessage() and "no active vehicle" in r.getMessage()
        for r in caplog.records
    )


def test_the_apps_scheduler_tick_follows_the_service_clock(
    app: FastAPI, client: TestClient
) -> None:
    t = new_tenant(app, client)
    fleet(t)
    t.order(0)
    set_options(t, auto_plan_at="19:45", auto_plan_time_limit_s=LIMIT)
    eve = DAY - dt.timedelta(days=1)
    previous = db.install_clock(lambda: at_paris(eve, 19, 44).astimezone(dt.UTC))
    try:
        assert _mine(t, runtime.tick(app)) == []
        db.install_clock(lambda: at_paris(eve, 19, 46).astimezone(dt.UTC))
        (created,) = _mine(t, runtime.tick(app))
        assert _mine(t, runtime.tick(app)) == []
    finally:
        db.install_clock(previous)
    t.wait_for_job(created)


def test_the_log_is_the_organisations_own(app: FastAPI, client: TestClient) -> None:
    t = new_tenant(app, client)
    other = new_tenant(app, client)
    set_options(t, auto_plan_at="07:00")
    _run(app, at_paris(DAY, 7, 30))
    assert len(log_of(t)) == 1
    assert log_of(other) == []
