"""An exception no handler knows: a logged 500 in the error shape, and the
connection stays open for the next request (uvicorn closes a connection whose
application raised, which clients saw as a reset)."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from lastmile.service.app import create_app

from .conftest import make_settings  # type: ignore[import-not-found]
from .tracking.test_live import serve  # type: ignore[import-not-found]


def _app_with_a_broken_route(database_url: str) -> FastAPI:
    app = create_app(make_settings(database_url, planning_executor="thread"), geocode=None)

    def broken() -> dict[str, str]:
        raise RuntimeError("a bug the handlers do not know")

    app.add_api_route("/test-broken", broken, methods=["GET"])
    return app


def test_an_unexpected_error_answers_500_and_keeps_the_connection(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = _app_with_a_broken_route(database_url)
    connections: list[object] = []

    def seen(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        connections.append(stream.get_extra_info("socket").getsockname() if stream else None)

    with (
        caplog.at_level(logging.ERROR, logger="lastmile.service"),
        serve(app) as base,
        httpx.Client(base_url=base, event_hooks={"response": [seen]}) as client,
    ):
        broken = client.get("/test-broken")
        after = client.get("/health")
        again = client.get("/test-broken")

    assert broken.status_code == 500
    body = broken.json()
    assert body["detail"].startswith("internal error ")
    assert body["errors"] == []
    assert "a bug the handlers do not know" not in broken.text, "the traceback stays in the log"
    assert after.status_code == 200 and after.json()["status"] == "ok"
    assert again.status_code == 500
    # One connection (the same local port) served all three: the 500 did not close it.
    assert len(connections) == 3 and len(set(connections)) == 1, connections
    error_id = body["detail"].split()[2].rstrip(":")
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert "GET /test-broken" in logged[0].getMessage()
