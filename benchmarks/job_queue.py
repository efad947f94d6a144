"""The shared planning queue: how long each organisation's jobs wait for a slot.

Three organisations (one depot, one van, ``--orders`` deliveries each) queue
``--jobs`` planning jobs each, all of organisation a's first, then b's, then
c's (a backlog arriving in one burst, the case a fair queue is for), before one
:class:`~lastmile.service.plans.jobs.JobRunner` with ``--slots`` slots starts
on the queue. Each job plans its organisation's orders for ``--plan-seconds``.
After one unmeasured job of a fourth organisation (the solver's modules load
in the first search), it runs twice on the same database, in this process:

* ``fair``: the service's queue (:func:`lastmile.service.plans.queue.claim_next`:
  organisations take turns, at most ``--org-limit`` running each);
* ``fifo``: the peer, first come first served (the same runner, claims ordered
  by queueing time only, no limit per organisation).

Waits are measured from the runner's start to each job's ``started_at`` (every
job was queued before), per organisation: the first job's, the median and the
longest, and when the organisation's last job ended.

    python benchmarks/job_queue.py [--jobs 10] [--slots 2] [--orders 5]
        [--plan-seconds 0.5] [--org-limit 2] [--executor thread|process]
        [--database-url sqlite:///...|postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lastmile.service import db
from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.orgs.models import Organisation
from lastmile.service.orgs.service import create_org
from lastmile.service.plans import jobs, queue
from lastmile.service.plans import service as plans_service
from lastmile.service.plans.models import PlanningJob
from lastmile.service.plans.queue import Claimed
from lastmile.service.plans.schemas import PlanCreate
from lastmile.service.settings import Settings

DAY = dt.date(2026, 6, 2)
PASSWORD = "benchmark password"


def fifo_claim(
    session: Session, *, queue: str, holder: str, org_limit: int, lease: dt.timedelta
) -> Claimed | None:
    """The peer: the oldest queued job, whoever's (no turns, no limit)."""
    del org_limit
    session.rollback()
    pick = (
        select(PlanningJob.id)
        .where(
            PlanningJob.queue == queue,
            PlanningJob.status == "queued",
            PlanningJob.cancel_requested.is_(False),
        )
        .order_by(PlanningJob.created_at, PlanningJob.id)
        .limit(1)
        .scalar_subquery()
    )
    now = db.utcnow()
    row = session.execute(
        update(PlanningJob)
        .where(PlanningJob.id == pick, PlanningJob.status == "queued")
        .values(
            status="running",
            attempts=PlanningJob.attempts + 1,
            leased_by=holder,
            lease_expires_at=now + lease,
            started_at=now,
            heartbeat_at=now,
        )
        .returning(PlanningJob.id, PlanningJob.org_id, PlanningJob.attempts)
    ).first()
    session.commit()
    return None if row is None else Claimed(row[0], row[1], int(row[2]))


@contextmanager
def claims_by(claim: Callable[..., Any]) -> Iterator[None]:
    original = queue.claim_next
    queue.claim_next = claim  # type: ignore[assignment]
    try:
        yield
    finally:
        queue.claim_next = original  # type: ignore[assignment]


