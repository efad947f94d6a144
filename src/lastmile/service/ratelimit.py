"""A small in-process rate limiter (sliding window log per key).

Keys are strings such as ``"login:203.0.113.7:ann@example.com"``. Limits hold
per API process; several processes behind a balancer each count on their own,
which still bounds guessing to ``limit x processes`` per window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from lastmile.service.errors import TooManyRequests


class RateLimiter:
    """At most ``limit`` hits per ``window_s`` seconds for each key."""

    def __init__(
        self,
        *,
        limit: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if limit <= 0:
            raise ValueError(f"limit must be > 0, got {limit}")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, *, what: str = "requests") -> None:
        """Count one hit for ``key``; raise :class:`TooManyRequests` over the limit."""
        now = self._clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                if len(self._hits) >= self._max_keys:
                    self._evict(now)
                hits = self._hits[key] = deque()
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                retry = max(1, int(hits[0] + self.window_s - now + 0.999))
                raise TooManyRequests(
                    f"too many {what}: at most {self.limit} per {self.window_s:g} s; "
                    f"retry in {retry} s",
                    retry_after_s=retry,
                )
            hits.append(now)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()

    def _evict(self, now: float) -> None:
        stale = [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]
        for k in stale:
            del self._hits[k]
        if len(self._hits) >= self._max_keys:
            # Still full of live keys: drop the oldest half rather than grow without bound.
            for k in sorted(self._hits, key=lambda k: self._hits[k][-1])[: self._max_keys // 2]:
                del self._hits[k]
