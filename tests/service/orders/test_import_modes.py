"""CSV import modes: partial imports the good rows and returns the bad ones with
row, column and reason; all-or-nothing (the default) writes nothing at all when
one row is bad. Who may import, and who sees what was imported."""

from __future__ import annotations

from typing import Any

from ..conftest import DAY, FakeGeocoder, Tenant  # type: ignore[import-not-found]

HEADER = "external_id,address,lon,lat,window_start,window_end,units,priority,instructions\n"


def upload(tenant: Tenant, text: str, who: str = "admin", **params: str) -> Any:
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    return tenant.post("/orders/import", who, files=files, params={"date": str(DAY)} | params)


def by_ref(tenant: Tenant) -> dict[str, dict[str, Any]]:
    return {o["external_id"]: o for o in tenant.ok("get", "/orders")}


GOOD_AND_BAD = (
    HEADER
    + "P1,,2.35,48.85,09:00,12:00,1,10,\n"
    + "P2,Nowhere 1,,,,,1,,\n"  # the geocoder does not know it
    + "P3,,2.36,48.86,09:00,25:00,1,,\n"  # not a time of day
    + "P4,1 rue de Rivoli Paris,,,,,abc,,\n"  # unknown to the geocoder, and a bad amount
    + 'P5,"10 avenue Foch, Paris",,,,,2,,ring\n'
    + "P1,,2.37,48.87,,,1,,\n"  # P1 again
)


def test_partial_import_stores_the_good_rows_and_returns_the_bad_ones(
    tenant: Tenant, geocoder: FakeGeocoder
) -> None:
    result = tenant.ok(
        "post",
        "/orders/import",
        files={"file": ("orders.csv", GOOD_AND_BAD.encode(), "text/csv")},
        params={"date": str(DAY), "mode": "partial"},
    )
    assert result["mode"] == "partial"
    assert (result["created"], result["updated"], result["unchanged"]) == (2, 0, 0)
    stored = by_ref(tenant)
    assert sorted(stored) == ["P1", "P5"]
    assert [stored["P1"]["id"], stored["P5"]["id"]] == result["order_ids"]
    assert stored["P1"]["priority"] == 10 and stored["P1"]["delivery"]["lon"] == 2.35
    assert (stored["P5"]["delivery"]["lon"], stored["P5"]["delivery"]["lat"]) == (2.2885, 48.8718)
    assert stored["P5"]["instructions"] == "ring"

    rejected = {r["row"]: r for r in result["rejected"]}
    assert sorted(rejected) == [3, 4, 5, 7]
    assert rejected[3]["external_id"] == "P2"
    assert rejected[3]["errors"] == [
        {"row": 3, "column": "address", "reason": "address 'Nowhere 1' not found"}
    ]
    assert [(e["column"], e["row"]) for e in rejected[4]["errors"]] == [("window_end", 4)]
    assert "'25:00' is not a time of day" in rejected[4]["errors"][0]["reason"]
    assert rejected[5]["external_id"] == "P4"
    assert [e["column"] for e in rejected[5]["errors"]] == ["units"]
    assert "'abc' is not a whole number" in rejected[5]["errors"][0]["reason"]
    assert rejected[7] == {
        "row": 7,
        "external_id": "P1",
        "errors": [{"row": 7, "column": "external_id", "reason": "'P1' already appears in row 2"}],
    }

    # Fixing the rejected rows and importing the whole file again adds only them.
    fixed = (
        GOOD_AND_BAD.replace("Nowhere 1", '"5 place d\'Italie, Paris"')
        .replace("25:00", "13:00")
        .replace("abc", "3")
        .replace("P1,,2.37,48.87,,,1,,\n", "")
    )
    again = upload(tenant, fixed, mode="partial").json()
    # P4's address is still unknown to the geocoder: only it stays out.
    assert [r["external_id"] for r in again["rejected"]] == ["P4"]
    assert (again["created"], again["unchanged"]) == (2, 2)
    assert sorted(by_ref(tenant)) == ["P1", "P2", "P3", "P5"]