def organisation(
    app: Any, client: TestClient, name: str, orders: int
) -> tuple[uuid.UUID, list[str]]:
    """An organisation with a depot, a van and ``orders`` deliveries on DAY."""
    slug = f"{name}-{secrets.token_hex(3)}"
    with app.state.sessionmaker() as session:
        org = create_org(session, name=name, slug=slug, timezone="Europe/Paris")
        create_user(
            session,
            org_id=org.id,
            email=f"admin@{slug}.example",
            password=PASSWORD,
            role=Role.ADMIN,
        )
        org_id = org.id
    token = client.post(
        "/auth/login", json={"email": f"admin@{slug}.example", "password": PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 201, r.text
        found: dict[str, Any] = r.json()
        return found

    depot = post("/depots", {"name": "Depot", "lon": 4.85, "lat": 45.75, "opens_s": 6 * 3600})
    vtype = post("/vehicle-types", {"name": "Van", "capacity": [50]})
    post("/vehicles", {"name": "Van 1", "type_id": vtype["id"], "depot_id": depot["id"]})
    ids = []
    for i in range(orders):
        body = {
            "external_id": f"{name}-{i}",
            "delivery": {
                "lon": 4.80 + 0.013 * (i % 7),
                "lat": 45.72 + 0.011 * (i % 5),
                "service_s": 180,
                "time_windows": [
                    {"start": f"{DAY}T08:00:00+02:00", "end": f"{DAY}T18:00:00+02:00"}
                ],
            },
            "amount": [1],
        }
        ids.append(post("/orders", body)["id"])
    return org_id, ids


def run(
    app: Any,
    settings: Settings,
    orgs: dict[str, tuple[uuid.UUID, list[str]]],
    args: argparse.Namespace,
) -> dict[str, dict[str, float]]:
    """Queue every job, start the runner, wait for all; per organisation, seconds."""
    request_of = {
        name: PlanCreate(
            date=DAY,
            order_ids=[uuid.UUID(o) for o in ids],
            time_limit_s=args.plan_seconds,
        )
        for name, (_, ids) in orgs.items()
    }
    job_org: dict[uuid.UUID, str] = {}
    with app.state.sessionmaker() as session:
        for name, (org_id, _) in orgs.items():
            org = session.get(Organisation, org_id)
            for _ in range(args.jobs):
                _, job = plans_service.create_plan(
                    session, org=org, data=request_of[name], settings=settings, created_by_id=None
                )
                job_org[job.id] = name
    runner = jobs.JobRunner(
        sessions=app.state.sessionmaker, settings=settings, travel_model=app.state.travel_model
    )
    began = db.utcnow()
    runner.recover()
    try:
        while True:
            with app.state.sessionmaker() as session:
                rows = session.execute(
                    select(
                        PlanningJob.id,
                        PlanningJob.status,
                        PlanningJob.started_at,
                        PlanningJob.finished_at,
                    ).where(PlanningJob.id.in_(list(job_org)))
                ).all()
            if all(r.status in ("succeeded", "failed", "cancelled") for r in rows):
                break
            time.sleep(0.1)
    finally:
        runner.shutdown()
    failed = [r for r in rows if r.status != "succeeded"]
    if failed:
        print(f"  {len(failed)} job(s) did not succeed: {sorted({r.status for r in failed})}")
    figures: dict[str, dict[str, float]] = {}
    for name in orgs:
        mine = [r for r in rows if job_org[r.id] == name]
        waits = sorted((r.started_at - began).total_seconds() for r in mine)
        figures[name] = {
            "first": waits[0],
            "p50": statistics.median(waits),
            "max": waits[-1],
            "done": max((r.finished_at - began).total_seconds() for r in mine),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10, help="jobs per organisation")
    parser.add_argument("--slots", type=int, default=2)
    parser.add_argument("--orders", type=int, default=5, help="orders per organisation")
    parser.add_argument("--plan-seconds", type=float, default=0.5)
    parser.add_argument("--org-limit", type=int, default=2)
    parser.add_argument("--executor", choices=["thread", "process"], default="thread")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    print("$ python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]))

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'queue.db'}"
        base = {
            "database_url": url,
            "planning_slots": 0,  # the app only builds the data; the runners run the jobs
            "planning_executor": args.executor,
            "planning_org_limit": args.org_limit,
            "planning_poll_s": 0.2,
            "login_attempts_per_minute": 10_000,
            "login_attempts_per_address_per_minute": 10_000,
        }
        app = create_app(Settings(**base, planning_queue="setup"), geocode=None)
        with TestClient(app) as client:
            orgs = {n: organisation(app, client, n, args.orders) for n in ("a", "b", "c")}
            # One job first, unmeasured, of an organisation of its own: the solver's
            # modules load in the first search.
            warm = argparse.Namespace(**vars(args) | {"jobs": 1})
            first = {"warm-up": organisation(app, client, "warm-up", args.orders)}
            run(
                app, Settings(**base | {"planning_slots": 1}, planning_queue="warm-up"), first, warm
            )
            results = {}
            for label, claim in (("fair", queue.claim_next), ("fifo", fifo_claim)):
                settings = Settings(
                    **base | {"planning_slots": args.slots}, planning_queue=f"bench-{label}"
                )
                with claims_by(claim):
                    results[label] = run(app, settings, orgs, args)
    print(
        f"\n3 organisations x {args.jobs} jobs ({args.orders} orders, {args.plan_seconds:g} s "
        f"each), queued a's first, then b's, then c's; {args.slots} slots, "
        f"{args.executor} executor, {url.split(':', 1)[0]}; seconds from the runner's start"
    )
    print("| queue | org | first start | wait p50 | wait max | last done |")
    print("|---|---|---|---|---|---|")
    for label, figures in results.items():
        for name, f in figures.items():
            print(
                f"| {label} | {name} | {f['first']:.1f} | {f['p50']:.1f} | {f['max']:.1f} "
                f"| {f['done']:.1f} |"
            )
    fair, fifo = results["fair"], results["fifo"]
    worst = {label: max(f["p50"] for f in r.values()) for label, r in results.items()}
    print(
        f"\nworst organisation's median wait: fair {worst['fair']:.1f} s, fifo "
        f"{worst['fifo']:.1f} s (ratio {worst['fifo'] / max(worst['fair'], 1e-9):.2f}); "
        f"c's first start: fair {fair['c']['first']:.1f} s, fifo {fifo['c']['first']:.1f} s"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
