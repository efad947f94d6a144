"""Inserting an urgent order through the service: ``POST /plans/{id}/orders``.

What ``benchmarks/insertion.py`` measures in the library, measured here end to
end through the API, with the database the service runs on. By default the
server is ``lastmile.service.app:create_app`` under uvicorn (one worker) in a
process of its own, called over HTTP from this one, on the wall clock: the
organisation gets the fixed-offset time zone where it is now ``--at``
o'clock, and today's date there. ``--server inline`` runs the app in this
process with its test client instead (no network, the app's clock set to
``--at`` on a June day), and also prints where the server's time goes.

1. an organisation with one depot in Lyon, ``--vans`` vans with a driver and a
   07:00-19:00 shift each, and ``--orders`` deliveries imported from CSV
   (two-hour windows between 08:00 and 18:00 for two thirds, all day for the
   rest, 1-3 parcels each);
2. a plan made by the service's planning job (``--plan-seconds``), dispatched;
3. at that moment half of the routes have started: every stop planned to be
   finished by then is reported delivered (one in ten failed), and each van
   sent a GPS fix a minute ago;
4. ``--repeat`` urgent orders (new addresses, 90-minute windows starting an
   hour later) are created, untimed, then each is inserted with
   ``POST /plans/{id}/orders``, timed from request to answer.

    python benchmarks/replan_service.py [--orders 1000] [--vans 50] [--repeat 100]
        [--server process|inline] [--at 11] [--plan-seconds 20] [--live-view-ttl 30]
        [--database-url sqlite:///...|postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import math
import os
import random
import secrets
import sys
import tempfile
import time
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

import _uvicorn as uvicorn_server
from lastmile.service import db
from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.orgs.service import create_org
from lastmile.service.replan import service as replan_service
from lastmile.service.settings import Settings

LYON = (4.8357, 45.7640)


@dataclass(frozen=True)
class Day:
    """The plan's day: its date, the organisation's time zone and its UTC offset."""

    date: dt.date
    timezone: str
    offset: str  # "+02:00"

    def at(self, hhmm: str) -> str:
        return f"{self.date}T{hhmm}:00{self.offset}"


#: In-process runs set the app's clock: a June day in Lyon.
FIXED_DAY = Day(dt.date(2025, 6, 3), "Europe/Paris", "+02:00")


def day_where_it_is(hour: int) -> tuple[Day, dt.datetime]:
    """A server process runs on the wall clock: the organisation gets the fixed-offset
    zone where it is now about ``hour`` o'clock, and today's date there."""
    now = dt.datetime.now(dt.UTC)
    shift = (hour - now.hour) % 24
    if shift > 14:
        shift -= 24
    zone = "Etc/GMT" if shift == 0 else f"Etc/GMT{-shift:+d}"
    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    sign = "+" if shift >= 0 else "-"
    return Day(local.date(), zone, f"{sign}{abs(shift):02d}:00"), now


def percentiles(values: list[float]) -> str:
    s = sorted(values)

    def p(q: float) -> float:
        return s[min(len(s) - 1, round(q * (len(s) - 1)))]

    return (
        f"p50 {1000 * p(0.5):7.1f} ms   p95 {1000 * p(0.95):7.1f} ms   max {1000 * s[-1]:7.1f} ms"
    )


class Api:
    def __init__(self, client: httpx.Client | TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        r = self.client.request(method, url, headers=self.headers, **kw)
        if r.status_code != status:
            raise SystemExit(f"{method} {url}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None


def point(rng: random.Random, radius_km: float = 9.0) -> tuple[float, float]:
    lon0, lat0 = LYON
    r = radius_km * rng.random() ** 0.5
    a = rng.uniform(0, 2 * math.pi)
    return (
        round(lon0 + r * math.cos(a) / (111.32 * math.cos(math.radians(lat0))), 6),
        round(lat0 + r * math.sin(a) / 110.57, 6),
    )


def add_vans(api: Api, *, type_id: str, depot_id: str, day: Day, vans: int) -> None:
    """``vans`` vans of one type at one depot, each with a driver on a 07:00-19:00 shift."""
    for k in range(vans):
        vehicle = api.call(
            "post",
            "/vehicles",
            201,
            json={"name": f"Van {k}", "type_id": type_id, "depot_id": depot_id},
        )
        driver = api.call("post", "/drivers", 201, json={"name": f"Driver {k}"})
        api.call(
            "post",
            "/shifts",
            201,
            json={
                "driver_id": driver["id"],
                "vehicle_id": vehicle["id"],
                "start_at": day.at("07:00"),
                "end_at": day.at("19:00"),
            },
        )


def import_orders(
    api: Api,
    *,
    day: Day,
    rng: random.Random,
    orders: int,
    prefix: str,
    point: Callable[[random.Random], tuple[float, float]],
    service_min: tuple[int, ...],
) -> None:
    """``orders`` deliveries imported by CSV: two in three with a two-hour window, the
    others open all day."""
    rows = ["external_id,lon,lat,window_start,window_end,service_min,amount"]
    for i in range(orders):
        lon, lat = point(rng)
        if rng.random() < 2 / 3:
            h = rng.randint(8, 16)
            window = f"{h:02d}:00,{h + 2:02d}:00"
        else:
            window = "08:00,19:00"
        rows.append(
            f"{prefix}-{i},{lon},{lat},{window},{rng.choice(service_min)},{rng.randint(1, 3)}"
        )
    imported = api.call(
        "post",
        "/orders/import",
        files={"file": ("day.csv", ("\n".join(rows) + "\n").encode())},
        params={"date": str(day.date)},
    )
    assert imported["created"] == orders, imported


def seed_day(api: Api, args: argparse.Namespace, rng: random.Random, day: Day) -> str:
    depot = api.call(
        "post",
        "/depots",
        201,
        json={"name": "Lyon", "lon": LYON[0], "lat": LYON[1], "opens_s": 6 * 3600},
    )
    vtype = api.call("post", "/vehicle-types", 201, json={"name": "Van", "capacity": [120]})
    add_vans(api, type_id=vtype["id"], depot_id=depot["id"], day=day, vans=args.vans)
    import_orders(
        api, day=day, rng=rng, orders=args.orders, prefix="day", point=point, service_min=(2, 3, 4)
    )
    plan = api.call(
        "post", "/plans", 202, json={"date": str(day.date), "time_limit_s": args.plan_seconds}
    )
    deadline = time.monotonic() + args.plan_seconds * 3 + 60
    while time.monotonic() < deadline:
        job = api.call("get", f"/plans/{plan['id']}/job")
        if job["status"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    api.call("post", f"/plans/{plan['id']}/dispatch", json={})
    return str(plan["id"])


def start_routes(
    api: Api, plan_id: str, now: dt.datetime, rng: random.Random
) -> tuple[int, int, int]:
    """Half the routes started; what was due by ``now`` reported; a fix each."""
    detail = api.call("get", f"/plans/{plan_id}")
    routes = detail["routes"]
    started = done = failed = 0
    for route in routes[::2]:
        api.call("post", f"/routes/{route['id']}/start")
        started += 1
        events, last = [], None
        for v in route["visits"]:
            if not v["order_id"]:
                continue
            finished = dt.datetime.fromisoformat(v["departure_at"])
            if finished > now:
                break
            fail = rng.random() < 0.1
            events.append(
                {
                    "event_id": f"ev-{v['id']}",
                    "kind": "failed" if fail else "delivered",
                    "at": finished.isoformat(),
                    "sequence": v["sequence"],
                    **({"reason": "not_home"} if fail else {}),
                }
            )
            last = v
            done += 1
            failed += fail
        for k in range(0, len(events), 100):
            api.call("post", f"/routes/{route['id']}/events", json={"events": events[k : k + 100]})
        lon, lat = (
            (last["lon"], last["lat"])
            if last
            else (route["visits"][0]["lon"], route["visits"][0]["lat"])
        )
        fix = {
            "event_id": f"fix-{route['id']}",
            "at": (now - dt.timedelta(minutes=1)).isoformat(),
            "lon": round(lon + 0.002, 6),
            "lat": round(lat + 0.001, 6),
        }
        api.call("post", f"/routes/{route['id']}/pings", json={"pings": [fix]})
    return started, done, failed


@contextlib.contextmanager
def timed(spent: dict[str, list[float]]) -> Iterator[None]:
    """Time the replan service's steps while inside."""
    originals: dict[str, Callable[..., Any]] = {}

    def wrap(name: str, label: str) -> None:
        fn = getattr(replan_service, name)
        originals[name] = fn

        def timed_fn(*a: Any, **kw: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[label].append(time.perf_counter() - began)

        setattr(replan_service, name, timed_fn)

    wrap("load_live", "live view from the database")
    wrap("store", "writing the change")
    try:
        yield
    finally:
        for name, fn in originals.items():
            setattr(replan_service, name, fn)


def bootstrap(url: str, timezone: str) -> tuple[str, str]:
    """An organisation and its admin, straight into the database: (e-mail, password)."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.make_sessionmaker(engine)() as s:
        org = create_org(s, name="Bench", slug=f"bench-{secrets.token_hex(4)}", timezone=timezone)
        user = create_user(
            s, org_id=org.id, email="admin@bench.example", password=PASSWORD, role=Role.ADMIN
        )
        email = user.email
    engine.dispose()
    return email, PASSWORD


PASSWORD = "bench password 1"


@contextlib.contextmanager
def server_process(url: str, args: argparse.Namespace, log: Path) -> Iterator[httpx.Client]:
    """``lastmile serve``'s app under uvicorn, one worker, in a process of its own."""
    env = {
        "LASTMILE_DATABASE_URL": url,
        "LASTMILE_AUTO_MIGRATE": "false",
        "LASTMILE_REDIS_URL": "",
        "LASTMILE_SOLVER_WORKERS": "2",
        "LASTMILE_MAX_TIME_LIMIT_S": str(max(600.0, args.plan_seconds)),
        "LASTMILE_LIVE_VIEW_TTL_S": str(args.live_view_ttl),
    }
    proc, base = uvicorn_server.start(env, workers=1, log=log)
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            yield client
    finally:
        uvicorn_server.stop(proc)


def run_day(
    api: Api,
    args: argparse.Namespace,
    day: Day,
    now: dt.datetime,
    set_clock: Callable[[dt.datetime], None] | None,
    spent: dict[str, list[float]],
    label: str,
) -> None:
    rng = random.Random(args.seed)
    began = time.perf_counter()
    plan_id = seed_day(api, args, rng, day)
    plan = api.call("get", f"/plans/{plan_id}")
    stops = sum(1 for r in plan["routes"] for v in r["visits"] if v["order_id"])
    if set_clock is not None:
        set_clock(now)
    started, done, failed = start_routes(api, plan_id, now, rng)
    local = now.astimezone(zoneinfo.ZoneInfo(day.timezone))
    print(
        f"{label}: {args.orders} orders, {stops} stops on "
        f"{len(plan['routes'])} routes of {args.vans} vans, "
        f"{len(plan['unassigned'])} unassigned (plan {plan['engine']}, set up in "
        f"{time.perf_counter() - began:.0f} s); at {local:%H:%M} local: "
        f"{started} routes started, {done} stops done ({failed} failed)"
    )
    orders = []
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
        orders.append(api.call("post", "/orders", 201, json=body)["id"])
    baseline = []
    for _ in range(20):
        t0 = time.perf_counter()
        api.call("get", "/auth/me")
        baseline.append(time.perf_counter() - t0)
    total: list[float] = []
    applied = 0
    for order_id in orders:
        t0 = time.perf_counter()
        r = api.call("post", f"/plans/{plan_id}/orders", json={"order_id": order_id})
        total.append(time.perf_counter() - t0)
        applied += r["applied"]
    after = api.call("get", f"/plans/{plan_id}")
    on_routes = sum(1 for r in after["routes"] for v in r["visits"] if v["order_id"])
    print(
        f"{args.repeat} urgent orders inserted one request each: {applied} placed, "
        f"{args.repeat - applied} refused with a reason; "
        f"stops on routes {stops} -> {on_routes}"
    )
    print(f"  POST /plans/{{id}}/orders      {percentiles(total)}")
    print(f"  (GET /auth/me, for scale     {percentiles(baseline)})")
    for what, values in spent.items():
        print(f"    {what:28s} {percentiles(values)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--vans", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument(
        "--server",
        choices=("process", "inline"),
        default="process",
        help="process: uvicorn in a process of its own, on the wall clock; inline: the app "
        "in this process (test client, app clock at --at), with where the time goes",
    )
    parser.add_argument("--at", type=int, default=11, help="local hour of the day")
    parser.add_argument("--plan-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--live-view-ttl",
        type=float,
        default=Settings().live_view_ttl_s,
        help="seconds a live view is kept (0: rebuilt for every request)",
    )
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in a temp dir")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{os.path.join(tmp, 'bench.db')}"
        schema = None
        if url.startswith("postgresql"):
            schema = f"bench_{secrets.token_hex(4)}"
            eng = db.make_engine(url)
            with eng.begin() as c:
                c.execute(text(f"CREATE SCHEMA {schema}"))
            eng.dispose()
            url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
        backend = url.split("?")[0].split("://")[0]
        try:
            if args.server == "process":
                day, now = day_where_it_is(args.at)
                email, password = bootstrap(url, day.timezone)
                with server_process(url, args, Path(tmp) / "server.log") as client:
                    token = client.post(
                        "/auth/login", json={"email": email, "password": password}
                    ).json()["access_token"]
                    run_day(
                        Api(client, token),
                        args,
                        day,
                        now,
                        None,
                        {},
                        f"{backend}, uvicorn in its own process",
                    )
            else:
                day = FIXED_DAY
                now = dt.datetime.combine(
                    day.date, dt.time(args.at), zoneinfo.ZoneInfo(day.timezone)
                )
                email, password = bootstrap(url, day.timezone)
                settings = Settings(
                    database_url=url,
                    planning_executor="thread",
                    live_view_ttl_s=args.live_view_ttl,
                    solver_workers=2,
                    max_time_limit_s=max(600.0, args.plan_seconds),
                )
                app = create_app(settings, geocode=None)
                with TestClient(app) as test_client:
                    token = test_client.post(
                        "/auth/login", json={"email": email, "password": password}
                    ).json()["access_token"]

                    def set_clock(moment: dt.datetime) -> None:
                        app.state.clock = lambda: moment

                    spent: dict[str, list[float]] = defaultdict(list)
                    with timed(spent):
                        run_day(
                            Api(test_client, token),
                            args,
                            day,
                            now,
                            set_clock,
                            spent,
                            f"{backend}, app in this process",
                        )
        finally:
            if schema is not None:
                eng = db.make_engine(args.database_url)
                with eng.begin() as c:
                    c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                eng.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
