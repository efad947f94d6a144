"""Orders: create, geocode, change, lifecycle, CSV import, tracking links."""

from __future__ import annotations

import base64
import datetime as dt

from fastapi.testclient import TestClient

from ..conftest import DAY, FakeGeocoder, Tenant  # type: ignore[import-not-found]

CSV_HEADER = (
    "external_id,address,lon,lat,window_start,window_end,service_min,units,barcodes,compartment\n"
)


def upload(tenant: Tenant, text: str, **params: str):  # type: ignore[no-untyped-def]
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    return tenant.post("/orders/import", files=files, params=params)


def test_create_read_update_an_order(tenant: Tenant) -> None:
    order = tenant.order(1, skills=["fridge", " fridge"], priority=50, instructions="ring twice")
    assert order["status"] == "pending" and order["kind"] == "delivery"
    assert order["skills"] == ["fridge"] and order["pickup"] is None
    assert order["delivery"]["time_windows"][0]["start"] == f"{DAY}T09:00:00+02:00"
    assert order["items"][0]["barcode"] == "BC0001"
    got = tenant.ok("get", f"/orders/{order['id']}")
    assert got == order
    changed = tenant.ok("patch", f"/orders/{order['id']}", json={"priority": 90, "items": []})
    assert changed["priority"] == 90 and changed["items"] == []
    assert changed["instructions"] == "ring twice"
    assert tenant.ok("get", "/orders", params={"external_id": "ord-1"})[0]["id"] == order["id"]
    assert (
        tenant.post(
            "/orders", json={"external_id": "ord-1", "delivery": {"lon": 1, "lat": 1}}
        ).status_code
        == 409
    )


def test_order_validation_names_the_field(tenant: Tenant) -> None:
    r = tenant.post("/orders", json={"kind": "shipment", "delivery": {"lon": 1, "lat": 2}})
    assert r.status_code == 422 and "needs pickup stop" in r.text
    r = tenant.post("/orders", json={"delivery": {"lon": 1}})
    assert r.status_code == 422 and "both lon and lat" in r.text
    r = tenant.post("/orders", json={"delivery": {"lon": 1, "lat": 2}, "amount": [1, 2]})
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "amount"
    windows = [
        {"start": f"{DAY}T09:00:00Z", "end": f"{DAY}T11:00:00Z"},
        {"start": f"{DAY}T10:00:00Z", "end": f"{DAY}T12:00:00Z"},
    ]
    r = tenant.post("/orders", json={"delivery": {"lon": 1, "lat": 2, "time_windows": windows}})
    assert r.status_code == 422 and "overlap" in r.text


def test_addresses_are_geocoded(tenant: Tenant, geocoder: FakeGeocoder) -> None:
    order = tenant.ok(
        "post",
        "/orders",
        json={"kind": "pickup", "pickup": {"address": "10 Avenue Foch, Paris"}},
        status=201,
    )
    assert (order["pickup"]["lon"], order["pickup"]["lat"]) == (2.2885, 48.8718)
    missing = tenant.post("/orders", json={"delivery": {"address": "Nowhere 1"}})
    assert missing.status_code == 422
    assert missing.json()["errors"][0] == {
        "reason": "address 'Nowhere 1' not found",
        "column": "delivery.address",
        "row": None,
    }


def test_lifecycle_cancel_and_retry(tenant: Tenant) -> None:
    order = tenant.order(2)
    cancelled = tenant.ok("post", f"/orders/{order['id']}/cancel")
    assert cancelled["status"] == "cancelled"
    again = tenant.post(f"/orders/{order['id']}/cancel")
    assert again.status_code == 422
    assert "cannot cancel a delivery order that is cancelled" in again.json()["detail"]
    assert tenant.patch(f"/orders/{order['id']}", json={"priority": 1}).status_code == 409
    assert tenant.post(f"/orders/{order['id']}/retry").status_code == 422
    assert [o["id"] for o in tenant.ok("get", "/orders", params={"status": "cancelled"})] == [
        order["id"]
    ]


