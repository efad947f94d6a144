"""Live views kept between re-planning requests.

Building a plan's live view reads the plan, its orders, fleet and stop events
from the database, computes the travel matrix and forecasts and validates every
route: hundreds of milliseconds at 1,000 stops, while inserting an order into a
built view takes milliseconds. So each API process keeps the views of the plans
it re-planned recently, each under a *fingerprint* of what it was built from
(plan status and routes, the count of changes made to the plan, stop events on
started routes, the organisation's settings and its ``planning_revision``, which
every write to the fleet, depots or orders' stops raises), read again by every
request (two small queries). A view is used only while its fingerprint is
unchanged and for at most ``ttl_s`` seconds; it is built *as of* the end of that
life (vehicles ready no earlier than then), so whatever is planned from it can
still be driven at any moment the view is used. GPS fixes received meanwhile are
taken at the next rebuild.

A change made from a view is kept, once committed, with the view it produced,
under the fingerprint it leaves (one more change counted), so the next request
starts from it.
With several API processes each keeps its own views; the fingerprint makes them
agree with the database.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from lastmile.domain import VisitKind
from lastmile.planning.live import LivePlan
from lastmile.service.plans.snapshot import Snapshot


@dataclass(frozen=True)
class CachedView:
    """A live view and what it was built from."""

    key: tuple[Any, ...]
    #: The request clock when it was built, and the moment it is built as of.
    built_at: dt.datetime
    valid_until: dt.datetime
    snapshot: Snapshot
    live: LivePlan
    #: orders behind each started vehicle, by (order id, visit kind)
    done: dict[str, set[tuple[str, VisitKind]]]


def _nbytes(view: CachedView) -> int:
    """What the view's matrices take (the bulk of its memory)."""
    arrays = {}
    for problem in (view.live.problem, view.live.residual):
        for m in problem.matrices.values():
            for a in (m.durations, m.distances):
                whole = a.base if isinstance(a.base, np.ndarray) else a  # a view: its buffer
                arrays[id(whole)] = whole.nbytes
    return sum(arrays.values())


class LiveViews:
    """The recent live views of one process: at most ``max_plans`` of them, and
    at most ``max_bytes`` of matrices (a 1,000-stop view holds about 40 MB);
    the least recently used goes first."""

    def __init__(self, *, ttl_s: float, max_plans: int = 8, max_bytes: int = 512 * 2**20) -> None:
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.max_plans = max_plans
        self.max_bytes = max_bytes
        self._views: OrderedDict[uuid.UUID, CachedView] = OrderedDict()
        self._sizes: dict[uuid.UUID, int] = {}
        self._lock = threading.Lock()
        self._plan_locks: dict[uuid.UUID, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def plan_lock(self, plan_id: uuid.UUID) -> threading.Lock:
        """The lock that serialises changes to ``plan_id`` within this process."""
        with self._lock:
            found = self._plan_locks.get(plan_id)
            if found is None:
                found = self._plan_locks[plan_id] = threading.Lock()
            return found

    @property
    def nbytes(self) -> int:
        return sum(self._sizes.values())

    @property
    def enabled(self) -> bool:
        return self.ttl > dt.timedelta(0)

    def get(self, plan_id: uuid.UUID, key: tuple[Any, ...], now: dt.datetime) -> CachedView | None:
        """The view of ``plan_id`` if it was built from ``key`` and is still alive at ``now``."""
        with self._lock:
            found = self._views.get(plan_id)
            if found is None or found.key != key or not found.built_at <= now <= found.valid_until:
                self.misses += 1
                return None
            self._views.move_to_end(plan_id)
            self.hits += 1
            return found

    def put(self, plan_id: uuid.UUID, view: CachedView) -> None:
        if not self.enabled:
            return
        size = _nbytes(view)
        with self._lock:
            self._views[plan_id] = view
            self._sizes[plan_id] = size
            self._views.move_to_end(plan_id)
            while len(self._views) > 1 and (
                len(self._views) > self.max_plans or sum(self._sizes.values()) > self.max_bytes
            ):
                gone, _ = self._views.popitem(last=False)
                del self._sizes[gone]

    def forget(self, plan_id: uuid.UUID) -> None:
        with self._lock:
            self._views.pop(plan_id, None)
            self._sizes.pop(plan_id, None)

    def __len__(self) -> int:
        return len(self._views)
