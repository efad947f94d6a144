"""The organisation's settings."""

from __future__ import annotations

from ..conftest import Tenant  # type: ignore[import-not-found]


def test_org_settings_are_admin_only_and_validated(tenant: Tenant) -> None:
    org = tenant.ok("get", "/org", "d1")
    assert org["slug"] == tenant.slug and org["dimensions"] == ["units"]
    assert tenant.patch("/org", "dispatcher", json={"name": "x"}).status_code == 403
    bad = tenant.patch("/org", json={"timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    changed = tenant.ok("patch", "/org", json={"dimensions": ["weight_kg", "volume_l"]})
    assert changed["dimensions"] == ["weight_kg", "volume_l"]
