"""A tracker's server URL starts with LASTMILE_PUBLIC_BASE_URL, never with the
request's Host header; without the setting registering a tracker is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lastmile.service.app import create_app

from ..conftest import Tenant, make_settings  # type: ignore[import-not-found]


def test_tracker_urls_ignore_the_host_header(client: TestClient, tenant: Tenant) -> None:
    r = client.post(
        "/trackers",
        json={"identifier": f"phone-{tenant.slug}", "driver_id": str(tenant.driver_ids["d1"])},
        headers=tenant.headers() | {"Host": "phish.example"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["server_url"] == f"https://track.example/osmand?token={r.json()['token']}"


def test_trackers_need_the_public_base_url(database_url: str, tenant: Tenant) -> None:
    app = create_app(make_settings(database_url, public_base_url=""), geocode=None)
    with TestClient(app) as client:
        r = client.post(
            "/trackers",
            json={"identifier": f"box-{tenant.slug}", "driver_id": str(tenant.driver_ids["d1"])},
            headers=tenant.headers() | {"Host": "phish.example"},
        )
    assert r.status_code == 409, r.text
    assert "LASTMILE_PUBLIC_BASE_URL" in r.json()["detail"]
    assert tenant.ok("get", "/trackers") == []
