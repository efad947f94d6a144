"""Depots: create, read, change, delete; who may."""

from __future__ import annotations

from ..conftest import Tenant  # type: ignore[import-not-found]


def test_depot_crud(tenant: Tenant) -> None:
    depot = tenant.depot(name="North", address="1 rue du Nord", closes_s=18 * 3600)
    assert depot["opens_s"] == 6 * 3600
    assert tenant.ok("get", f"/depots/{depot['id']}")["name"] == "North"
    changed = tenant.ok("patch", f"/depots/{depot['id']}", json={"name": "N2", "address": None})
    assert changed["name"] == "N2" and changed["address"] == "1 rue du Nord"
    bad = tenant.patch(f"/depots/{depot['id']}", json={"opens_s": 20 * 3600})
    assert bad.status_code == 422 and bad.json()["errors"][0]["column"] == "closes_s"
    assert [d["id"] for d in tenant.ok("get", "/depots")] == [depot["id"]]
    tenant.ok("delete", f"/depots/{depot['id']}", status=204)
    assert tenant.get(f"/depots/{depot['id']}").status_code == 404


def test_dispatchers_manage_resources_drivers_do_not(tenant: Tenant) -> None:
    assert (
        tenant.post("/depots", "dispatcher", json={"name": "D", "lon": 1, "lat": 2}).status_code
        == 201
    )
    assert tenant.get("/depots", "d1").status_code == 403
