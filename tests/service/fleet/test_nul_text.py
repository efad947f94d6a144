"""Text with a NUL character is refused naming the field (PostgreSQL cannot store it)."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import Tenant  # type: ignore[import-not-found]


@pytest.mark.parametrize(
    ("body", "column"),
    [
        ({"name": "Van\x00", "capacity": [1]}, "body.name"),
        ({"name": "Van", "capacity": [1], "skills": ["ok", "fr\x00idge"]}, "body.skills"),
    ],
)
def test_a_nul_character_in_text_is_refused_naming_the_field(
    tenant: Tenant, body: dict[str, Any], column: str
) -> None:
    r = tenant.post("/vehicle-types", json=body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["column"] for e in errors] == [column]
    assert "NUL" in errors[0]["reason"]
    assert tenant.ok("get", "/vehicle-types") == []


def test_a_nul_character_in_an_order_is_refused_naming_the_field(tenant: Tenant) -> None:
    r = tenant.post(
        "/orders",
        json={"delivery": {"lon": 2.3, "lat": 48.8}, "customer": {"name": "A\x00B"}},
    )
    assert r.status_code == 422, r.text
    assert [e["column"] for e in r.json()["errors"]] == ["body.customer.name"]
