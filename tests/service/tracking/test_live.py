"""The live event stream (server-sent events) and its fan-out between API processes.

Servers here are real uvicorn servers on loopback ports, sharing the test
database. The Redis tests use ``LASTMILE_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/0``): skipped with the reason when Redis is not
reachable, failed instead under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import queue
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service.app import create_app
from lastmile.service.tracking.broker import InProcessBroker, RedisBroker
from lastmile.service.tracking.settings import TrackingSettings

from ..conftest import DAY, World, build_world, make_settings  # type: ignore[import-not-found]

REDIS_URL = os.environ.get("LASTMILE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WAIT_S = 15.0


def _redis_error() -> str | None:
    """Why Redis cannot be used (None when it can)."""
    try:
        import redis
    except ImportError as exc:
        return f"the redis package is not installed: {exc}"
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"Redis is not reachable at {REDIS_URL}: {exc}"
    return None


@pytest.fixture(scope="session")
def redis_url() -> str:
    problem = _redis_error()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (CI=true: the Redis tests must run)")
        pytest.skip(f"{problem}; the Redis fan-out tests are skipped")
    return REDIS_URL


@pytest.fixture(scope="module")
def lw(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def live_app(database_url: str, **tracking: Any) -> FastAPI:
    app = create_app(make_settings(database_url, planning_executor="thread"), geocode=None)
    app.state.tracking_settings = TrackingSettings(live_heartbeat_s=0.2, **tracking)
    return app


class Stream:
    """A dashboard: reads ``GET /live`` in a thread and queues the events."""

    def __init__(self, base: str, token: str, **params: str) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []  # every event received, in order
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base, token, params), daemon=True)
        self._thread.start()
        hello = self.next(lambda e: e["type"] == "hello")
        self.broker = hello["broker"]

    def _run(self, base: str, token: str, params: dict[str, str]) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(timeout=WAIT_S) as http,
            http.stream("GET", f"{base}/live", headers=headers, params=params) as response,
        ):
            if response.status_code != 200:
                self.events.put({"type": "error", "status": response.status_code})
                return
            kind = ""
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event: "):
                    kind = line[len("event: ") :]
                elif line.startswith("data: "):
                    event = json.loads(line[len("data: ") :])
                    assert event["type"] == kind
                    self.seen.append(event)
                    self.events.put(event)

    def next(self, match: Any, *, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """The next event ``match`` accepts (others are skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no matching live event arrived"
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            assert event["type"] != "error", event
            if match(event):
                return event

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def stream(base: str, token: str, **params: str) -> Iterator[Stream]:
    s = Stream(base, token, **params)
    try:
        yield s
    finally:
        s.close()


def route_id(world: World, who: str) -> str:
    driver = str(world.tenant.driver_ids[who])
    return next(r["id"] for r in world.plan["routes"] if r["driver_id"] == driver)


def post_pings(base: str, world: World, who: str, prefix: str, minute: int) -> dict[str, Any]:
    body = {
        "pings": [
            {
                "event_id": f"{prefix}-{k}",
                "at": f"{DAY}T11:{minute:02d}:{k:02d}+02:00",
                "lon": 2.33 + 0.001 * k,
                "lat": 48.86,
            }
            for k in range(5)
        ]
    }
    r = httpx.post(
        f"{base}/routes/{route_id(world, who)}/pings",
        json=body,
        headers=world.tenant.headers(who),
        timeout=WAIT_S,
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_dashboards_see_positions_stop_events_and_etas(database_url: str, lw: World) -> None:
    t = lw.tenant
    d1, d2 = route_id(lw, "d1"), route_id(lw, "d2")
    with (
        serve(live_app(database_url)) as base,
        stream(base, t.tokens["dispatcher"]) as everything,
        stream(base, t.tokens["admin"], route_id=d2) as only_d2,
    ):
        assert everything.broker == "in-process"
        post_pings(base, lw, "d1", "live-a", 1)
        position = everything.next(lambda e: e["type"] == "position")
        assert position["route_id"] == d1 and position["count"] == 5
        assert position["at"].startswith(f"{DAY}T09:01:04")  # the newest fix, in UTC
        # Pings recompute the route's ETAs once per refresh interval.
        eta = everything.next(lambda e: e["type"] == "eta")
        assert eta["route_id"] == d1 and eta["origin"] == "position"

        visit = next(v for v in lw.plan["routes"] if v["id"] == d2)["visits"][1]
        r = httpx.post(
            f"{base}/routes/{d2}/events",
            json={
                "events": [
                    {
                        "event_id": "live-s1",
                        "kind": "delivered",
                        "sequence": visit["sequence"],
                        "at": f"{DAY}T11:05:00+02:00",
                    }
                ]
            },
            headers=t.headers("d2"),
            timeout=WAIT_S,
        )
        assert r.status_code == 200, r.text
        # The filtered stream saw nothing of d1: its first event is d2's.
        first = only_d2.next(lambda e: e["type"] != "hello")
        assert first["type"] == "stop_event" and first["route_id"] == d2
        assert first["order_status"] == "completed"
        assert only_d2.next(lambda e: e["type"] == "route_status")["status"] == "started"
        after = only_d2.next(lambda e: e["type"] == "eta")
        assert after["done"] == 1
        # The plan's day is long gone: the remaining stops are announced late.
        late = only_d2.next(lambda e: e["type"] == "late")
        assert late["route_id"] == d2 and late["slack_s"] < 0


def test_drivers_follow_only_their_own_route(database_url: str, lw: World) -> None:
    t = lw.tenant
    d1, d2 = route_id(lw, "d1"), route_id(lw, "d2")
    with serve(live_app(database_url)) as base:
        for who, params, code in (
            ("d1", {}, 403),  # a driver names their route
            ("d1", {"route_id": d2}, 403),  # another driver's route
            ("d1", {"route_id": str(uuid.uuid4())}, 404),
        ):
            r = httpx.get(f"{base}/live", params=params, headers=t.headers(who), timeout=WAIT_S)
            assert r.status_code == code, (who, params, r.text)
            assert r.json()["detail"]
        r = httpx.get(f"{base}/live", params={"route_id": d1}, timeout=WAIT_S)
        assert r.status_code == 401
        with stream(base, t.tokens["d1"], route_id=d1) as mine:
            post_pings(base, lw, "d2", "live-d2", 30)
            post_pings(base, lw, "d1", "live-d1", 31)
            first = mine.next(lambda e: e["type"] != "hello")
            assert first["type"] == "position" and first["route_id"] == d1
            assert all(e.get("route_id") == d1 for e in mine.seen if e["type"] != "hello")


def test_a_drivers_route_changed_by_re_planning_is_announced(database_url: str, lw: World) -> None:
    t = lw.tenant
    app = live_app(database_url)
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=ZoneInfo("Europe/Paris"))
    app.state.clock = lambda: moment
    routes = {route_id(lw, who): who for who in ("d1", "d2")}
    with (
        serve(app) as base,
        stream(base, t.tokens["d1"], route_id=route_id(lw, "d1")) as d1,
        stream(base, t.tokens["d2"], route_id=route_id(lw, "d2")) as d2,
    ):
        urgent = t.order(70, external_id="URGENT-70")
        r = httpx.post(
            f"{base}/plans/{lw.plan['id']}/orders",
            json={"order_id": urgent["id"]},
            headers=t.headers("dispatcher"),
            timeout=WAIT_S,
        )
        assert r.status_code == 200 and r.json()["applied"], r.text
        (changed,) = [rt["id"] for rt in r.json()["routes"] if urgent["id"] in str(rt)]
        follows = {"d1": d1, "d2": d2}[routes[changed]]
        event = follows.next(lambda e: e["type"] == "plan")
        assert event["route_id"] == changed and event["plan_id"] == lw.plan["id"]
        assert event["change_id"] == r.json()["change"]["id"]
        assert "URGENT-70" in event["summary"]


def test_a_move_is_announced_to_the_driver_of_the_route_it_rewrote(
    database_url: str, lw: World
) -> None:
    t = lw.tenant
    app = live_app(database_url)
    moment = dt.datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=ZoneInfo("Europe/Paris"))
    app.state.clock = lambda: moment
    d1_route = route_id(lw, "d1")
    plan = t.ok("get", f"/plans/{lw.plan['id']}")
    stops = [
        v["order_id"]
        for r in plan["routes"]
        if r["id"] == d1_route
        for v in r["visits"]
        if v["order_id"]
    ]
    # The route's last stop changes places with the one before it (its goods are on
    # this van whether or not it has left: a change of order on the same vehicle).
    with serve(app) as base, stream(base, t.tokens["d1"], route_id=d1_route) as d1:
        r = httpx.post(
            f"{base}/plans/{lw.plan['id']}/moves",
            json={"order_id": stops[-1], "to_route_id": d1_route, "position": len(stops) - 2},
            headers=t.headers("dispatcher"),
            timeout=WAIT_S,
        )
        assert r.status_code == 200 and r.json()["applied"], r.text
        event = d1.next(lambda e: e["type"] == "plan")
        assert event["route_id"] == d1_route
        assert event["change_id"] == r.json()["change"]["id"]


