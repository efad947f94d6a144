"""Position ping ingestion under load: sustained pings/s, latency, and a stored-count check.

The server runs as its own processes (uvicorn with ``--workers``, the app built by
``lastmile.service.app:create_app``) on PostgreSQL, in a schema made for the
run and dropped after it. The load comes from ``wrk`` (a separate process; a
Lua script builds the batches) posting batches of ``--batch`` pings, each with
a fresh event id, to ``POST /routes/{id}/pings`` of ``--routes`` started routes
with an API key:

* **paced**: ``--rate`` requests/s (with ``--batch`` 50 and rate 100: 5,000
  pings/s) for ``--duration`` seconds: each wrk thread hands out send times
  evenly spaced (its share of the rate), and each of the ``--connections``
  connections, once answered, waits for the next free send time. The rate
  holds as long as fewer than ``--connections`` requests are outstanding, and
  latency is measured from each send;
* **saturated** (``--saturate``): no pause, ``--saturate-connections``
  connections, to find the ceiling.

Every acknowledged ping must be in the database afterwards: the script counts
the rows and compares with wrk's 2xx answers x batch size (requests cut off
by wrk's stop may add at most connections x batch rows).

Printed with each run: the load average before and after (the machine may be
shared) and the server processes' CPU seconds.

    apt-get install -y wrk
    python benchmarks/pings.py [--rate 100] [--batch 50] [--duration 30] [--workers 2]
        [--database-url postgresql+psycopg://postgres@localhost:5432/test] [--saturate]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, select

import _uvicorn as uvicorn_server
from lastmile.service import db
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_api_key
from lastmile.service.depots.models import Depot
from lastmile.service.fleet.models import Driver, Vehicle, VehicleType
from lastmile.service.orders.models import Order
from lastmile.service.orgs.service import create_org
from lastmile.service.plans.models import Plan, Route, Visit
from lastmile.service.tracking.models import PositionPing

LUA = r"""
-- Batches of BATCH pings with unique event ids to the routes, round robin.
local routes = {ROUTES}
local key = "KEY"
local batch = BATCH
local pause_ms = PAUSE_MS
local counter = 0
local n = 0

function setup(thread)
  n = n + 1
  thread:set("tid", n)
end

function init(args)
  math.randomseed(tid * 7919)
  prefix = string.format("RUN-%d", tid)
end

