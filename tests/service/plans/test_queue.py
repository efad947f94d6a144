"""The shared planning queue: fair turns between organisations, atomic claims,
leases that run out (retried, then failed with the reason), and ``lastmile worker``.

The queue-level tests claim with :func:`queue.claim_next` directly (no search),
each in a queue of its own, so other tests' jobs in the shared database never
mix in. They run on SQLite and PostgreSQL (the suite's ``database_url``); the
``lastmile worker`` tests start real processes on a temporary SQLite file.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from lastmile.service import db
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.service import create_org
from lastmile.service.plans import queue
from lastmile.service.plans import service as plans_service
from lastmile.service.plans.jobs import INTERRUPTED, JobRunner
from lastmile.service.plans.models import Plan, PlanningJob
from lastmile.service.plans.schemas import PlanCreate

from ..conftest import DAY, FakeGeocoder, Tenant, make_settings, new_tenant  # type: ignore[import-not-found]
from .test_plans import worker_pids

LEASE = dt.timedelta(seconds=30)
EPOCH = dt.datetime(2025, 5, 2, tzinfo=dt.UTC)


def fresh_queue() -> str:
    return f"q-{secrets.token_hex(4)}"


def orgs(sessions: sessionmaker[Session], n: int) -> list[uuid.UUID]:
    found = []
    with sessions() as session:
        for _ in range(n):
            slug = f"queue-{secrets.token_hex(5)}"
            found.append(create_org(session, name=slug, slug=slug).id)
    return found


def enqueue(
    sessions: sessionmaker[Session], org_id: uuid.UUID, name: str, n: int, *, after_s: float = 0
) -> list[uuid.UUID]:
    """``n`` queued jobs of ``org_id`` in queue ``name``, queued one millisecond apart
    from ``after_s`` seconds past a fixed instant (so their order is known)."""
    ids = []
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=after_s)
    with sessions() as session:
        for k in range(n):
            plan = Plan(id=uuid.uuid4(), org_id=org_id, epoch=EPOCH, status="planning")
            job = PlanningJob(
                id=uuid.uuid4(),
                org_id=org_id,
                plan_id=plan.id,
                status="queued",
                queue=name,
                params={},
                created_at=base + dt.timedelta(milliseconds=k),
            )
            session.add_all([plan, job])
            ids.append(job.id)
        session.commit()
    return ids


def claim(
    sessions: sessionmaker[Session], name: str, *, holder: str = "test/0", org_limit: int = 2
) -> queue.Claimed | None:
    with sessions() as session:
        return queue.claim_next(
            session, queue=name, holder=holder, org_limit=org_limit, lease=LEASE
        )


def finish(sessions: sessionmaker[Session], job_id: uuid.UUID, holder: str = "test/0") -> None:
    with sessions() as session:
        assert plans_service.finish_job(session, job_id=job_id, status="failed", holder=holder)


def drain(sessions: sessionmaker[Session], name: str) -> None:
    """End every job of queue ``name`` (no lease of this test outlives it)."""
    with sessions() as session:
        session.execute(
            update(PlanningJob)
            .where(PlanningJob.queue == name, PlanningJob.status.in_(("queued", "running")))
            .values(status="failed", leased_by="", lease_expires_at=None)
        )
        session.commit()


def job_row(sessions: sessionmaker[Session], job_id: uuid.UUID) -> PlanningJob:
    with sessions() as session:
        job = session.get(PlanningJob, job_id)
        assert job is not None
        return job


# -- fair turns ----------------------------------------------------------------------------


def test_organisations_take_turns_within_their_limit(app: FastAPI) -> None:
    sessions = app.state.sessionmaker
    name = fresh_queue()
    a, b, c = orgs(sessions, 3)
    backlog = enqueue(sessions, a, name, 6)
    [b_job] = enqueue(sessions, b, name, 1, after_s=1)
    [c_job] = enqueue(sessions, c, name, 1, after_s=2)
    first = [claim(sessions, name) for _ in range(3)]
    # Organisation a queued first and gets the first slot; b and c, with nothing
    # running, come next, before a's second job.
    assert [x.job_id for x in first if x] == [backlog[0], b_job, c_job]
    second = claim(sessions, name)
    assert second is not None and second.job_id == backlog[1]
    # a runs 2 jobs: its limit. Its 4 other queued jobs wait though slots are free.
    assert claim(sessions, name) is None
    finish(sessions, backlog[0])
    third = claim(sessions, name)
    assert third is not None and third.job_id == backlog[2]
    assert (third.org_id, third.attempt) == (a, 1)
    row = job_row(sessions, backlog[2])
    assert (row.status, row.leased_by, row.attempts) == ("running", "test/0", 1)
    assert row.lease_expires_at is not None and row.lease_expires_at > db.utcnow()
    drain(sessions, name)


def test_the_organisation_that_started_least_recently_goes_first(app: FastAPI) -> None:
    """Organisations running as many jobs as each other take turns: the one whose last
    job started longest ago goes first, whatever the age of the jobs."""
    sessions = app.state.sessionmaker
    name = fresh_queue()
    a, b = orgs(sessions, 2)
    a_jobs = enqueue(sessions, a, name, 3)
    b_jobs = enqueue(sessions, b, name, 3, after_s=1)
    order = []
    for _ in range(6):
        got = claim(sessions, name, org_limit=1)
        assert got is not None
        order.append(got.job_id)
        finish(sessions, got.job_id)
        time.sleep(0.002)  # distinct start times
    assert order == [a_jobs[0], b_jobs[0], a_jobs[1], b_jobs[1], a_jobs[2], b_jobs[2]]


def test_the_job_answer_shows_its_place_in_the_queue(app: FastAPI, client: TestClient) -> None:
    tenant = new_tenant(app, client)
    settings = make_settings(app.state.settings.database_url, planning_queue=fresh_queue())
    depot = tenant.depot()
    tenant.vehicle(tenant.vehicle_type()["id"], depot["id"])
    tenant.order(1)
    plans = []
    with app.state.sessionmaker() as session:
        org = session.get(Organisation, tenant.org_id)
        for _ in range(3):
            plan, _ = plans_service.create_plan(
                session, org=org, data=PlanCreate(date=DAY), settings=settings, created_by_id=None
            )
            plans.append(plan.id)
    jobs = [tenant.ok("get", f"/plans/{p}/job") for p in plans]
    assert [j["queue_position"] for j in jobs] == [1, 2, 3]
    assert all(j["status"] == "queued" and j["attempts"] == 0 for j in jobs)
    got = claim(app.state.sessionmaker, settings.planning_queue)
    assert got is not None and got.job_id == uuid.UUID(jobs[0]["id"])
    jobs = [tenant.ok("get", f"/plans/{p}/job") for p in plans]
    assert [j["queue_position"] for j in jobs] == [None, 1, 2]
    assert (jobs[0]["status"], jobs[0]["attempts"]) == ("running", 1)
    cancelled = tenant.ok("post", f"/plans/{plans[1]}/cancel")
    assert (cancelled["status"], cancelled["queue_position"]) == ("cancelled", None)
    assert tenant.ok("get", f"/plans/{plans[2]}/job")["queue_position"] == 1
    assert tenant.ok("get", f"/plans/{plans[2]}")["job"]["queue_position"] == 1
    finish(app.state.sessionmaker, got.job_id)


# -- atomic claims -------------------------------------------------------------------------


def claim_concurrently(
    sessions: sessionmaker[Session], name: str, *, claimers: int, org_limit: int
) -> list[list[uuid.UUID]]:
    """``claimers`` threads, each with its own connection, claim until the queue gives
    them nothing; returns what each claimed."""
    start = threading.Barrier(claimers)
    taken: list[list[uuid.UUID]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            start.wait()
            while (got := claim(sessions, name, holder=f"c{k}/0", org_limit=org_limit)) is not None:
                taken[k].append(got.job_id)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return taken


def test_concurrent_claims_never_take_the_same_job(app: FastAPI) -> None:
    sessions = app.state.sessionmaker
    name = fresh_queue()
    queued = []
    for k, org_id in enumerate(orgs(sessions, 3)):
        queued += enqueue(sessions, org_id, name, 10, after_s=k)
    taken = claim_concurrently(sessions, name, claimers=6, org_limit=100)
    everything = [job_id for mine in taken for job_id in mine]
    assert sorted(everything) == sorted(queued)  # each job once, none left
    assert sum(1 for mine in taken if mine) >= 2  # the claims did overlap
    with sessions() as session:
        holders = dict(
            session.execute(
                select(PlanningJob.id, PlanningJob.leased_by).where(PlanningJob.queue == name)
            ).all()
        )
    for k, mine in enumerate(taken):
        assert all(holders[job_id] == f"c{k}/0" for job_id in mine)
    drain(sessions, name)


def test_concurrent_claims_keep_each_organisation_to_its_limit(app: FastAPI) -> None:
    sessions = app.state.sessionmaker
    name = fresh_queue()
    org_ids = orgs(sessions, 3)
    for k, org_id in enumerate(org_ids):
        enqueue(sessions, org_id, name, 5, after_s=k)
    taken = claim_concurrently(sessions, name, claimers=6, org_limit=1)
    with sessions() as session:
        running = session.execute(
            select(PlanningJob.org_id).where(
                PlanningJob.queue == name, PlanningJob.status == "running"
            )
        ).all()
    assert sorted(r[0] for r in running) == sorted(org_ids)  # one each, never two
    assert sum(len(mine) for mine in taken) == 3
    drain(sessions, name)


#: A claiming process: claims from queue argv[2] as argv[3] until nothing is left,
#: once told to start, and prints what it took.
CLAIMER = """
import datetime as dt, sys
from lastmile.service import db, models
from lastmile.service.plans import queue
sessions = db.make_sessionmaker(db.make_engine(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
taken = []
with sessions() as session:
    while (got := queue.claim_next(
        session, queue=sys.argv[2], holder=sys.argv[3], org_limit=100,
        lease=dt.timedelta(seconds=30),
    )) is not None:
        taken.append(str(got.job_id))
print(" ".join(taken), flush=True)
"""


@pytest.mark.slow
def test_two_processes_never_claim_the_same_job(app: FastAPI) -> None:
    sessions = app.state.sessionmaker
    name = fresh_queue()
    queued = []
    for k, org_id in enumerate(orgs(sessions, 2)):
        queued += enqueue(sessions, org_id, name, 20, after_s=k)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, app.state.settings.database_url, name, f"p{k}/0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(2)
    ]
    try:
        for proc in procs:  # both have imported everything and connected
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        taken = [proc.communicate(timeout=120)[0].split() for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    everything = [uuid.UUID(job_id) for mine in taken for job_id in mine]
    assert sorted(everything) == sorted(queued)  # each job once, none left
    assert all(p.returncode == 0 for p in procs)
    drain(sessions, name)


# -- leases --------------------------------------------------------------------------------


def runner(app: FastAPI, name: str, **settings: Any) -> JobRunner:
    """A runner of queue ``name`` with no slots: only its keeper's passes, called by hand."""
    values = {"planning_queue": name, "planning_slots": 0, "planning_attempts": 2} | settings
    return JobRunner(
        sessions=app.state.sessionmaker,
        settings=make_settings(app.state.settings.database_url, **values),
        travel_model=app.state.travel_model,
    )


def test_a_lapsed_lease_is_retried_then_fails_with_its_reason(app: FastAPI) -> None:
    """The keeper is asked as of a moment past the lease (a fake clock): no renewal
    came by then, so the process holding the job is dead."""
    sessions = app.state.sessionmaker
    name = fresh_queue()
    [org] = orgs(sessions, 1)
    [job_id] = enqueue(sessions, org, name, 1)
    keeper = runner(app, name, planning_stale_after_s=LEASE.total_seconds())
    first = claim(sessions, name, holder="host-a:101:aa/0")
    claimed_at = db.utcnow()
    assert first is not None and first.attempt == 1
    assert job_id not in keeper.keep_once(now=claimed_at + LEASE / 2)  # the lease still runs
    assert job_id in keeper.keep_once(now=claimed_at + LEASE + dt.timedelta(seconds=1))
    row = job_row(sessions, job_id)
    assert (row.status, row.leased_by, row.attempts) == ("queued", "", 1)
    assert row.message == "queued again: its worker host-a:101:aa/0 stopped (attempt 1 of 2)"
    second = claim(sessions, name, holder="host-b:202:bb/1")
    claimed_at = db.utcnow()
    assert second is not None and second.attempt == 2
    assert job_id not in keeper.keep_once(now=claimed_at + LEASE / 2)
    assert job_id in keeper.keep_once(now=claimed_at + LEASE + dt.timedelta(seconds=1))
    row = job_row(sessions, job_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert row.error.startswith("the worker stopped twice; the last time host-b:202:bb/1")
    assert row.error.endswith("the job is not tried again")
    with sessions() as session:
        plan = session.get(Plan, row.plan_id)
        assert plan is not None and plan.status == "failed"


def test_with_one_attempt_a_lapsed_lease_fails_at_once(app: FastAPI) -> None:
    sessions = app.state.sessionmaker
    name = fresh_queue()
    [org] = orgs(sessions, 1)
    [job_id] = enqueue(sessions, org, name, 1)
    assert claim(sessions, name) is not None
    later = db.utcnow() + LEASE * 2
    assert job_id in runner(app, name, planning_attempts=1).keep_once(now=later)
    row = job_row(sessions, job_id)
    assert (row.status, row.error) == ("failed", INTERRUPTED)


def test_a_slot_that_lost_its_lease_writes_nothing(app: FastAPI) -> None:
    """The next attempt's slot holds the job: the old slot's progress, end and
    renewal are refused."""
    sessions = app.state.sessionmaker
    name = fresh_queue()
    [org] = orgs(sessions, 1)
    [job_id] = enqueue(sessions, org, name, 1)
    assert claim(sessions, name, holder="old/0") is not None
    with sessions() as session:
        session.execute(
            update(PlanningJob)
            .where(PlanningJob.id == job_id)
            .values(leased_by="new/0", attempts=2, progress=0.5, message="searching")
        )
        session.commit()
        assert not plans_service.record_progress(
            session, job_id=job_id, progress=0.9, message="old", holder="old/0"
        )
        assert not plans_service.finish_job(
            session, job_id=job_id, status="cancelled", holder="old/0"
        )
        assert queue.renew(session, holders={job_id: "old/0"}, lease=LEASE) == set()
        assert queue.renew(session, holders={job_id: "new/0"}, lease=LEASE) == {job_id}
    row = job_row(sessions, job_id)
    assert (row.status, row.progress, row.message) == ("running", 0.5, "searching")
    finish(sessions, job_id, holder="new/0")


# -- slots running real jobs ---------------------------------------------------------------


def small_fleet(tenant: Tenant, orders: int) -> None:
    depot = tenant.depot()
    vtype = tenant.vehicle_type(capacity=[20])
    tenant.vehicle(vtype["id"], depot["id"])
    for i in range(orders):
        tenant.order(i)


def test_a_backlog_does_not_starve_another_organisation(app: FastAPI, client: TestClient) -> None:
    """Organisation a queues 6 plans, then b one: with two slots, b's starts while a's
    backlog is still waiting (first come, first served would start it last)."""
    name = fresh_queue()
    a, b = new_tenant(app, client), new_tenant(app, client)
    small_fleet(a, 4)
    small_fleet(b, 4)
    settings = make_settings(
        app.state.settings.database_url,
        planning_queue=name,
        planning_slots=2,
        planning_executor="thread",
        planning_org_limit=2,
        planning_poll_s=0.1,
    )
    request = PlanCreate(date=DAY, time_limit_s=0.3)
    with app.state.sessionmaker() as session:
        org_a = session.get(Organisation, a.org_id)
        org_b = session.get(Organisation, b.org_id)
        a_plans = [
            plans_service.create_plan(
                session, org=org_a, data=request, settings=settings, created_by_id=None
            )[0].id
            for _ in range(6)
        ]
        b_plan = plans_service.create_plan(
            session, org=org_b, data=request, settings=settings, created_by_id=None
        )[0].id
    slots = JobRunner(
        sessions=app.state.sessionmaker, settings=settings, travel_model=app.state.travel_model
    )
    slots.recover()
    try:
        a_jobs = [a.wait_for_job(str(p), timeout_s=120) for p in a_plans]
        b_job = b.wait_for_job(str(b_plan), timeout_s=120)
    finally:
        slots.shutdown()
    assert all(j["status"] == "succeeded" for j in [*a_jobs, b_job]), [*a_jobs, b_job]
    a_starts = sorted(dt.datetime.fromisoformat(j["started_at"]) for j in a_jobs)
    b_start = dt.datetime.fromisoformat(b_job["started_at"])
    # b's job took the first slot a's second-to-run job freed.
    assert b_start <= a_starts[2], (b_start, a_starts)


@pytest.mark.slow
def test_a_killed_solver_is_retried_then_fails_with_its_reason(
    app: FastAPI, client: TestClient
) -> None:
    """SIGKILL the solver process of a running job (out of memory, an operator): the
    job is queued again and started afresh; killed again, it fails saying so."""
    tenant = new_tenant(app, client)
    small_fleet(tenant, 12)
    settings = make_settings(
        app.state.settings.database_url,
        planning_queue=fresh_queue(),
        planning_slots=1,
        planning_attempts=2,
        planning_executor="process",
        planning_poll_s=0.1,
    )
    with app.state.sessionmaker() as session:
        org = session.get(Organisation, tenant.org_id)
        plan, _ = plans_service.create_plan(
            session,
            org=org,
            data=PlanCreate(date=DAY, time_limit_s=60),
            settings=settings,
            created_by_id=None,
        )
    slots = JobRunner(
        sessions=app.state.sessionmaker, settings=settings, travel_model=app.state.travel_model
    )
    slots.recover()
    try:
        for attempt in (1, 2):
            wait_for(
                lambda n=attempt: (
                    job_when(
                        tenant,
                        str(plan.id),
                        lambda j: (j["status"], j["attempts"]) == ("running", n),
                    )
                    and worker_pids()
                ),
                f"attempt {attempt}'s solver to start",
            )
            for pid in worker_pids():
                os.kill(pid, signal.SIGKILL)
            if attempt == 1:
                job = wait_for(
                    lambda: job_when(tenant, str(plan.id), lambda j: j["attempts"] == 2),
                    "the job to be started again",
                )
        job = tenant.wait_for_job(str(plan.id), timeout_s=60)
    finally:
        slots.shutdown()
    assert (job["status"], job["attempts"]) == ("failed", 2), job
    assert job["error"] == (
        "the solver process was killed (signal 9); the solver was killed twice: "
        "the job is not tried again"
    )
    assert tenant.ok("get", f"/plans/{plan.id}")["status"] == "failed"


# -- lastmile worker -----------------------------------------------------------------------


def _command() -> list[str]:
    # The service's own entry point: the same command as `lastmile worker`, fewer imports.
    return [sys.executable, "-m", "lastmile.service"]


def test_lastmile_has_the_worker_command() -> None:
    from lastmile.cli import build_parser
    from lastmile.service.commands import run_worker

    args = build_parser().parse_args(["worker", "--slots", "3", "--queue", "heavy"])
    assert (args.handler, args.slots, args.queue) == (run_worker, 3, "heavy")


@contextmanager
def worker(url: str, name: str, log: Path, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    """``lastmile worker --slots 1`` on queue ``name`` of the database at ``url``."""
    env = (
        os.environ
        | {
            "LASTMILE_DATABASE_URL": url,
            "LASTMILE_PLANNING_QUEUE": name,
            "LASTMILE_PLANNING_EXECUTOR": "thread",
            "LASTMILE_PLANNING_POLL_S": "0.2",
        }
        | {f"LASTMILE_{k.upper()}": v for k, v in settings.items()}
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*_command(), "worker", "--slots", "1", "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(20)


@contextmanager
def enqueuing_api(url: str, name: str, **settings: Any) -> Iterator[tuple[FastAPI, TestClient]]:
    """An API process with no planning slots: it only queues."""
    from lastmile.service.app import create_app

    app = create_app(
        make_settings(url, planning_queue=name, planning_slots=0, **settings),
        geocode=FakeGeocoder(),
    )
    with TestClient(app) as client:
        yield app, client


def wait_for(check: Any, what: str, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s  # a ceiling for a loaded machine
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def job_when(tenant: Tenant, plan_id: str, check: Any) -> dict[str, Any] | None:
    """The plan's job if ``check`` holds for it now, else None."""
    job: dict[str, Any] = tenant.ok("get", f"/plans/{plan_id}/job")
    return job if check(job) else None


@pytest.mark.slow
def test_lastmile_worker_runs_a_job_queued_through_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    name = "cli"
    log = tmp_path / "worker.log"
    with enqueuing_api(url, name) as (app, client):
        tenant = new_tenant(app, client)
        small_fleet(tenant, 3)
        plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1}, status=202)
        assert tenant.ok("get", f"/plans/{plan['id']}/job")["queue_position"] == 1
        with worker(url, name, log) as proc:
            job = tenant.wait_for_job(plan["id"], timeout_s=120)
            assert (job["status"], job["attempts"]) == ("succeeded", 1), (job, log.read_text())
            assert len(tenant.ok("get", f"/plans/{plan['id']}")["routes"]) == 1
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
    text = log.read_text()
    assert "1 planning slot(s) on queue 'cli'" in text and "stopping" in text


@pytest.mark.slow
def test_a_job_whose_workers_are_killed_is_retried_then_fails(tmp_path: Path) -> None:
    """SIGKILL the worker running a job: its lease runs out, the job is queued again
    and a second worker starts it; killed again, the job fails with the reason."""
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    name = "kill"
    log = tmp_path / "worker.log"
    lease = {"planning_stale_after_s": 1.0, "planning_attempts": 2}
    with enqueuing_api(url, name, **lease) as (app, client):
        tenant = new_tenant(app, client)
        small_fleet(tenant, 12)
        plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 60}, status=202)
        holders = []
        for attempt in (1, 2):
            with worker(url, name, log, **{k: str(v) for k, v in lease.items()}) as proc:
                job = wait_for(
                    lambda n=attempt: job_when(
                        tenant, plan["id"], lambda j: (j["status"], j["attempts"]) == ("running", n)
                    ),
                    f"attempt {attempt} to start",
                )
                holders.append(job_row(app.state.sessionmaker, uuid.UUID(job["id"])).leased_by)
                assert f":{proc.pid}:" in holders[-1]
                proc.kill()
                proc.wait(20)
            # The API process's keeper notices the lease ran out.
            job = wait_for(
                lambda: job_when(tenant, plan["id"], lambda j: j["status"] != "running"),
                f"attempt {attempt}'s lease to run out",
                timeout_s=60,
            )
            if attempt == 1:
                assert (job["status"], job["queue_position"]) == ("queued", 1), job
                assert job["message"] == (
                    f"queued again: its worker {holders[0]} stopped (attempt 1 of 2)"
                )
        assert (job["status"], job["attempts"]) == ("failed", 2), job
        assert job["error"].startswith(f"the worker stopped twice; the last time {holders[1]}")
        assert tenant.ok("get", f"/plans/{plan['id']}")["status"] == "failed"
        assert all(o["status"] == "pending" for o in tenant.ok("get", "/orders"))