def test_all_or_nothing_is_the_default_and_writes_nothing(
    tenant: Tenant, geocoder: FakeGeocoder
) -> None:
    first = upload(tenant, HEADER + "Q1,,2.35,48.85,,,1,5,\n").json()
    assert first["mode"] == "all_or_nothing" and first["created"] == 1
    before = by_ref(tenant)

    # One row updates Q1, one adds Q2, one is bad: nothing at all is written.
    text = (
        HEADER
        + "Q1,,2.40,48.90,,,4,99,changed\n"
        + "Q2,,2.36,48.86,,,1,,\n"
        + "Q3,Nowhere 1,,,,,1,,\n"
    )
    for params in ({}, {"mode": "all_or_nothing"}):
        r = upload(tenant, text, **params)
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == "1 row(s) have errors; nothing was imported"
        assert r.json()["errors"] == [
            {"row": 4, "column": "address", "reason": "address 'Nowhere 1' not found"}
        ]
        assert by_ref(tenant) == before

    # The form field works as well as the query parameter; they must not disagree.
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    r = tenant.post("/orders/import", files=files, data={"mode": "partial"})
    assert r.status_code == 200, r.text
    assert (r.json()["updated"], r.json()["created"]) == (1, 1)
    assert [x["row"] for x in r.json()["rejected"]] == [4]
    q1 = by_ref(tenant)["Q1"]
    assert (q1["priority"], q1["amount"], q1["instructions"]) == (99, [4], "changed")
    r = tenant.post(
        "/orders/import", files=files, data={"mode": "partial"}, params={"mode": "all_or_nothing"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["column"] == "mode"
    r = upload(tenant, text, mode="some")
    assert r.status_code == 422 and "mode" in r.text


def test_file_errors_fail_even_a_partial_import(tenant: Tenant) -> None:
    r = upload(tenant, "external_id,adress\nX1,somewhere\n", mode="partial")
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "adress" and r.json()["errors"][0]["row"] == 1
    r = upload(tenant, HEADER, mode="partial")
    assert r.status_code == 422 and "no data rows" in r.text
    assert tenant.ok("get", "/orders") == []


def test_a_partial_dry_run_reports_and_writes_nothing(tenant: Tenant) -> None:
    text = HEADER + "D1,,2.35,48.85,,,1,,\n" + "D2,,2.35,,,,1,,\n"
    result = upload(tenant, text, mode="partial", dry_run="true").json()
    assert (result["created"], result["dry_run"]) == (1, True)
    assert result["rejected"][0]["errors"][0]["column"] == "lat"
    assert tenant.ok("get", "/orders") == []


def test_drivers_cannot_import_and_other_tenants_see_nothing(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    text = HEADER + "T1,,2.35,48.85,,,1,,\n"
    for who in ("d1", "d2"):
        r = upload(tenant, text, who=who, mode="partial")
        assert r.status_code == 403
    assert tenant.ok("get", "/orders") == []
    r = tenant.client.post("/orders/import", files={"file": ("o.csv", text.encode(), "text/csv")})
    assert r.status_code == 401

    result = upload(tenant, text, who="dispatcher", mode="partial").json()
    assert result["created"] == 1
    order_id = result["order_ids"][0]
    assert other_tenant.ok("get", "/orders") == []
    assert other_tenant.ok("get", "/orders", params={"external_id": "T1"}) == []
    assert other_tenant.get(f"/orders/{order_id}").status_code == 404
    body = {"delivery": {"lon": 2.0, "lat": 48.0}}
    assert other_tenant.patch(f"/orders/{order_id}", json=body).status_code == 404
    # The same reference in another organisation is another order.
    other = upload(other_tenant, text).json()
    assert other["created"] == 1 and other["order_ids"] != [order_id]
    assert tenant.ok("get", f"/orders/{order_id}")["delivery"]["lon"] == 2.35
