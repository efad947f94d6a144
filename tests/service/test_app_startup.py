"""What the app does once at start-up, beyond its routes."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from lastmile.service import app as app_module


def test_garbage_collection_skips_startup_objects_and_runs_less_often(client: TestClient) -> None:
    # the client fixture has run the app's start-up
    assert client.get("/health").status_code == 200
    assert app_module._frozen
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold() == app_module.GC_THRESHOLDS