function request()
  counter = counter + 1
  local parts = {}
  for k = 1, batch do
    parts[k] = string.format(
      '{"event_id":"%s-%d-%d","at":"2025-05-02T%02d:%02d:%02d+02:00","lon":%.5f,"lat":%.5f,"speed_kph":32.5}',
      prefix, counter, k, 8 + math.floor(counter / 3600) % 10, math.floor(counter / 60) % 60,
      counter % 60,
      2.30 + k * 0.0001, 48.85 + (counter % 100) * 0.0001)
  end
  local route = routes[(counter % #routes) + 1]
  local body = '{"pings":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format("POST", "/routes/" .. route .. "/pings",
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end

-- Paced: each thread hands out send times INTERVAL_MS apart; a connection
-- that gets an answer waits for the next free time (LuaJIT's FFI gives a clock).
if pause_ms > 0 then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } lm_timespec;
    int clock_gettime(int clk_id, lm_timespec *tp);
  ]]
  local ts = ffi.new("lm_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
  local next_at = nil
  function delay()
    local now = now_ms()
    if next_at == nil then next_at = now + math.random() * pause_ms end
    next_at = math.max(next_at + pause_ms, now - 10 * pause_ms)
    return math.max(0, next_at - now)
  end
end

function done(summary, latency, requests)
  local out = {
    requests = summary.requests,
    duration_us = summary.duration,
    non2xx = summary.errors.status,
    connect_errors = summary.errors.connect,
    read_errors = summary.errors.read,
    write_errors = summary.errors.write,
    timeouts = summary.errors.timeout,
    p50_us = latency:percentile(50),
    p90_us = latency:percentile(90),
    p99_us = latency:percentile(99),
    p999_us = latency:percentile(99.9),
    max_us = latency.max,
  }
  local items = {}
  for name, value in pairs(out) do
    items[#items + 1] = string.format('"%s":%s', name, tostring(value))
  end
  io.write("WRK_RESULT {" .. table.concat(items, ",") .. "}\n")
end
"""


def libpq(url: str) -> str:
    return url.split("?")[0].replace("postgresql+psycopg://", "postgresql://", 1)


def seed(url: str, n_routes: int) -> tuple[str, list[str], uuid.UUID]:
    """An organisation with an API key and ``n_routes`` started routes of 50 deliveries."""
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.make_sessionmaker(engine)
    epoch = dt.datetime(2025, 5, 1, 22, 0, tzinfo=dt.UTC)
    with sessions() as s:
        org = create_org(s, name="Bench", slug=f"bench-{secrets.token_hex(4)}")
        key, _ = create_api_key(
            s, org_id=org.id, name="load", role=Role.DISPATCHER, created_by_id=None
        )
        depot = Depot(org_id=org.id, name="Depot", lon=2.35, lat=48.85)
        vtype = VehicleType(org_id=org.id, name="Van")
        s.add_all([depot, vtype])
        s.flush()
        plan = Plan(org_id=org.id, name="bench", status="dispatched", epoch=epoch)
        s.add(plan)
        s.flush()
        route_ids = []
        for r in range(n_routes):
            vehicle = Vehicle(org_id=org.id, name=f"V{r}", type_id=vtype.id, depot_id=depot.id)
            driver = Driver(org_id=org.id, name=f"D{r}")
            s.add_all([vehicle, driver])
            s.flush()
            start = epoch + dt.timedelta(hours=9)
            route = Route(
                org_id=org.id,
                plan_id=plan.id,
                position=r,
                vehicle_id=vehicle.id,
                driver_id=driver.id,
                status="started",
                start_at=start,
                end_at=start + dt.timedelta(hours=9),
                started_at=start,
            )
            for k in range(52):
                at = start + dt.timedelta(minutes=10 * k)
                lon, lat = 2.30 + 0.002 * (k % 25), 48.84 + 0.001 * (k % 17)
                kind = "start" if k == 0 else "end" if k == 51 else "job"
                order = None
                if kind == "job":
                    window = {
                        "start": (at - dt.timedelta(hours=1)).isoformat(),
                        "end": (at + dt.timedelta(hours=1)).isoformat(),
                    }
                    order = Order(
                        org_id=org.id,
                        kind="delivery",
                        status="en_route",
                        delivery_lon=lon,
                        delivery_lat=lat,
                        delivery_windows=[window],
                        delivery_service_s=240,
                    )
                    s.add(order)
                    s.flush()
                route.visits.append(
                    Visit(
                        org_id=org.id,
                        sequence=k,
                        kind=kind,
                        order_id=order.id if order else None,
                        lon=lon,
                        lat=lat,
                        arrival_at=at,
                        start_at=at,
                        departure_at=at + dt.timedelta(minutes=4 if order else 0),
                        eta_at=at,
                    )
                )
            s.add(route)
            s.flush()
            route_ids.append(str(route.id))
        s.commit()
        org_id = org.id
    engine.dispose()
    return key, route_ids, org_id


def stored_count(url: str, org_id: uuid.UUID) -> int:
    engine = db.make_engine(url)
    with db.make_sessionmaker(engine)() as s:
        n = s.scalar(
            select(func.count()).select_from(PositionPing).where(PositionPing.org_id == org_id)
        )
    engine.dispose()
    return int(n or 0)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes (Linux /proc), children included."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / tick
    return total


def pids_named(name: str) -> list[int]:
    """Processes whose command name is ``name`` (e.g. the PostgreSQL backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def server_pids(root: int) -> list[int]:
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == root:
                pids.append(int(entry.name))
    return pids


def run_wrk(
    base: str, script: Path, *, threads: int, connections: int, duration_s: int
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT "))
    result: dict[str, Any] = json.loads(line[len("WRK_RESULT ") :])
    return result


def report(name: str, r: dict[str, Any], batch: int, load: tuple[float, ...]) -> dict[str, Any]:
    seconds = r["duration_us"] / 1e6
    ok = r["requests"] - r["non2xx"]
    row = {
        "run": name,
        "requests": r["requests"],
        "non2xx": r["non2xx"],
        "socket_errors": r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"],
        "req_per_s": ok / seconds,
        "pings_per_s": ok * batch / seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p90_ms": r["p90_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "p999_ms": r["p999_us"] / 1000,
        "max_ms": r["max_us"] / 1000,
        "load_before": load,
        "load_after": os.getloadavg(),
    }
    print(
        f"{name:<10} {row['pings_per_s']:>9.0f} pings/s  {row['req_per_s']:>7.1f} req/s  "
        f"p50 {row['p50_ms']:6.1f} ms  p90 {row['p90_ms']:6.1f} ms  p99 {row['p99_ms']:6.1f} ms  "
        f"p99.9 {row['p999_ms']:6.1f} ms  max {row['max_ms']:6.1f} ms  "
        f"non-2xx {row['non2xx']}  socket errors {row['socket_errors']}  "
        f"load {load[0]:.2f} -> {row['load_after'][0]:.2f}"
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@localhost:5432/test"
    )
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--batch", type=int, default=50, help="pings per request")
    parser.add_argument("--duration", type=int, default=30, help="seconds per run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument(
        "--warmup", type=int, default=5, help="seconds of paced load before measuring"
    )
    parser.add_argument("--saturate", action="store_true", help="also run without pauses")
    parser.add_argument("--saturate-connections", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2

    schema = f"lastmile_bench_{os.getpid()}_{secrets.token_hex(3)}"
    base_url = args.database_url
    is_pg = base_url.startswith("postgresql")
    if is_pg:
        with psycopg.connect(libpq(base_url), autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base_url else "?"
        url = f"{base_url}{sep}options={urllib.parse.quote(f'-csearch_path={schema}')}"
    else:
        url = base_url
    proc: subprocess.Popen[bytes] | None = None
    try:
        key, routes, org_id = seed(url, args.routes)
        log = Path(tempfile.mkstemp(prefix="lastmile-bench-", suffix=".log")[1])
        env = {
            "LASTMILE_DATABASE_URL": url,
            "LASTMILE_AUTO_MIGRATE": "false",
            "LASTMILE_REDIS_URL": "",
        }
        proc, base = uvicorn_server.start(env, workers=args.workers, log=log)
        pids = server_pids(proc.pid)

        print(
            f"server: uvicorn, {args.workers} worker(s), {'PostgreSQL' if is_pg else url}; "
            f"{os.cpu_count()} cores; batches of {args.batch} pings to {args.routes} routes; "
            f"wrk -t{args.threads}"
        )
        pause_ms = args.threads * 1000.0 / args.rate  # per thread, between sends
        runs = [("paced", args.connections, pause_ms)]
        if args.saturate:
            runs.append(("saturated", args.saturate_connections, 0.0))
        rows = []
        acked = 0
        slack = 0
        if args.warmup > 0:
            # Connections opened, statements prepared, first ETAs computed: not measured.
            runs.insert(0, ("warmup", args.connections, pause_ms))
        for name, connections, pause_ms in runs:
            script = Path(tempfile.mkstemp(suffix=".lua")[1])
            script.write_text(
                LUA.replace("{ROUTES}", "{" + ",".join(f'"{r}"' for r in routes) + "}")
                .replace('"KEY"', f'"{key}"')
                .replace("BATCH", str(args.batch))
                .replace("PAUSE_MS", f"{pause_ms:.3f}")
                .replace("RUN", f"{name}-{secrets.token_hex(3)}")
            )
            load = os.getloadavg()
            pg_pids = pids_named("postgres")
            cpu0 = cpu_seconds(pids)
            pg0 = cpu_seconds(pg_pids)
            r = run_wrk(
                base,
                script,
                threads=args.threads,
                connections=connections,
                duration_s=args.warmup if name == "warmup" else args.duration,
            )
            cpu = cpu_seconds(pids) - cpu0
            pg_cpu = cpu_seconds(pg_pids) - pg0
            acked += (r["requests"] - r["non2xx"]) * args.batch
            slack += connections * args.batch
            script.unlink()
            if name == "warmup":
                continue
            row = report(name, r, args.batch, load)
            row["server_cpu_s"] = cpu
            ok = max(1, r["requests"] - r["non2xx"])
            print(
                f"{'':<10} CPU: server {cpu:.1f} s ({cpu / args.duration:.2f} cores, "
                f"{cpu / ok * 1000:.1f} ms/request), PostgreSQL {pg_cpu:.1f} s "
                f"({pg_cpu / ok * 1000:.1f} ms/request; every PostgreSQL process on the machine)"
            )
            rows.append(row)
        time.sleep(1)
        stored = stored_count(url, org_id)
        verdict = "ok" if acked <= stored <= acked + slack else "MISMATCH"
        print(
            f"stored check: {stored} pings in the database, {acked} acknowledged "
            f"(2xx x batch; requests cut off by wrk's stop may add up to {slack}): {verdict}"
        )
        paced = rows[0]
        met = (
            paced["pings_per_s"] >= 0.98 * args.rate * args.batch
            and paced["p99_ms"] <= 100
            and paced["non2xx"] == 0
        )
        print(
            f"target ({args.rate * args.batch:.0f} pings/s sustained, p99 <= 100 ms): "
            f"{'met' if met else 'NOT met'}"
        )
        return 0 if verdict == "ok" else 1
    finally:
        if proc is not None:
            uvicorn_server.stop(proc)
        if is_pg and not args.keep:
            with psycopg.connect(libpq(base_url), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    raise SystemExit(main())
