"""The service on a road network with traffic: a planning job, ETAs and insertions.

The app (``create_app``, in this process with its test client, planning jobs in
their worker processes as in production) runs with ``LASTMILE_NETWORK`` set to
the Helsinki extract shipped with the tests and default (rush-hour) traffic, on
the wall clock: the organisation gets the fixed-offset time zone where it is
now ``--at`` o'clock, and today's date there.

1. one depot, ``--vans`` vans with a driver and a 07:00-19:00 shift each, and
   ``--orders`` deliveries inside the extract (two-hour windows for two thirds,
   all day for the rest);
2. a plan made by the planning job (``--plan-seconds``): the job's time from
   start to end against its time limit;
3. the plan dispatched, half of the routes started: every stop planned to be
   finished by now reported delivered, a GPS fix a minute ago on each;
4. ``GET /routes/{id}/eta`` ``--eta-requests`` times over the started routes, and as
   many ``GET /auth/me`` (an authenticated request doing no work of its own: what the
   test client, the framework and the session check cost every request);
5. ``--repeat`` urgent orders inserted, one ``POST /plans/{id}/orders`` each.

Each request's wall time is shown, and the CPU time the process spent meanwhile
(all its threads: the request is served in another one), which other work on a
shared machine changes less; for insertions also the CPU time the thread serving
the request spent in the re-planning service call (``replan.service.insert_order``:
holding the plan, the live view, the insertion, storing it, the answer's data).
ETAs answered again (nothing moved within ``LASTMILE_ETA_ANSWER_FRESH_S``, see
docs/tracking.md) are counted, and the requests that computed theirs shown
apart.

    python benchmarks/service_network.py [--orders 300] [--vans 10] [--plan-seconds 20]
        [--repeat 50] [--eta-requests 200] [--at 11] [--traffic default]
        [--profile insertions.prof] [--server inline|process]

With ``--profile``, the insertions' service calls (in the thread serving each
request) are profiled with cProfile into that file (read it with ``python -m
pstats``), and the SQL statements each insertion ran are counted.

With ``--server process`` the app runs under uvicorn in a process of its own (as
``lastmile serve`` runs it, access log off) with the same settings, and this process
asks it over HTTP on localhost: the timings are then a real client's, without the
test client's own cost (it hands every request to the app's event loop in another
thread), and the timings inside the server's process are not shown.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

import _uvicorn as uvicorn_server
from lastmile.service.app import create_app
from lastmile.service.replan import service as replan_service
from lastmile.service.settings import Settings
from lastmile.service.tracking import eta as eta_module
from replan_service import (
    Api,
    Day,
    add_vans,
    bootstrap,
    day_where_it_is,
    import_orders,
    percentiles,
)

HELSINKI = Path(__file__).resolve().parents[1] / "tests" / "data" / "osm" / "helsinki.osm.pbf"
#: Inside the extract (24.935-24.953 E, 60.164-60.179 N), away from its edges.
BOX = (24.9370, 60.1655, 24.9515, 60.1775)
DEPOT = (24.9440, 60.1700)


def point(rng: random.Random) -> tuple[float, float]:
    return (round(rng.uniform(BOX[0], BOX[2]), 6), round(rng.uniform(BOX[1], BOX[3]), 6))


def seed_fleet_and_orders(api: Api, args: argparse.Namespace, rng: random.Random, day: Day) -> None:
    depot = api.call(
        "post",
        "/depots",
        201,
        json={"name": "Helsinki", "lon": DEPOT[0], "lat": DEPOT[1], "opens_s": 6 * 3600},
    )
    vtype = api.call(
        "post", "/vehicle-types", 201, json={"name": "Van", "capacity": [80], "profile": "car"}
    )
    add_vans(api, type_id=vtype["id"], depot_id=depot["id"], day=day, vans=args.vans)
    import_orders(
        api, day=day, rng=rng, orders=args.orders, prefix="hki", point=point, service_min=(2, 3)
    )


def plan_day(api: Api, args: argparse.Namespace, day: Day) -> tuple[str, float, float]:
    """The plan's id, the job's seconds from start to end, and the client's wait."""
    began = time.perf_counter()
    plan = api.call(
        "post", "/plans", 202, json={"date": str(day.date), "time_limit_s": args.plan_seconds}
    )
    deadline = time.monotonic() + args.plan_seconds * 3 + 60
    while time.monotonic() < deadline:
        job = api.call("get", f"/plans/{plan['id']}/job")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    waited = time.perf_counter() - began
    assert job["status"] == "succeeded", job
    took = (
        dt.datetime.fromisoformat(job["finished_at"]) - dt.datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    return str(plan["id"]), took, waited


def start_half(api: Api, plan_id: str, now: dt.datetime) -> list[str]:
    detail = api.call("get", f"/plans/{plan_id}")
    started = []
    for route in detail["routes"][::2]:
        api.call("post", f"/routes/{route['id']}/start")
        started.append(route["id"])
        events, last = [], None
        for v in route["visits"]:
            if not v["order_id"]:
                continue
            if dt.datetime.fromisoformat(v["departure_at"]) > now:
                break
            events.append(
                {
                    "event_id": f"ev-{v['id']}",
                    "kind": "delivered",
                    "at": v["departure_at"],
                    "sequence": v["sequence"],
                }
            )
            last = v
        for k in range(0, len(events), 100):
            api.call("post", f"/routes/{route['id']}/events", json={"events": events[k : k + 100]})
        where = last or route["visits"][0]
        fix = {
            "event_id": f"fix-{route['id']}",
            "at": (now - dt.timedelta(minutes=1)).isoformat(),
            "lon": round(where["lon"] + 0.0005, 6),
            "lat": round(where["lat"] + 0.0003, 6),
        }
        api.call("post", f"/routes/{route['id']}/pings", json={"pings": [fix]})
    return started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--vans", type=int, default=10)
    parser.add_argument("--plan-seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--eta-requests", type=int, default=200)
    parser.add_argument("--at", type=int, default=11, help="local hour of the day")
    parser.add_argument("--traffic", default="default")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile", default="", help="cProfile the insertions' service calls into this file"
    )
    parser.add_argument(
        "--server",
        choices=("inline", "process"),
        default="inline",
        help="inline: the app in this process with its test client (default); process: "
        "lastmile's app under uvicorn in a process of its own, asked over HTTP on "
        "localhost with one keep-alive connection (the timings inside the process, legs "
        "and the service call, are then not shown)",
    )
    args = parser.parse_args(argv)
    if args.server == "process" and args.profile:
        parser.error("--profile needs --server inline")

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        day, now = day_where_it_is(args.at)
        email, password = bootstrap(url, day.timezone)
        settings = Settings(
            database_url=url,
            network=str(HELSINKI),
            traffic=args.traffic,
            solver_workers=1,
            max_time_limit_s=max(600.0, args.plan_seconds),
        )
        with serving(settings, args, Path(tmp)) as (client, load_s):
            token = client.post("/auth/login", json={"email": email, "password": password}).json()[
                "access_token"
            ]
            api = Api(client, token)
            print(
                f"travel: {client.get('/health').json()['travel']} "
                f"({'app built' if args.server == 'inline' else 'server up'} in {load_s:.2f} s; "
                f"{args.server})"
            )
            seed_fleet_and_orders(api, args, rng, day)
            plan_id, took, waited = plan_day(api, args, day)
            plan = api.call("post", f"/plans/{plan_id}/dispatch", json={})
            stops = sum(1 for r in plan["routes"] for v in r["visits"] if v["order_id"])
            print(
                f"{args.orders} orders: {stops} on {len(plan['routes'])} routes, "
                f"{len(plan['unassigned'])} unassigned ({plan['engine']}; {plan['travel_note']})"
            )
            print(
                f"  planning job: {took:.2f} s for a {args.plan_seconds:g} s time limit "
                f"({100 * (took / args.plan_seconds - 1):+.1f} %); the client waited {waited:.2f} s"
            )
            started = start_half(api, plan_id, now)
            eta_times: list[float] = []
            legs_times: list[float] = []
            timed_legs = eta_module._timed_when_driven

            def timing(*a: Any, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return timed_legs(*a, **kw)
                finally:
                    legs_times.append(time.perf_counter() - t0)

            eta_module._timed_when_driven = timing  # type: ignore[assignment]
            eta_cpu: list[float] = []
            computed: list[float] = []
            for k in range(args.eta_requests):
                rid = started[k % len(started)]
                timed = len(legs_times)
                t0, c0 = time.perf_counter(), time.process_time()
                api.call("get", f"/routes/{rid}/eta")
                eta_times.append(time.perf_counter() - t0)
                eta_cpu.append(time.process_time() - c0)
                if len(legs_times) > timed:
                    computed.append(eta_times[-1])
            eta_module._timed_when_driven = timed_legs  # type: ignore[assignment]
            # The floor: what any authenticated request costs through this client and
            # the framework (session check, JSON answer), with no work of its own.
            floor: list[float] = []
            for _ in range(args.eta_requests):
                t0 = time.perf_counter()
                api.call("get", "/auth/me")
                floor.append(time.perf_counter() - t0)
            inline = args.server == "inline"
            print(f"  GET /auth/me (the floor)     {percentiles(floor)}")
            print(f"  GET /routes/{{id}}/eta         {percentiles(eta_times)}")
            if inline:
                print(f"    of which legs on the roads {percentiles(legs_times)}")
                print(f"    CPU time of the process    {percentiles(eta_cpu)}")
            if inline and computed and len(computed) < len(eta_times):
                print(f"    the {len(computed)} computed       {percentiles(computed)}")
                print(
                    f"    ({len(eta_times) - len(computed)} of {len(eta_times)} answered again "
                    "within LASTMILE_ETA_ANSWER_FRESH_S)"
                )
            insert_times, insert_cpu = [], []
            applied = 0
            statements: list[int] = []
            counted = [0]
            texts: list[str] = []
            profiler = cProfile.Profile() if args.profile else None
            inserting = replan_service.insert_order
            service_cpu: list[float] = []

            def measured(*a: Any, **kw: Any) -> Any:
                # The thread serving the request: its CPU time in the service call
                # (what waiting for a core on a busy machine changes least).
                c0 = time.thread_time()
                if profiler is not None:
                    profiler.enable()
                try:
                    return inserting(*a, **kw)
                finally:
                    if profiler is not None:
                        profiler.disable()
                    service_cpu.append(time.thread_time() - c0)

            def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                counted[0] += 1
                texts.append(" ".join(statement.split())[:150])

            replan_service.insert_order = measured  # type: ignore[assignment]
            if profiler is not None:
                event.listen(Engine, "before_cursor_execute", count)
            for i in range(args.repeat):
                lon, lat = point(rng)
                start = now + dt.timedelta(hours=1)
                body = {
                    "external_id": f"urgent-{i}",
                    "delivery": {
                        "lon": lon,
                        "lat": lat,
                        "service_s": 180,
                        "time_windows": [
                            {
                                "start": start.isoformat(),
                                "end": (start + dt.timedelta(minutes=90)).isoformat(),
                            }
                        ],
                    },
                    "amount": [1],
                }
                order = api.call("post", "/orders", 201, json=body)
                before = counted[0]
                texts.clear()
                t0, c0 = time.perf_counter(), time.process_time()
                answer = api.call(
                    "post", f"/plans/{plan_id}/orders", json={"order_id": order["id"]}
                )
                statements.append(counted[0] - before)
                insert_times.append(time.perf_counter() - t0)
                insert_cpu.append(time.process_time() - c0)
                applied += answer["applied"]
            print(f"  POST /plans/{{id}}/orders      {percentiles(insert_times)}")
            if inline:
                print(f"    CPU time of the process    {percentiles(insert_cpu)}")
                print(
                    f"    of which the service call  {percentiles(service_cpu)} (its thread's CPU)"
                )
            print(f"  ({applied} of {args.repeat} urgent orders placed)")
            replan_service.insert_order = inserting  # type: ignore[assignment]
            if profiler is not None:
                event.remove(Engine, "before_cursor_execute", count)
                profiler.dump_stats(args.profile)
                print(
                    f"  SQL statements per insertion: {sum(statements) / len(statements):.1f} "
                    f"(min {min(statements)}, max {max(statements)}); profile in {args.profile}"
                )
                print("  the last insertion's statements:")
                for statement in texts:
                    print(f"    {statement}")
    return 0


@contextlib.contextmanager
def serving(
    settings: Settings, args: argparse.Namespace, tmp: Path
) -> Iterator[tuple[TestClient | httpx.Client, float]]:
    """A client of the app and the seconds it took to be ready: the test client of
    the app built here, or an HTTP client of ``lastmile``'s app under uvicorn in a
    process of its own with the same settings (``LASTMILE_*``)."""
    began = time.perf_counter()
    if args.server == "inline":
        app = create_app(settings, geocode=None)
        built = time.perf_counter() - began
        with TestClient(app) as client:
            yield client, built
        return
    env = {
        "LASTMILE_DATABASE_URL": settings.database_url,
        "LASTMILE_AUTO_MIGRATE": "false",
        "LASTMILE_REDIS_URL": "",
        "LASTMILE_NETWORK": str(settings.network),
        "LASTMILE_TRAFFIC": str(settings.traffic),
        "LASTMILE_SOLVER_WORKERS": str(settings.solver_workers),
        "LASTMILE_MAX_TIME_LIMIT_S": str(settings.max_time_limit_s),
        "LASTMILE_GEOCODER": "none",
    }
    proc, base = uvicorn_server.start(env, workers=1, log=tmp / "server.log", startup_s=180)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            yield client, time.perf_counter() - began
    finally:
        uvicorn_server.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
