"""A re-import never silently undoes what a customer changed through their
tracking link (instructions, their time window): the customer's value is kept,
and when the file brings a value of its own the conflict is reported."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from ..conftest import PARIS, Tenant  # type: ignore[import-not-found]

HEADER = "external_id,lon,lat,window_start,window_end,units,priority,instructions\n"
DAY = (dt.datetime.now(ZoneInfo(PARIS)) + dt.timedelta(days=3)).date()


def row(ref: str, *, window: str = "09:00,17:00", priority: int = 1, text: str = "") -> str:
    return f"{ref},2.35,48.85,{window},1,{priority},{text}\n"


def upload(tenant: Tenant, text: str, **params: str) -> dict[str, Any]:
    files = {"file": ("orders.csv", text.encode(), "text/csv")}
    r = tenant.post("/orders/import", files=files, params={"date": str(DAY)} | params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def local(hhmm: str) -> dt.datetime:
    hh, mm = (int(x) for x in hhmm.split(":"))
    return dt.datetime.combine(DAY, dt.time(hh, mm), tzinfo=ZoneInfo(PARIS)).astimezone(dt.UTC)


def windows(order: dict[str, Any]) -> list[tuple[dt.datetime, dt.datetime]]:
    return [
        (dt.datetime.fromisoformat(w["start"]), dt.datetime.fromisoformat(w["end"]))
        for w in order["delivery"]["time_windows"]
    ]


def text_of(start: dt.datetime, end: dt.datetime) -> str:
    return f"{start.isoformat()}/{end.isoformat()}"


def test_customer_changes_survive_reimports(tenant: Tenant, client: TestClient) -> None:
    first = upload(tenant, HEADER + row("C1", text="Ring the bell") + row("C2", text="Gate"))
    c1_id, c2_id = first["order_ids"]
    token = tenant.ok("post", f"/orders/{c1_id}/tracking-links", status=201)["token"]
    customer = {"Authorization": f"Bearer {token}"}
    r = client.post(
        "/track/replies", json={"kind": "instructions", "text": "Back door"}, headers=customer
    )
    assert r.status_code == 201 and r.json()["applied"] is True
    start = dt.datetime.combine(DAY, dt.time(10, 0), tzinfo=dt.UTC)
    end = start + dt.timedelta(hours=2)
    body = {"kind": "new_window", "window_start": start.isoformat(), "window_end": end.isoformat()}
    r = client.post("/track/replies", json=body, headers=customer)
    assert r.status_code == 201 and r.json()["applied"] is True
    theirs = "Ring the bell\nCustomer: Back door"
    c1 = tenant.ok("get", f"/orders/{c1_id}")
    assert c1["instructions"] == theirs and windows(c1) == [(start, end)]

    # The same file with another priority: the priority changes, the customer's
    # changes stay, and there is no conflict (the file did not change those fields).
    again = upload(
        tenant, HEADER + row("C1", priority=5, text="Ring the bell") + row("C2", text="Gate")
    )
    assert (again["updated"], again["unchanged"], again["conflicts"]) == (1, 1, [])
    c1 = tenant.ok("get", f"/orders/{c1_id}")
    assert c1["priority"] == 5 and c1["instructions"] == theirs and windows(c1) == [(start, end)]

    # A file with new instructions and a new window for C1 (and for C2, whose
    # customer changed nothing): C1 keeps the customer's values and reports both.
    changed = (
        HEADER
        + row("C1", window="08:00,10:00", priority=5, text="Ring twice")
        + row("C2", window="08:00,10:00", text="Gate code 1234")
    )
    for mode in ("all_or_nothing", "partial"):
        preview = upload(tenant, changed, mode=mode, dry_run="true")
        assert len(preview["conflicts"]) == 2
    result = upload(tenant, changed, mode="partial")
    assert (result["updated"], result["unchanged"], result["rejected"]) == (1, 1, [])
    assert result["conflicts"] == [
        {
            "row": 2,
            "external_id": "C1",
            "order_id": c1_id,
            "field": "instructions",
            "customer_value": theirs,
            "file_value": "Ring twice",
        },
        {
            "row": 2,
            "external_id": "C1",
            "order_id": c1_id,
            "field": "time_windows",
            "customer_value": text_of(start, end),
            "file_value": text_of(local("08:00"), local("10:00")),
        },
    ]
    c1 = tenant.ok("get", f"/orders/{c1_id}")
    assert c1["instructions"] == theirs and windows(c1) == [(start, end)]
    c2 = tenant.ok("get", f"/orders/{c2_id}")
    assert c2["instructions"] == "Gate code 1234"
    assert windows(c2) == [(local("08:00"), local("10:00"))]

    # The conflict was reported once: the same file again reports nothing new.
    quiet = upload(tenant, changed)
    assert (quiet["conflicts"], quiet["unchanged"]) == ([], 2)
    assert tenant.ok("get", f"/orders/{c1_id}")["instructions"] == theirs

    # Once a dispatcher sets the instructions, the file may change them again.
    tenant.ok("patch", f"/orders/{c1_id}", json={"instructions": "Ring twice, back door"})
    later = upload(
        tenant,
        HEADER
        + row("C1", window="08:00,10:00", priority=5, text="Ring three times")
        + row("C2", window="08:00,10:00", text="Gate code 1234"),
    )
    assert (later["updated"], later["conflicts"]) == (1, [])
    c1 = tenant.ok("get", f"/orders/{c1_id}")
    assert c1["instructions"] == "Ring three times"
    # The customer's window was not touched by that edit: it is still theirs.
    assert windows(c1) == [(start, end)]


def test_a_dispatcher_edit_of_something_else_keeps_the_customer_value(
    tenant: Tenant, client: TestClient
) -> None:
    first = upload(tenant, HEADER + row("E1", text="Ring"))
    order_id = first["order_ids"][0]
    token = tenant.ok("post", f"/orders/{order_id}/tracking-links", status=201)["token"]
    r = client.post(
        "/track/replies",
        json={"kind": "leave_with_neighbour", "neighbour_name": "Mme Roux"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201
    theirs = tenant.ok("patch", f"/orders/{order_id}", json={"priority": 40})["instructions"]
    assert theirs == "Ring\nLeave with neighbour Mme Roux"
    result = upload(tenant, HEADER + row("E1", text="Ring then knock"))
    assert [(c["field"], c["customer_value"]) for c in result["conflicts"]] == [
        ("instructions", theirs)
    ]
    order = tenant.ok("get", f"/orders/{order_id}")
    assert order["instructions"] == theirs
    assert order["priority"] == 1  # the file's priority: not something the customer changed
