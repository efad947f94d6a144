"""Live event fan-out: a :class:`Broker` delivers each organisation's events to every
dashboard subscribed to it.

* :class:`InProcessBroker` (the default) delivers within one API process.
* :class:`RedisBroker` publishes through Redis pub/sub, so dashboards connected
  to any API process see events posted to any other. Every process listens to
  one pattern (``<prefix>*``) on one connection and fans out locally; a
  process's own events come back through Redis too, so none is delivered twice.

Delivery is best-effort by design: the database holds the durable truth
(pings, stop events, ETAs); the stream only tells dashboards what changed.
A subscriber that falls behind by more than its queue loses the oldest
events and is told so with a ``lagged`` event; a Redis outage loses what is
published meanwhile, and the listener reconnects on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

logger = logging.getLogger(__name__)

#: Events a subscriber may have waiting before the oldest are dropped.
QUEUE_SIZE = 1000


class Subscription:
    """Events of one organisation for one subscriber, in publication order."""

    def __init__(self, org_id: uuid.UUID, *, size: int = QUEUE_SIZE) -> None:
        self.org_id = org_id
        self.dropped = 0
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)

    def deliver(self, event: dict[str, Any]) -> None:
        """Queue ``event``; when full, drop the oldest (counted in ``dropped``)."""
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._queue.get_nowait()
                    self.dropped += 1

    async def get(self, *, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The next event, or None after ``timeout_s`` without one."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return None


class Broker(Protocol):
    """Publishes events per organisation and hands out subscriptions.

    ``start``/``close`` bracket the app's life; ``publish`` never raises for a
    delivery problem (it logs it): a live stream must not fail a write that
    is already committed.
    """

    name: str

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, org_id: uuid.UUID, event: dict[str, Any]) -> None: ...

    def subscribe(self, org_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """A subscription to ``org_id``'s events while the context is open."""
        ...


class InProcessBroker:
    """Fan-out inside one process (one event loop)."""

    name = "in-process"

    def __init__(self) -> None:
        self._subscribers: dict[uuid.UUID, set[Subscription]] = {}

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self._subscribers.clear()

    async def publish(self, org_id: uuid.UUID, event: dict[str, Any]) -> None:
        self.deliver(org_id, event)

    def deliver(self, org_id: uuid.UUID, event: dict[str, Any]) -> None:
        for sub in tuple(self._subscribers.get(org_id, ())):
            sub.deliver(event)

    @property
    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    @contextlib.asynccontextmanager
    async def subscribe(self, org_id: uuid.UUID) -> AsyncIterator[Subscription]:
        sub = Subscription(org_id)
        self._subscribers.setdefault(org_id, set()).add(sub)
        try:
            yield sub
        finally:
            subs = self._subscribers.get(org_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[org_id]


class RedisBroker:
    """Fan-out across processes through Redis pub/sub (``redis.asyncio``).

    Channel per organisation: ``<prefix><org_id>``; the message is the event
    as JSON. :meth:`start` fails when Redis cannot be reached (a misconfigured
    URL should stop the service, not silently isolate it); later outages are
    logged and retried.
    """

    name = "redis"

    def __init__(self, url: str, *, prefix: str = "lastmile:live:") -> None:
        self.url = url
        self.prefix = prefix
        self._local = InProcessBroker()
        self._client: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.Redis.from_url(self.url)
        await self._client.ping()
        self._reader = asyncio.create_task(self._listen(), name="lastmile-redis-listener")
        # Subscribed before the app takes requests: nothing published after
        # start-up is missed by this process.
        await asyncio.wait_for(self._ready.wait(), 10)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await self._local.close()

    async def publish(self, org_id: uuid.UUID, event: dict[str, Any]) -> None:
        try:
            await self._client.publish(f"{self.prefix}{org_id}", json.dumps(event))
        except Exception:
            logger.exception("live event not published to Redis")

    def subscribe(self, org_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager[Subscription]:
        return self._local.subscribe(org_id)

    async def _listen(self) -> None:
        delay_s = 0.5
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(f"{self.prefix}*")
                self._ready.set()
                delay_s = 0.5
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None and message.get("type") == "pmessage":
                        self._dispatch(message)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
            except Exception:
                logger.exception("Redis listener failed; reconnecting in %.1f s", delay_s)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 10.0)

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        try:
            org_id = uuid.UUID(channel[len(self.prefix) :])
            event = json.loads(message["data"])
        except (ValueError, TypeError):
            logger.warning("ignoring malformed live event on %s", channel)
            return
        self._local.deliver(org_id, event)


def make_broker(redis_url: str, *, prefix: str = "lastmile:live:") -> Broker:
    """Redis fan-out when ``redis_url`` is set, otherwise in-process."""
    if redis_url:
        return RedisBroker(redis_url, prefix=prefix)
    return InProcessBroker()