def test_the_live_stream_needs_a_caller(database_url: str, lw: World) -> None:
    with serve(live_app(database_url)) as base:
        r = httpx.get(f"{base}/live", timeout=WAIT_S)
        assert r.status_code == 401


@pytest.mark.service
def test_two_api_processes_share_events_through_redis(
    database_url: str, lw: World, redis_url: str
) -> None:
    prefix = f"lastmile-test-{secrets.token_hex(4)}:"
    settings = {"redis_url": redis_url, "redis_channel_prefix": prefix}
    t = lw.tenant
    with (
        serve(live_app(database_url, **settings)) as a,
        serve(live_app(database_url, **settings)) as b,
        stream(b, t.tokens["dispatcher"]) as on_b,
        stream(a, t.tokens["admin"]) as on_a,
    ):
        assert on_a.broker == on_b.broker == "redis"
        d1, d2 = route_id(lw, "d1"), route_id(lw, "d2")
        post_pings(a, lw, "d1", "redis-a", 20)
        assert on_b.next(lambda e: e["type"] == "position")["route_id"] == d1
        post_pings(b, lw, "d2", "redis-b", 21)
        assert on_a.next(lambda e: e["type"] == "position" and e["route_id"] == d2)
        on_b.next(lambda e: e["type"] == "position" and e["route_id"] == d2)
        time.sleep(0.5)
        # Each process got each batch's event once (its own came back through
        # Redis, not twice).
        for seen in (on_a.seen, on_b.seen):
            positions = [e["route_id"] for e in seen if e["type"] == "position"]
            assert sorted(positions) == sorted([d1, d2]), positions


