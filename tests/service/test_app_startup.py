"""What the app does once at start-up, beyond its routes."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from lastmile.service import app as app_module


def test_startup_objects_are_kept_out_of_garbage_collection_scans(client: TestClient) -> None:
    # the client fixture has run the app's start-up
    assert client.get("/health").status_code == 200
    assert app_module._frozen
    assert gc.get_freeze_count() > 10_000
