"""The scheduled refit: an in-process periodic task, off by default.

With ``learn_interval_s`` > 0 and a road network, the router's lifespan starts a
task that calls :func:`~lastmile.service.learning.service.learn_all` in a worker
thread every ``learn_interval_s`` seconds (the first run one interval after
start-up). Several API processes each run their own; a fit is idempotent (it
reads the same trips and stores a new revision), so that costs CPU only: run the
schedule on one process (set the interval elsewhere to 0). At shut-down a fit in
progress is finished first.

Set ``app.state.learning_settings`` before the app starts to override the
environment (tests do).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from lastmile.service.learning import service
from lastmile.service.learning.settings import LearningSettings

log = logging.getLogger(__name__)


async def learning_settings(request: Request) -> LearningSettings:
    """The app's learning settings (see the module docstring)."""
    found: LearningSettings | None = getattr(request.app.state, "learning_settings", None)
    if found is None:
        found = LearningSettings()
        request.app.state.learning_settings = found
    return found


async def _every(app: FastAPI, settings: LearningSettings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=settings.learn_interval_s)
            return
        except TimeoutError:
            pass
        try:
            done = await run_in_threadpool(
                service.learn_all,
                app.state.sessionmaker,
                travel=app.state.travel_model,
                settings=settings,
            )
            log.info("scheduled traffic learning: %d organisation(s) refitted", done)
        except Exception:
            log.exception("scheduled traffic learning failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: LearningSettings = getattr(app.state, "learning_settings", None) or (
        LearningSettings()
    )
    app.state.learning_settings = settings
    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    if settings.learn_interval_s > 0 and app.state.travel_model.on_roads:
        task = asyncio.create_task(_every(app, settings, stop), name="lastmile-learn-traffic")
    try:
        yield
    finally:
        # A fit in progress (a worker thread with a database session) ends before the
        # app's engine is disposed of.
        stop.set()
        if task is not None:
            await task