def test_csv_import_all_or_nothing_and_idempotent(tenant: Tenant, geocoder: FakeGeocoder) -> None:
    good = (
        CSV_HEADER
        + "A1,,2.35,48.85,09:00,12:00,5,2,111;112,chilled\n"
        + "A2,1 rue de Rivoli Paris,,,,,,1,,\n"
        + 'A3,"1 rue de Rivoli, Paris",,,2025-05-02T14:00:00+02:00,2025-05-02T16:00:00+02:00,,3,,\n'
    )
    r = upload(tenant, good, date=str(DAY))
    assert r.status_code == 422  # A2's address is unknown to the geocoder
    assert r.json()["errors"] == [
        {"reason": "address '1 rue de Rivoli Paris' not found", "column": "address", "row": 3}
    ]
    assert r.json()["detail"] == "1 row(s) have errors; nothing was imported"
    assert tenant.ok("get", "/orders") == []

    fixed = good.replace("1 rue de Rivoli Paris", '"5 place d\'Italie, Paris"')
    dry = tenant.ok(
        "post",
        "/orders/import",
        files={"file": ("o.csv", fixed.encode())},
        params={"date": str(DAY), "dry_run": "true"},
    )
    assert (dry["created"], dry["dry_run"]) == (3, True)
    assert tenant.ok("get", "/orders") == []

    first = upload(tenant, fixed, date=str(DAY)).json()
    assert (first["created"], first["updated"], first["unchanged"]) == (3, 0, 0)
    orders = {o["external_id"]: o for o in tenant.ok("get", "/orders")}
    a1 = orders["A1"]
    assert a1["delivery"]["time_windows"][0]["start"] == f"{DAY}T09:00:00+02:00"
    assert a1["delivery"]["service_s"] == 300 and a1["amount"] == [2]
    assert [i["barcode"] for i in a1["items"]] == ["111", "112"] and a1["compartment"] == "chilled"
    assert orders["A2"]["delivery"]["lat"] == 48.8310

    second = upload(tenant, fixed, date=str(DAY)).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 3)
    assert second["order_ids"] == first["order_ids"]

    changed = fixed.replace('A3,"1 rue', 'A3,"10 avenue Foch, Paris",,,,,,3,,\nA4,"1 rue')
    third = upload(tenant, changed, date=str(DAY)).json()
    assert (third["created"], third["updated"], third["unchanged"]) == (1, 1, 2)
    assert len(tenant.ok("get", "/orders")) == 4


def test_reimport_cannot_change_dispatched_orders(tenant: Tenant) -> None:
    upload(tenant, CSV_HEADER + "B1,,2.35,48.85,,,,1,,\n")
    order = tenant.ok("get", "/orders")[0]
    tenant.ok("post", f"/orders/{order['id']}/cancel")
    r = upload(tenant, CSV_HEADER + "B1,,2.36,48.85,,,,1,,\n")
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "reason": "order 'B1' is cancelled; it can no longer be changed",
            "column": "external_id",
            "row": 2,
        }
    ]
    same = upload(tenant, CSV_HEADER + "B1,,2.35,48.85,,,,1,,\n").json()
    assert same["unchanged"] == 1


def test_import_needs_a_file(tenant: Tenant) -> None:
    assert tenant.post("/orders/import").status_code == 422


def test_tracking_links(client: TestClient, tenant: Tenant) -> None:
    order = tenant.order(3)
    link = tenant.ok("post", f"/orders/{order['id']}/tracking-links", status=201)
    token = link["token"]
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert link["url"] == f"https://track.example/track/{token}"
    assert dt.datetime.fromisoformat(link["expires_at"]) > dt.datetime.now(dt.UTC)
    view = client.get(f"/track/{token}")
    assert view.status_code == 200
    body = view.json()
    assert body["status"] == "pending" and body["eta_at"] is None
    assert set(body) == {
        "organisation",
        "kind",
        "status",
        "eta_at",
        "expected_from",
        "expected_to",
        "running_late",
        "message",
        "timezone",
        "time_windows",
        "updated_at",
        "instructions",
        "stops_before",
        "driver",
        "destination",
        "proof",
    }
    assert body["driver"] is None and body["proof"] is None
    assert client.get(f"/track/{token}x").status_code == 404
    tenant.ok("delete", f"/orders/{order['id']}/tracking-links", status=204)
    assert client.get(f"/track/{token}").status_code == 404


def test_tracking_is_rate_limited(database_url: str, tenant: Tenant) -> None:
    from lastmile.service.app import create_app

    from ..conftest import make_settings  # type: ignore[import-not-found]

    app = create_app(make_settings(database_url, tracking_requests_per_minute=2), geocode=None)
    with TestClient(app) as client:
        codes = [client.get("/track/nothing-here").status_code for _ in range(3)]
    assert codes == [404, 404, 429]
