"""Sustained mixed load on two API processes, PostgreSQL and Redis, driven by locust.

The server is ``lastmile.service.app:create_app`` under uvicorn with
``--workers`` processes (2 by default) on PostgreSQL (a schema made for the run
and dropped after it) with ``LASTMILE_REDIS_URL`` set, so live events cross
processes. Set-up, through the API: an organisation in a time zone where it is
about 11:00 now, ``--vans`` vans with drivers on shifts, ``--orders`` orders for
today planned (``--plan-seconds``), dispatched and every route started, and
``--next-day-orders`` orders for tomorrow. Then, for ``--minutes`` minutes,
locust (benchmarks/_sustained_users.py) runs at once:

* one driver per started route: a batch of ``--ping-batch`` GPS pings every
  ``--ping-every`` seconds, and the route's stops reported (arrived, delivered)
  spread over the run;
* ``--dashboards`` dispatchers' live pages: ``GET /live`` held open, the plan read
  again every few seconds;
* a dispatcher inserting an urgent order into today's plan every ``--insert-every``
  seconds (``POST /orders`` then ``POST /plans/{id}/orders``);
* a planning job for tomorrow every ``--plan-every`` seconds, followed to its end.

Every minute it prints the request rate, p99 latency (overall and per kind), the
errors, the live events the dashboards received and the RSS of each API
process; at the end the same figures for the whole run, the load average
(the machine may be shared) and whether memory stayed flat.

    python benchmarks/sustained_load.py [--minutes 10] [--workers 2]
        [--database-url postgresql+psycopg://postgres@localhost:5432/test]
        [--redis-url redis://localhost:6379/0] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import psycopg

import _uvicorn as uvicorn_server
from replan_service import LYON, Api, add_vans, bootstrap, day_where_it_is, import_orders, point

HERE = Path(__file__).resolve().parent


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def set_up(api: Api, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Fleet, today's plan dispatched and started, tomorrow's orders; the scenario."""
    day, _ = day_where_it_is(11)
    depot = api.call(
        "post",
        "/depots",
        201,
        json={"name": "Lyon", "lon": LYON[0], "lat": LYON[1], "opens_s": 6 * 3600},
    )
    vtype = api.call("post", "/vehicle-types", 201, json={"name": "Van", "capacity": [200]})
    add_vans(api, type_id=vtype["id"], depot_id=depot["id"], day=day, vans=args.vans)
    import_orders(
        api, day=day, rng=rng, orders=args.orders, prefix="day", point=point, service_min=(2, 3)
    )
    tomorrow = dt.date.fromordinal(day.date.toordinal() + 1)
    next_day = type(day)(tomorrow, day.timezone, day.offset)
    import_orders(
        api,
        day=next_day,
        rng=rng,
        orders=args.next_day_orders,
        prefix="next",
        point=point,
        service_min=(2, 3),
    )
    plan = api.call(
        "post", "/plans", 202, json={"date": str(day.date), "time_limit_s": args.plan_seconds}
    )
    deadline = time.monotonic() + 3 * args.plan_seconds + 120
    while (job := api.call("get", f"/plans/{plan['id']}/job"))["status"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit(f"today's plan did not finish: {job}")
        time.sleep(1)
    if job["status"] != "succeeded":
        raise SystemExit(f"today's plan failed: {job}")
    detail = api.call("post", f"/plans/{plan['id']}/dispatch", json={})
    routes = []
    for route in detail["routes"]:
        api.call("post", f"/routes/{route['id']}/start")
        stops = [v for v in route["visits"] if v["order_id"]]
        routes.append(
            {
                "id": route["id"],
                "stops": [v["sequence"] for v in stops],
                "lon": stops[0]["lon"] if stops else LYON[0],
                "lat": stops[0]["lat"] if stops else LYON[1],
            }
        )
    return {
        "plan_id": plan["id"],
        "routes": routes,
        "next_day": str(tomorrow),
        "depot": list(LYON),
    }


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The run as a whole: totals and memory drift."""
    first, last = rows[0]["rss_mib"], rows[-1]["rss_mib"]
    return {
        "minutes": len(rows),
        "requests_per_s": round(sum(r["requests_per_s"] for r in rows) / len(rows), 1),
        "pings_per_s": round(sum(r["pings_per_s"] for r in rows) / len(rows), 1),
        "worst_minute_p99_ms": max(r["p99_ms"] for r in rows),
        "errors": sum(r["errors"] for r in rows),
        "live_events": sum(r["live_events"] for r in rows),
        "rss_first_minute_mib": first,
        "rss_last_minute_mib": last,
        "rss_slope_mib_per_min": rss_slopes(rows),
    }


def rss_slopes(rows: list[dict[str, Any]]) -> list[float]:
    """Per process, the least-squares slope of RSS over the minutes (MiB per minute):
    the drift, less sensitive to one minute's garbage than last minus first."""
    if len(rows) < 2:
        return [0.0 for _ in rows[0]["rss_mib"]]
    minutes = [float(r["minute"]) for r in rows]
    mean_t = sum(minutes) / len(minutes)
    spread = sum((t - mean_t) ** 2 for t in minutes)
    slopes = []
    for j in range(len(rows[0]["rss_mib"])):
        values = [float(r["rss_mib"][j]) for r in rows]
        mean_v = sum(values) / len(values)
        slope = sum((t - mean_t) * (v - mean_v) for t, v in zip(minutes, values, strict=True))
        slopes.append(round(slope / spread, 2))
    return slopes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--minute-s", type=float, default=60.0, help="report every (seconds)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "LASTMILE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/test"
        ),
    )
    parser.add_argument("--redis-url", default="redis://localhost:6379/0")
    parser.add_argument("--vans", type=int, default=8)
    parser.add_argument("--orders", type=int, default=160)
    parser.add_argument("--next-day-orders", type=int, default=150)
    parser.add_argument("--plan-seconds", type=float, default=10.0)
    parser.add_argument("--plan-every", type=float, default=120.0)
    parser.add_argument("--ping-batch", type=int, default=5)
    parser.add_argument("--ping-every", type=float, default=1.0)
    parser.add_argument("--dashboards", type=int, default=4)
    parser.add_argument("--insert-every", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--json", type=Path, help="write the minutes and the summary here")
    args = parser.parse_args(argv)

    schema = f"lastmile_load_{secrets.token_hex(4)}"
    with psycopg.connect(libpq(args.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in args.database_url else "?"
    url = f"{args.database_url}{sep}options={urllib.parse.quote(f'-csearch_path={schema}')}"
    work = Path(tempfile.mkdtemp(prefix="sustained-"))
    load_before = os.getloadavg()
    proc = None
    try:
        day, _ = day_where_it_is(11)
        email, password = bootstrap(url, day.timezone)
        env = {
            "LASTMILE_DATABASE_URL": url,
            "LASTMILE_REDIS_URL": args.redis_url,
            "LASTMILE_AUTO_MIGRATE": "false",
            "LASTMILE_PUBLIC_BASE_URL": "https://track.example",
            "LASTMILE_TRACKING_REQUESTS_PER_MINUTE": "100000",
            "LASTMILE_LOGIN_ATTEMPTS_PER_MINUTE": "1000",
        }
        proc, base = uvicorn_server.start(
            env, workers=args.workers, log=work / "server.log", startup_s=600
        )
        with httpx.Client(base_url=base, timeout=120) as http:
            r = http.post("/auth/login", json={"email": email, "password": password})
            r.raise_for_status()
            token = r.json()["access_token"]
            api = Api(http, token)
            began = time.monotonic()
            scenario = set_up(api, args, random.Random(args.seed))
        print(
            f"set up in {time.monotonic() - began:.0f} s: {len(scenario['routes'])} started "
            f"routes, {sum(len(r['stops']) for r in scenario['routes'])} stops; "
            f"{args.workers} API processes on PostgreSQL with Redis; load average "
            f"{load_before[0]:.1f} on {os.cpu_count()} cores",
            flush=True,
        )
        scenario |= {
            "token": token,
            "server_pid": proc.pid,
            "minutes": args.minutes,
            "minute_s": args.minute_s,
            "drivers": len(scenario["routes"]),
            "dashboards": args.dashboards,
            "ping_batch": args.ping_batch,
            "ping_every_s": args.ping_every,
            "insert_every_s": args.insert_every,
            "plan_every_s": args.plan_every,
            "plan_seconds": args.plan_seconds,
            # Under uvicorn's keep-alive timeout (5 s): at 5 s the server closes the
            # idle connection as the next read goes out on it (connection reset).
            "dashboard_read_every_s": 3.0,
        }
        (work / "scenario.json").write_text(json.dumps(scenario))
        minutes_file = work / "minutes.jsonl"
        users = scenario["drivers"] + args.dashboards + 2
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(HERE / "_sustained_users.py"),
                "--headless",
                "--host",
                base,
                "--users",
                str(users),
                "--spawn-rate",
                str(users),
                "--run-time",
                f"{round(args.minutes * 60 + 5)}s",
                "--stop-timeout",
                "5",
                "--only-summary",
                "--loglevel",
                "ERROR",
                "--exit-code-on-error",
                "0",
            ],
            env=os.environ
            | {
                "SUSTAINED_SCENARIO": str(work / "scenario.json"),
                "SUSTAINED_MINUTES": str(minutes_file),
                "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            },
            check=True,
        )
        rows = [json.loads(line) for line in minutes_file.read_text().splitlines()]
        if not rows:
            raise SystemExit("no minute was reported")
        total = summary(rows)
        load_after = os.getloadavg()
        print(
            f"\nwhole run: {total['minutes']} minutes, {total['requests_per_s']} req/s "
            f"({total['pings_per_s']} pings/s), worst minute p99 "
            f"{total['worst_minute_p99_ms']} ms, "
            f"{total['errors']} errors, {total['live_events']} live events; API RSS MiB "
            f"{total['rss_first_minute_mib']} after minute 1, {total['rss_last_minute_mib']} "
            f"at the end (drift {total['rss_slope_mib_per_min']} MiB/min); "
            f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
        )
        if args.json:
            args.json.write_text(json.dumps({"minutes": rows, "summary": total}, indent=2))
    finally:
        if proc is not None:
            uvicorn_server.stop(proc)
        with psycopg.connect(libpq(args.database_url), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
