"""Lists of names (skills, compartments) and amounts have a documented limit in
every schema: a million skills on one order or vehicle type is refused (422,
naming the field), not stored."""

from __future__ import annotations

import pytest

from lastmile.service.schemas import MAX_DIMENSIONS, MAX_NAME_LENGTH, MAX_NAMES

from ..conftest import Tenant  # type: ignore[import-not-found]

MANY = [f"skill-{k}" for k in range(MAX_NAMES + 1)]
LONG = ["x" * (MAX_NAME_LENGTH + 1)]


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ({"skills": MANY}, "body.skills"),
        ({"skills": LONG}, "body.skills.0"),
        ({"amount": [1] * (MAX_DIMENSIONS + 1)}, "body.amount"),
    ],
)
def test_an_order_with_too_many_or_too_long_skills_is_refused(
    tenant: Tenant, change: dict[str, object], column: str
) -> None:
    body = {"external_id": "caps", "delivery": {"lon": 2.3, "lat": 48.8}} | change
    r = tenant.post("/orders", json=body)
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == [column]
    fine = body | {"skills": MANY[:MAX_NAMES], "amount": [1]}
    created = tenant.ok("post", "/orders", json=fine, status=201)
    r = tenant.patch(f"/orders/{created['id']}", json=change)
    assert r.status_code == 422, r.text
    tenant.delete(f"/orders/{created['id']}")


@pytest.mark.parametrize("field", ["skills", "compartments"])
def test_a_vehicle_type_with_too_many_names_is_refused(tenant: Tenant, field: str) -> None:
    r = tenant.post("/vehicle-types", json={"name": "Van", field: MANY})
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == [f"body.{field}"]
    vtype = tenant.vehicle_type()
    r = tenant.patch(f"/vehicle-types/{vtype['id']}", json={field: LONG})
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == [f"body.{field}.0"]


def test_csv_skills_are_capped_too(tenant: Tenant) -> None:
    text = "external_id,lon,lat,skills\nC1,2.3,48.8," + ";".join(MANY) + "\n"
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    r = tenant.post("/orders/import", files=files)
    assert r.status_code == 422, r.text
    assert [(e["row"], e["column"]) for e in r.json()["errors"]] == [(2, "skills")]