def test_in_process_broker_fans_out_per_organisation() -> None:
    async def scenario() -> None:
        broker = InProcessBroker()
        org, other = uuid.uuid4(), uuid.uuid4()
        async with (
            broker.subscribe(org) as s1,
            broker.subscribe(org) as s2,
            broker.subscribe(other) as s3,
        ):
            await broker.publish(org, {"type": "x", "n": 1})
            assert (
                (await s1.get(timeout_s=1)) == (await s2.get(timeout_s=1)) == {"type": "x", "n": 1}
            )
            assert await s3.get(timeout_s=0.05) is None
        assert broker.subscriber_count == 0

    asyncio.run(scenario())


def test_a_slow_subscriber_loses_the_oldest_events_and_knows_it() -> None:
    async def scenario() -> None:
        broker = InProcessBroker()
        org = uuid.uuid4()
        async with broker.subscribe(org) as sub:
            for n in range(1005):
                await broker.publish(org, {"type": "x", "n": n})
            assert sub.dropped == 5
            first = await sub.get(timeout_s=1)
            assert first is not None and first["n"] == 5

    asyncio.run(scenario())


@pytest.mark.service
def test_redis_brokers_deliver_each_event_once(redis_url: str) -> None:
    async def scenario() -> None:
        prefix = f"lastmile-test-{secrets.token_hex(4)}:"
        one, two = RedisBroker(redis_url, prefix=prefix), RedisBroker(redis_url, prefix=prefix)
        await one.start()
        await two.start()
        org = uuid.uuid4()
        try:
            async with one.subscribe(org) as s1, two.subscribe(org) as s2:
                await one.publish(org, {"type": "x", "n": 1})
                assert await s1.get(timeout_s=5) == {"type": "x", "n": 1}
                assert await s2.get(timeout_s=5) == {"type": "x", "n": 1}
                assert await s1.get(timeout_s=0.2) is None  # once, not twice
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_a_misconfigured_redis_stops_the_start() -> None:
    async def scenario() -> None:
        broker = RedisBroker("redis://127.0.0.1:1/0")
        with pytest.raises(Exception, match=r"(?i)connect"):
            await broker.start()
        await broker.close()

    asyncio.run(scenario())
