"""The users of benchmarks/sustained_load.py, as a locustfile (run by that script).

The scenario (base URL, token, routes, plan, server pids, timing) comes from the
JSON file named by ``SUSTAINED_SCENARIO``. Every ``minute_s`` seconds a line is
printed (and appended as JSON to ``SUSTAINED_MINUTES``): requests/s, p99 per
kind and overall, errors, live events received, and the API processes' RSS.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, constant_pacing, events, task
from locust.env import Environment

SCENARIO: dict[str, Any] = json.loads(Path(os.environ["SUSTAINED_SCENARIO"]).read_text())
MINUTES_OUT = Path(os.environ["SUSTAINED_MINUTES"])
HEADERS = {"Authorization": f"Bearer {SCENARIO['token']}"}
_route_numbers = itertools.count()


class Window:
    """What happened since the last report."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.live_events = 0
        self.pings = 0
        self.began = time.monotonic()


WINDOW = Window()


@events.request.add_listener
def _count(
    request_type: str, name: str, response_time: float, exception: Exception | None, **_: Any
) -> None:
    with WINDOW.lock:
        WINDOW.times.setdefault(name, []).append(response_time)
        if exception is not None:
            WINDOW.errors[name] = WINDOW.errors.get(name, 0) + 1


def rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` in MiB (0 when it is gone)."""
    try:
        for line in (Path("/proc") / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def api_processes(master: int) -> list[int]:
    """The uvicorn master and its worker processes (not the planning workers)."""
    found = [master]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == master and b"plans.worker" not in cmdline:
            found.append(int(entry.name))
    return found


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(0.99 * (len(s) - 1)))]


def _report(minute: int) -> None:
    with WINDOW.lock:
        times, errors = WINDOW.times, WINDOW.errors
        live, pings, span = WINDOW.live_events, WINDOW.pings, time.monotonic() - WINDOW.began
        WINDOW.reset()
    every = [t for values in times.values() for t in values]
    pids = api_processes(SCENARIO["server_pid"])
    rss = [round(rss_mib(pid), 1) for pid in pids]
    row = {
        "minute": minute,
        "requests_per_s": round(len(every) / span, 1),
        "pings_per_s": round(pings / span, 1),
        "p99_ms": round(p99(every), 1),
        "p99_ms_by_kind": {name: round(p99(values), 1) for name, values in sorted(times.items())},
        "requests_by_kind": {name: len(values) for name, values in sorted(times.items())},
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "live_events": live,
        "rss_mib": rss,  # the uvicorn master first, then its children
    }
    with MINUTES_OUT.open("a") as out:
        out.write(json.dumps(row) + "\n")
    kinds = "  ".join(f"{n} {row['p99_ms_by_kind'][n]:.0f}" for n in row["p99_ms_by_kind"])
    print(
        f"minute {minute:2d}: {row['requests_per_s']:6.1f} req/s ({row['pings_per_s']:.0f} pings/s)"
        f"  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}  live events {live}"
        f"  RSS MiB {rss}\n           p99 ms by kind: {kinds}",
        flush=True,
    )


_minutes = itertools.count(1)


@events.test_start.add_listener
def _start_reporting(environment: Environment, **_: Any) -> None:
    def loop() -> None:
        WINDOW.reset()
        while True:
            gevent.sleep(SCENARIO["minute_s"])
            _report(next(_minutes))

    gevent.spawn(loop)


@events.test_stopping.add_listener
def _report_the_rest(environment: Environment, **_: Any) -> None:
    """The last minute, when the run ends before its report (a loaded machine)."""
    if time.monotonic() - WINDOW.began > SCENARIO["minute_s"] / 2:
        _report(next(_minutes))


class Driver(HttpUser):
    """A driver on a started route: a batch of pings every ``ping_every_s`` seconds, and
    the route's stops reported (arrived, delivered) spread over the run."""

    fixed_count = SCENARIO["drivers"]
    wait_time = constant_pacing(SCENARIO["ping_every_s"])

    def on_start(self) -> None:
        route = SCENARIO["routes"][next(_route_numbers) % len(SCENARIO["routes"])]
        self.route_id = route["id"]
        self.stops = list(route["stops"])
        self.events: list[tuple[str, int]] = [
            (kind, seq) for seq in self.stops for kind in ("arrived", "delivered")
        ]
        run_s = SCENARIO["minutes"] * 60
        self.event_every = run_s / max(1, len(self.events))
        self.next_event = time.monotonic() + random.uniform(0, self.event_every)
        self.sent = 0
        self.lon, self.lat = route["lon"], route["lat"]

    @task
    def drive(self) -> None:
        now = dt.datetime.now(dt.UTC)
        pings = []
        for k in range(SCENARIO["ping_batch"]):
            self.lon += random.uniform(-2e-4, 2e-4)
            self.lat += random.uniform(-2e-4, 2e-4)
            self.sent += 1
            pings.append(
                {
                    "event_id": f"p-{self.route_id[:8]}-{self.sent}",
                    "at": (now - dt.timedelta(seconds=SCENARIO["ping_batch"] - k)).isoformat(),
                    "lon": round(self.lon, 6),
                    "lat": round(self.lat, 6),
                    "accuracy_m": 8.0,
                }
            )
        self.client.post(
            f"/routes/{self.route_id}/pings",
            json={"pings": pings},
            headers=HEADERS,
            name="pings",
        )
        with WINDOW.lock:
            WINDOW.pings += len(pings)
        if self.events and time.monotonic() >= self.next_event:
            kind, seq = self.events.pop(0)
            self.client.post(
                f"/routes/{self.route_id}/events",
                json={
                    "events": [
                        {
                            "event_id": f"e-{self.route_id[:8]}-{kind}-{seq}",
                            "kind": kind,
                            "sequence": seq,
                            "at": now.isoformat(),
                        }
                    ]
                },
                headers=HEADERS,
                name="stop event",
            )
            self.next_event += self.event_every


class Dashboard(HttpUser):
    """A dispatcher's live page: ``GET /live`` held open, reconnecting when it ends,
    and the plan read again every ``dashboard_read_every_s`` seconds."""

    fixed_count = SCENARIO["dashboards"]
    wait_time = between(0.5, 1.5)

    @task
    def listen(self) -> None:
        began = time.monotonic()
        with self.client.get(
            "/live", headers=HEADERS, stream=True, name="live (connect)", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
                return
            r.success()
            last_read = time.monotonic()
            for line in r.iter_lines():
                if line.startswith(b"event:"):
                    with WINDOW.lock:
                        WINDOW.live_events += 1
                if time.monotonic() - last_read > SCENARIO["dashboard_read_every_s"]:
                    self.client.get(
                        f"/plans/{SCENARIO['plan_id']}", headers=HEADERS, name="plan (read)"
                    )
                    last_read = time.monotonic()
                if time.monotonic() - began > SCENARIO["minutes"] * 60:
                    return


class Dispatcher(HttpUser):
    """An urgent order every ``insert_every_s`` seconds, inserted into the running plan."""

    fixed_count = 1
    wait_time = constant_pacing(SCENARIO["insert_every_s"])

    def on_start(self) -> None:
        self.n = 0

    @task
    def insert(self) -> None:
        self.n += 1
        start = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
        lon, lat = SCENARIO["depot"]
        body = {
            "external_id": f"urgent-{self.n}",
            "delivery": {
                "lon": round(lon + random.uniform(-0.05, 0.05), 6),
                "lat": round(lat + random.uniform(-0.03, 0.03), 6),
                "service_s": 180,
                "time_windows": [
                    {
                        "start": start.isoformat(),
                        "end": (start + dt.timedelta(hours=4)).isoformat(),
                    }
                ],
            },
            "amount": [1],
        }
        r = self.client.post("/orders", json=body, headers=HEADERS, name="order (create)")
        if r.status_code == 201:
            self.client.post(
                f"/plans/{SCENARIO['plan_id']}/orders",
                json={"order_id": r.json()["id"]},
                headers=HEADERS,
                name="insertion",
            )


class Planner(HttpUser):
    """A planning job for the next day every ``plan_every_s`` seconds, followed to its end,
    then its plan deleted (so the next job plans the same orders again)."""

    fixed_count = 1
    wait_time = constant_pacing(SCENARIO["plan_every_s"])

    @task
    def plan(self) -> None:
        r = self.client.post(
            "/plans",
            json={"date": SCENARIO["next_day"], "time_limit_s": SCENARIO["plan_seconds"]},
            headers=HEADERS,
            name="plan (submit)",
        )
        if r.status_code != 202:
            return
        plan_id = r.json()["id"]
        began = time.monotonic()
        while time.monotonic() - began < 3 * SCENARIO["plan_seconds"] + 60:
            gevent.sleep(2)
            job = self.client.get(f"/plans/{plan_id}/job", headers=HEADERS, name="plan (job)")
            status = job.json().get("status") if job.status_code == 200 else None
            if status in ("succeeded", "failed", "cancelled"):
                print(
                    f"planning job: {status} in {time.monotonic() - began:.0f} s "
                    f"(time limit {SCENARIO['plan_seconds']} s)"
                    + (f": {job.json().get('error')}" if status != "succeeded" else ""),
                    flush=True,
                )
                self.client.delete(f"/plans/{plan_id}", headers=HEADERS, name="plan (delete)")
                if status != "succeeded":
                    events.request.fire(
                        request_type="JOB",
                        name="planning job",
                        response_time=0,
                        response_length=0,
                        exception=RuntimeError(status),
                        context={},
                    )
                return
