"""What the tracking routes share for the app's life: settings, the live-event
broker, durable write sessions, and work done after a response (fan-out, ETAs).

The tracking router's lifespan builds a :class:`TrackingRuntime` into
``app.state.tracking`` after the app's own start-up (migrations) and closes it
before the app's shut-down. Set ``app.state.tracking_settings`` before start to
override the environment (tests do).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from lastmile.service.tracking import service
from lastmile.service.tracking.broker import Broker, make_broker
from lastmile.service.tracking.settings import TrackingSettings
from lastmile.travel import TravelModel

logger = logging.getLogger(__name__)

#: Routes remembered by the per-process ETA throttle before it forgets the old ones.
_THROTTLE_SIZE = 10_000


@dataclass
class TrackingRuntime:
    settings: TrackingSettings
    broker: Broker
    #: Sessions whose commits are on disk when they return (see service.durable_sessions).
    sessions: sessionmaker[Session]
    travel_model: TravelModel
    own_engine: Engine | None = None
    _last_refresh: dict[uuid.UUID, float] = field(default_factory=dict)

    def refresh_due(self, route_id: uuid.UUID) -> bool:
        """Whether this process should try to recompute the route's ETAs after a
        ping (cheap in-memory throttle; the database claim decides across processes)."""
        now = time.monotonic()
        last = self._last_refresh.get(route_id)
        if last is not None and now - last < self.settings.eta_refresh_s:
            return False
        if len(self._last_refresh) >= _THROTTLE_SIZE:
            cutoff = now - self.settings.eta_refresh_s
            self._last_refresh = {k: t for k, t in self._last_refresh.items() if t >= cutoff}
        self._last_refresh[route_id] = now
        return True

    async def publish(self, org_id: uuid.UUID, events: list[dict[str, Any]]) -> None:
        for event in events:
            await self.broker.publish(org_id, event)

    async def after_pings(
        self, org_id: uuid.UUID, events: list[dict[str, Any]], route_id: uuid.UUID | None
    ) -> None:
        """After a ping batch is acknowledged: tell dashboards, and recompute the
        route's ETAs if they are older than ``eta_refresh_s``."""
        try:
            await self.publish(org_id, events)
            if route_id is not None and self.refresh_due(route_id):
                found = await run_in_threadpool(self._refresh, route_id, claim=True)
                await self.publish(org_id, found)
        except Exception:
            logger.exception("live update after pings failed")

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
            if claim and not service.claim_eta_refresh(
                session, route_id=route_id, every_s=self.settings.eta_refresh_s
            ):
                return []
            return service.refresh_eta(
                session,
                route_id=route_id,
                travel_model=self.travel_model,
                margin_s=self.settings.late_margin_s,
            )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: TrackingSettings = getattr(app.state, "tracking_settings", None) or TrackingSettings()
    broker = make_broker(settings.redis_url, prefix=settings.redis_channel_prefix)
    await broker.start()
    sessions, own_engine = service.durable_sessions(app.state.engine)
    app.state.tracking = TrackingRuntime(
        settings=settings,
        broker=broker,
        sessions=sessions,
        travel_model=app.state.travel_model,
        own_engine=own_engine,
    )
    try:
        yield
    finally:
        await broker.close()
        if own_engine is not None:
            own_engine.dispose()
