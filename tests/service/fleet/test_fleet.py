"""Vehicle types, vehicles, drivers and shifts."""

from __future__ import annotations

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


def test_vehicle_capacity_follows_the_organisation_dimensions(tenant: Tenant) -> None:
    bad = tenant.post("/vehicle-types", json={"name": "Truck", "capacity": [1, 2]})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "reason": "has 2 values for the organisation's 1 dimensions (units)",
            "column": "capacity",
            "row": None,
        }
    ]
    assert tenant.vehicle_type(capacity=[])["capacity"] == []


def test_vehicles_refer_only_to_own_types_and_depots(tenant: Tenant, other_tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    foreign = other_tenant.depot()
    r = tenant.post(
        "/vehicles", json={"name": "V", "type_id": vtype["id"], "depot_id": foreign["id"]}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "depot_id"
    vehicle = tenant.vehicle(vtype["id"], depot["id"], registration="AB-123-CD")
    assert tenant.delete(f"/depots/{depot['id']}").status_code == 409
    assert tenant.delete(f"/vehicle-types/{vtype['id']}").status_code == 409
    off = tenant.ok("patch", f"/vehicles/{vehicle['id']}", json={"active": False})
    assert off["active"] is False
    tenant.ok("delete", f"/vehicles/{vehicle['id']}", status=204)


def test_moving_a_vehicle_to_an_unknown_depot_or_type_is_refused_naming_it(
    tenant: Tenant,
) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    vehicle = tenant.vehicle(vtype["id"], depot["id"])
    unknown = "768bf0fb-01e0-258e-b372-12c8cf8be15c"
    for column in ("depot_id", "end_depot_id", "type_id"):
        r = tenant.patch(f"/vehicles/{vehicle['id']}", json={column: unknown})
        assert r.status_code == 422, r.text
        assert [e["column"] for e in r.json()["errors"]] == [column]
    after = tenant.ok("get", f"/vehicles/{vehicle['id']}")
    assert (after["depot_id"], after["type_id"]) == (depot["id"], vtype["id"])


def test_drivers_link_only_to_driver_users(tenant: Tenant) -> None:
    users = {u["email"].split("@")[0]: u["id"] for u in tenant.ok("get", "/users")}
    r = tenant.post("/drivers", json={"name": "X", "user_id": users["dispatcher"]})
    assert r.status_code == 422 and "not driver" in r.json()["errors"][0]["reason"]
    taken = tenant.post("/drivers", json={"name": "Y", "user_id": users["d1"]})
    assert taken.status_code == 409
    assert len(tenant.ok("get", "/drivers")) == 2


def test_shifts_are_checked_and_filtered(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type()
    vehicle = tenant.vehicle(vtype["id"], depot["id"])
    shift = tenant.shift("d1", vehicle["id"])
    assert shift["start_at"] == f"{DAY}T07:00:00+02:00"
    backwards = {
        "driver_id": shift["driver_id"],
        "start_at": f"{DAY}T10:00:00+00:00",
        "end_at": f"{DAY}T09:00:00+00:00",
    }
    assert tenant.post("/shifts", json=backwards).status_code == 422
    naive = backwards | {"start_at": f"{DAY}T08:00:00", "end_at": f"{DAY}T09:00:00"}
    r = tenant.post("/shifts", json=naive)
    assert r.status_code == 422 and "time zone" in r.text
    found = tenant.ok(
        "get",
        "/shifts",
        params={
            "start": f"{DAY}T00:00:00Z",
            "end": f"{DAY}T23:59:00Z",
            "driver_id": shift["driver_id"],
        },
    )
    assert [s["id"] for s in found] == [shift["id"]]
    none = tenant.ok("get", "/shifts", params={"start": f"{DAY}T23:00:00Z"})
    assert none == []


KNOWN_PROFILES = "bicycle, bike, car, cargo_bike, foot, truck, van"


def test_a_vehicle_type_profile_is_a_known_routing_profile(tenant: Tenant) -> None:
    bad = tenant.post("/vehicle-types", json={"name": "Hover", "profile": "hovercraft"})
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {
            "reason": f"unknown profile 'hovercraft'; known: {KNOWN_PROFILES}",
            "column": "profile",
            "row": None,
        }
    ]
    assert tenant.get("/vehicle-types").json() == []
    for name in ("car", "van", "truck", "cargo_bike", "bicycle", "bike", "foot"):
        assert tenant.vehicle_type(name=name, profile=name)["profile"] == name
    assert tenant.vehicle_type()["profile"] == "car"


def test_changing_a_vehicle_type_profile_is_checked_too(tenant: Tenant) -> None:
    vtype = tenant.vehicle_type(profile="van")
    url = f"/vehicle-types/{vtype['id']}"
    bad = tenant.patch(url, json={"profile": "Truck"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["column"] == "profile"
    assert KNOWN_PROFILES in bad.json()["errors"][0]["reason"]
    assert tenant.get(url).json()["profile"] == "van"
    assert tenant.ok("patch", url, json={"profile": "cargo_bike"})["profile"] == "cargo_bike"
    assert tenant.ok("patch", url, json={"name": "Bakfiets"})["profile"] == "cargo_bike"
