"""Customer tracking links start with LASTMILE_PUBLIC_BASE_URL, never with the
request's Host header; without the setting they are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from lastmile.service.app import create_app

from ..conftest import Tenant, make_settings  # type: ignore[import-not-found]


def test_tracking_links_ignore_the_host_header(client: TestClient, tenant: Tenant) -> None:
    order = tenant.order(1)
    r = client.post(
        f"/orders/{order['id']}/tracking-links",
        headers=tenant.headers() | {"Host": "phish.example"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["url"] == f"https://track.example/track/{r.json()['token']}"


def test_tracking_links_need_the_public_base_url(database_url: str, tenant: Tenant) -> None:
    order = tenant.order(2)
    app = create_app(make_settings(database_url, public_base_url=""), geocode=None)
    with TestClient(app) as client:
        r = client.post(
            f"/orders/{order['id']}/tracking-links",
            headers=tenant.headers() | {"Host": "phish.example"},
        )
    assert r.status_code == 409, r.text
    assert "LASTMILE_PUBLIC_BASE_URL" in r.json()["detail"]
    assert "phish.example" not in r.text
