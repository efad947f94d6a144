"""What the tracking routes share for the app's life: settings, the live-event
broker, durable write sessions, and work done after a response (fan-out, ETAs).

ETA refreshes asked for by pings run in one background task per process, one
route at a time, so no answer waits for them; stop events refresh their
route's ETAs right after their answer (they are rare, and the customer's
tracking page should follow at once).

The tracking router's lifespan builds a :class:`TrackingRuntime` into
``app.state.tracking`` after the app's own start-up (migrations) and closes it
before the app's shut-down. Set ``app.state.tracking_settings`` before start to
override the environment (tests do).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lastmile.service.tracking import arrivals, durability, eta
from lastmile.service.tracking.broker import Broker, make_broker
from lastmile.service.tracking.schemas import PingIn
from lastmile.service.tracking.settings import TrackingSettings
from lastmile.service.travel import ServiceTravel

logger = logging.getLogger(__name__)

#: Routes remembered by the per-process ETA throttle before it forgets the old ones.
_THROTTLE_SIZE = 10_000


@dataclass
class TrackingRuntime:
    """One per app: call :meth:`start` inside the event loop, :meth:`close` at the end."""

    settings: TrackingSettings
    broker: Broker
    #: Sessions whose commits are on disk when they return (see durability.durable_sessions).
    sessions: sessionmaker[Session]
    travel_model: ServiceTravel
    own_engine: Engine | None = None  # the sessions' engine, disposed at close
    #: The stops of routes whose ETAs were asked for lately (``GET /routes/{id}/eta``).
    route_stops: eta.RouteStopsCache = field(default_factory=eta.RouteStopsCache)
    #: The ETAs answered lately (``GET /routes/{id}/eta``, see ``eta_answer_fresh_s``).
    recent_etas: eta.RecentEtas = field(init=False)
    _next_refresh: dict[uuid.UUID, float] = field(default_factory=dict)
    _jitter: random.Random = field(default_factory=random.Random)
    #: Routes waiting for an ETA refresh: route -> (organisation, claim first).
    _pending: dict[uuid.UUID, tuple[uuid.UUID, bool]] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _worker: asyncio.Task[None] | None = None
    _closing: bool = False

    def __post_init__(self) -> None:
        self.recent_etas = eta.RecentEtas(self.settings.eta_answer_fresh_s)

    async def start(self) -> None:
        await self.broker.start()
        self._worker = asyncio.create_task(self._work(), name="lastmile-eta-refresh")

    async def close(self) -> None:
        # The refresh in progress (a worker thread with a database session) ends
        # before the engine is disposed of; the ones still queued are dropped.
        if self._worker is not None:
            self._closing = True
            self._wake.set()
            await self._worker
        await self.broker.close()
        if self.own_engine is not None:
            self.own_engine.dispose()

    def request_refresh(self, org_id: uuid.UUID, route_id: uuid.UUID, *, claim: bool) -> None:
        """Queue an ETA refresh for the route (one pending refresh per route)."""
        before = self._pending.get(route_id)
        self._pending[route_id] = (org_id, claim and (before is None or before[1]))
        self._wake.set()

    async def _work(self) -> None:
        """Refresh queued routes one at a time, away from the requests that asked:
        an answer never waits for an ETA computation."""
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            while self._pending and not self._closing:
                route_id, (org_id, claim) = self._pending.popitem()
                started = time.monotonic()
                try:
                    found = await run_in_threadpool(self._refresh, route_id, claim=claim)
                    await self.publish(org_id, found)
                except Exception:
                    logger.exception("ETA refresh of route %s failed", route_id)
                # At most half of the process's time: requests keep their latency
                # when many routes fall due together.
                if not self._closing:
                    await asyncio.sleep(time.monotonic() - started)

    def refresh_due(self, route_id: uuid.UUID) -> bool:
        """Whether this process should try to recompute the route's ETAs after a
        ping (cheap in-memory throttle; the database claim decides across processes).

        The next time is ``eta_refresh_s`` away give or take a quarter, so routes
        that started together do not all fall due in the same instant.
        """
        now = time.monotonic()
        due = self._next_refresh.get(route_id)
        if due is not None and now < due:
            return False
        if len(self._next_refresh) >= _THROTTLE_SIZE:
            self._next_refresh = {k: t for k, t in self._next_refresh.items() if t > now}
        every = self.settings.eta_refresh_s
        self._next_refresh[route_id] = now + every * self._jitter.uniform(0.75, 1.25)
        return True

    async def publish(self, org_id: uuid.UUID, events: list[dict[str, Any]]) -> None:
        for event in events:
            await self.broker.publish(org_id, event)

    async def after_pings(
        self,
        org_id: uuid.UUID,
        events: list[dict[str, Any]],
        route_id: uuid.UUID | None,
        fixes: Sequence[PingIn] = (),
    ) -> None:
        """After a ping batch is acknowledged: tell dashboards, detect arrivals
        and departures in the new ``fixes`` (recorded as stop events, which
        refresh the ETAs at once), else recompute the route's ETAs if they are
        older than ``eta_refresh_s``."""
        try:
            await self.publish(org_id, events)
        except Exception:
            logger.exception("live update after pings failed")
        if route_id is None:
            return
        if fixes:
            try:
                found = await run_in_threadpool(self._detect, route_id, fixes)
            except Exception:
                logger.exception("arrival detection on route %s failed", route_id)
            else:
                if found.recorded is not None:
                    await self.after_stop_events(org_id, found.recorded.live, route_id)
                    return
        if self.refresh_due(route_id):
            self.request_refresh(org_id, route_id, claim=True)

    def _detect(self, route_id: uuid.UUID, fixes: Sequence[PingIn]) -> arrivals.Detected:
        with self.sessions() as session:
            return arrivals.detect_arrivals(session, route_id=route_id, fixes=fixes)

    async def after_stop_events(
        self, org_id: uuid.UUID, events: list[dict[str, Any]], route_id: uuid.UUID
    ) -> None:
        """After stop events are acknowledged: tell dashboards, recompute ETAs."""
        try:
            await self.publish(org_id, events)
            found = await run_in_threadpool(self._refresh, route_id, claim=False)
            await self.publish(org_id, found)
        except Exception:
            logger.exception("live update after stop events failed")

    def _refresh(self, route_id: uuid.UUID, *, claim: bool) -> list[dict[str, Any]]:
        with self.sessions() as session:
            if claim and not eta.claim_eta_refresh(
                session, route_id=route_id, every_s=self.settings.eta_refresh_s
            ):
                return []
            return eta.refresh_eta(
                session,
                route_id=route_id,
                travel_model=self.travel_model,
                margin_s=self.settings.late_margin_s,
            )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: TrackingSettings = getattr(app.state, "tracking_settings", None) or TrackingSettings()
    sessions, own_engine = durability.durable_sessions(app.state.engine)
    runtime = TrackingRuntime(
        settings=settings,
        broker=make_broker(settings.redis_url, prefix=settings.redis_channel_prefix),
        sessions=sessions,
        travel_model=app.state.travel_model,
        own_engine=own_engine,
    )
    await runtime.start()
    app.state.tracking = runtime
    try:
        yield
    finally:
        await runtime.close()
