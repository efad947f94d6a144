"""The per-process store of live views: lifetime, fingerprint, eviction."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

import numpy as np

from lastmile.service.replan.views import CachedView, LiveViews

T0 = dt.datetime(2025, 5, 2, 8, tzinfo=dt.UTC)


def view(key: Any, size: int, built: dt.datetime = T0, ttl_s: float = 30) -> CachedView:
    """A view whose matrices take ``2 * size**2 * 8`` bytes."""
    m = SimpleNamespace(durations=np.zeros((size, size)), distances=np.zeros((size, size)))
    problem = SimpleNamespace(matrices={"car": m, "bike": m})
    live = SimpleNamespace(problem=problem, residual=problem)
    return CachedView(
        key,
        built,
        built + dt.timedelta(seconds=ttl_s),
        None,
        live,
        {},  # type: ignore[arg-type]
    )


def test_a_view_is_found_only_with_its_key_and_within_its_life() -> None:
    views = LiveViews(ttl_s=30)
    plan = uuid.uuid4()
    views.put(plan, view(("k", 1), 4))
    assert views.get(plan, ("k", 1), T0 + dt.timedelta(seconds=10)) is not None
    assert views.get(plan, ("k", 2), T0) is None  # something it was built from changed
    assert views.get(plan, ("k", 1), T0 + dt.timedelta(seconds=31)) is None  # too old
    assert views.get(plan, ("k", 1), T0 - dt.timedelta(seconds=1)) is None  # clock went back
    assert (views.hits, views.misses) == (1, 3)
    views.forget(plan)
    assert views.get(plan, ("k", 1), T0) is None and len(views) == 0


def test_least_recently_used_views_go_first_by_count_and_by_memory() -> None:
    views = LiveViews(ttl_s=30, max_plans=3, max_bytes=5 * 2 * 100 * 100 * 8)
    plans = [uuid.uuid4() for _ in range(5)]
    for p in plans[:3]:
        views.put(p, view(p, 100))
    views.get(plans[0], plans[0], T0)  # used: now the most recent
    views.put(plans[3], view(plans[3], 100))
    assert len(views) == 3
    assert views.get(plans[1], plans[1], T0) is None  # the least recently used went
    # One large view pushes out the others; a view larger than the bound alone stays.
    views.put(plans[4], view(plans[4], 300))
    assert len(views) == 1 and views.get(plans[4], plans[4], T0) is not None
    assert views.nbytes == 2 * 300 * 300 * 8


def test_a_ttl_of_zero_keeps_nothing() -> None:
    views = LiveViews(ttl_s=0)
    assert not views.enabled
    plan = uuid.uuid4()
    views.put(plan, view("k", 2, ttl_s=0))
    assert len(views) == 0
