"""The scheduler: one periodic task per API process, started with the app.

Every ``automation_tick_s`` seconds (0: no scheduler in this process) it calls
:func:`~lastmile.service.automation.service.run_due` in a worker thread, which
creates the plans whose set time has come. Several processes may run it: the
claim in the database lets one of them act per organisation and day.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from lastmile.service.automation import service
from lastmile.service.settings import Settings

log = logging.getLogger(__name__)


def tick(app: FastAPI) -> list[uuid.UUID]:
    """One look at the clock: create the plans due now; returns them."""
    settings: Settings = app.state.settings
    return service.run_due(
        app.state.sessionmaker, settings=settings, submit=app.state.job_runner.submit
    )


async def _every(app: FastAPI, interval_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        try:
            created = await run_in_threadpool(tick, app)
            if created:
                log.info("scheduled planning: %d plan(s) created", len(created))
        except Exception:  # the database may be away for a while; try at the next tick
            log.exception("scheduled planning failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    if settings.automation_tick_s > 0:
        task = asyncio.create_task(
            _every(app, settings.automation_tick_s, stop), name="lastmile-automation"
        )
    try:
        yield
    finally:
        # A run in progress (a worker thread with a database session) ends before the
        # app's engine is disposed of.
        stop.set()
        if task is not None:
            await task
