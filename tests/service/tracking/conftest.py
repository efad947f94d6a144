"""Shared by the tracking route tests: each test module gets its own dispatched
plan (``tw``: two routes, d1's and d2's), because the tests move its orders
through their lifecycle."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]


@pytest.fixture(scope="module")
def tw(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def route_of(world: World, who: str) -> dict[str, Any]:
    driver = str(world.tenant.driver_ids[who])
    return next(r for r in world.plan["routes"] if r["driver_id"] == driver)


def pings(prefix: str, n: int, *, start_min: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{k}",
            "at": f"{DAY}T{9 + (start_min + k) // 60:02d}:{(start_min + k) % 60:02d}:00+02:00",
            "lon": 2.30 + 0.0005 * k,
            "lat": 48.85,
            "speed_kph": 25.0,
            "heading_deg": 90.0,
        }
        for k in range(n)
    ]
