"""The contract: /openapi.json documents every operation and every schema."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_openapi_is_served_and_every_schema_is_documented(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    schemas = spec["components"]["schemas"]
    assert "ErrorOut" in schemas and "HTTPValidationError" not in schemas
    undocumented = []
    for name, schema in schemas.items():
        if not schema.get("description"):
            undocumented.append(name)
        for prop, body in schema.get("properties", {}).items():
            if not body.get("description"):
                undocumented.append(f"{name}.{prop}")
    assert undocumented == []


def test_every_operation_has_a_summary_a_description_and_error_answers(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    public = {"/auth/login", "/track/{token}", "/health"}
    for path, item in spec["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert op.get("description"), where
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    assert param.get("description"), f"{where} ?{param['name']}"
            if path not in public:
                assert "401" in op["responses"], where
            if "422" in op["responses"]:
                schema = op["responses"]["422"]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, where
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_validation_errors_have_the_documented_shape(client: TestClient, tenant) -> None:  # type: ignore[no-untyped-def]
    r = tenant.post("/depots", json={"name": "", "lon": 200, "lat": 1})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"] == "the request is not valid"
    columns = {e["column"] for e in body["errors"]}
    assert {"body.name", "body.lon"} <= columns
