"""Shift breaks through the API, vehicles that reload, and the shift import (CSV and JSON)."""

from __future__ import annotations

import json
from typing import Any

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


def lunch(start: str = "12:00", end: str = "13:30", minutes: int = 30, **kw: Any) -> dict[str, Any]:
    return {
        "window_start": f"{DAY}T{start}:00+02:00",
        "window_end": f"{DAY}T{end}:00+02:00",
        "duration_s": minutes * 60,
    } | kw


def shift_body(t: Tenant, breaks: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    return {
        "driver_id": str(t.driver_ids["d1"]),
        "start_at": f"{DAY}T07:00:00+02:00",
        "end_at": f"{DAY}T16:00:00+02:00",
        "breaks": breaks,
    } | kw


def test_a_shift_carries_its_breaks(tenant: Tenant) -> None:
    coffee = lunch("09:30", "10:30", 15, id="coffee")
    shift = tenant.ok("post", "/shifts", json=shift_body(tenant, [lunch(), coffee]), status=201)
    # By earliest start, in Paris time, with the unnamed break numbered.
    assert shift["breaks"] == [
        {
            "id": "coffee",
            "window_start": f"{DAY}T09:30:00+02:00",
            "window_end": f"{DAY}T10:30:00+02:00",
            "duration_s": 900,
        },
        {
            "id": "break-1",
            "window_start": f"{DAY}T12:00:00+02:00",
            "window_end": f"{DAY}T13:30:00+02:00",
            "duration_s": 1800,
        },
    ]
    assert tenant.ok("get", f"/shifts/{shift['id']}")["breaks"] == shift["breaks"]
    changed = tenant.ok("patch", f"/shifts/{shift['id']}", json={"breaks": [lunch(minutes=45)]})
    assert [b["duration_s"] for b in changed["breaks"]] == [2700]
    # Moving the shift so that the break no longer fits is refused, naming the break.
    r = tenant.patch(f"/shifts/{shift['id']}", json={"end_at": f"{DAY}T12:00:00+02:00"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["column"] == "breaks[0].duration_s"


def test_breaks_that_do_not_fit_the_shift_are_refused_by_field(tenant: Tenant) -> None:
    bad = [
        lunch("06:00", "06:30"),  # before the shift
        lunch("13:00", "12:00"),  # window backwards
        lunch("15:50", "15:55", 30),  # ends after the shift
        lunch(id="x"),
        lunch(id="x"),
    ]
    r = tenant.post("/shifts", json=shift_body(tenant, bad))
    assert r.status_code == 422
    columns = {e["column"]: e["reason"] for e in r.json()["errors"]}
    assert set(columns) == {
        "breaks[0].window_start",
        "breaks[1].window_end",
        "breaks[2].duration_s",
        "breaks[4].id",
    }
    assert "before the shift starts" in columns["breaks[0].window_start"]
    assert tenant.ok("get", "/shifts") == []
    zero = tenant.post("/shifts", json=shift_body(tenant, [lunch(minutes=0)]))
    assert zero.status_code == 422


def test_vehicles_may_reload_at_their_depot(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(reload_time_s=600), tenant.vehicle_type()
    v = tenant.vehicle(vtype["id"], depot["id"], reloads=True, max_reloads=2)
    assert (v["reloads"], v["max_reloads"]) == (True, 2)
    assert tenant.vehicle(vtype["id"], depot["id"])["reloads"] is False
    off = tenant.ok("patch", f"/vehicles/{v['id']}", json={"reloads": False})
    assert off["reloads"] is False and off["max_reloads"] == 2
    body = {"name": "V", "type_id": vtype["id"], "depot_id": depot["id"], "max_reloads": -1}
    r = tenant.post("/vehicles", json=body)
    assert r.status_code == 422 and "max_reloads" in r.text


# -- import -------------------------------------------------------------------------------


def upload(t: Tenant, name: str, content: str, **params: str) -> Any:
    files = {"file": (name, content.encode(), "text/plain")}
    return t.post("/shifts/import", files=files, params=params)


def _fleet(t: Tenant) -> dict[str, Any]:
    depot, vtype = t.depot(), t.vehicle_type()
    return t.vehicle(vtype["id"], depot["id"], name="Van 7", registration="GH-123-JK")


def test_csv_import_with_breaks(tenant: Tenant) -> None:
    van = _fleet(tenant)
    text = (
        "driver,vehicle,start_at,end_at,break_start,break_end,break_min\n"
        f"Driver d1,GH-123-JK,07:00,16:00,12:00;09:30,13:30;10:00,30;15\n"
        f"{tenant.driver_ids['d2']},,2025-05-02T08:00+02:00,2025-05-02T17:00+02:00,,,\n"
    )
    dry = tenant.ok(
        "post",
        "/shifts/import",
        files={"file": ("s.csv", text.encode())},
        params={"date": str(DAY), "dry_run": "true"},
    )
    assert (dry["created"], dry["dry_run"]) == (2, True)
    assert tenant.ok("get", "/shifts") == []
    done = upload(tenant, "s.csv", text, date=str(DAY))
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["updated"]) == (2, 0)
    shifts = {s["driver_id"]: s for s in tenant.ok("get", "/shifts")}
    first = shifts[str(tenant.driver_ids["d1"])]
    assert first["vehicle_id"] == van["id"]
    assert first["start_at"] == f"{DAY}T07:00:00+02:00"
    assert [(b["window_start"], b["duration_s"]) for b in first["breaks"]] == [
        (f"{DAY}T09:30:00+02:00", 900),
        (f"{DAY}T12:00:00+02:00", 1800),
    ]
    assert shifts[str(tenant.driver_ids["d2"])]["breaks"] == []
    # The same file again changes nothing; a longer lunch updates the shift in place.
    again = upload(tenant, "s.csv", text, date=str(DAY)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    longer = text.replace("30;15", "45;15")
    changed = upload(tenant, "s.csv", longer, date=str(DAY)).json()
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 1)
    assert len(tenant.ok("get", "/shifts")) == 2


def test_csv_import_is_all_or_nothing_with_an_error_per_row(tenant: Tenant) -> None:
    _fleet(tenant)
    text = (
        "driver,vehicle,start_at,end_at,break_start,break_end,break_min\n"
        "Driver d1,Van 7,07:00,16:00,12:00,13:00,30\n"  # good
        "Nobody,Van 7,07:00,16:00,,,\n"  # unknown driver
        "Driver d2,Van 9,07:00,16:00,12:00,13:00,thirty\n"  # unknown vehicle, bad minutes
        "Driver d2,,07:00,16:00,05:00,05:30,30\n"  # break before the shift
        "Driver d1,,15:00,18:00,,,\n"  # overlaps row 2
        "Driver d2,,09:00,08:00,,,\n"  # ends before it starts
    )
    r = upload(tenant, "shifts.csv", text, date=str(DAY))
    assert r.status_code == 422
    errors = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert errors == {
        (3, "driver"),
        (4, "break_min"),
        (5, "break_start"),
        (6, "start_at"),
        (7, "end_at"),
    }
    reasons = {(e["row"], e["column"]): e["reason"] for e in r.json()["errors"]}
    assert reasons[(3, "driver")] == "no driver 'Nobody'"
    assert "break 1:" in reasons[(5, "break_start")]
    assert "row 2" in reasons[(6, "start_at")]
    assert tenant.ok("get", "/shifts") == []
    # Row 4's vehicle is reported once its break parses.
    fixed = text.replace("thirty", "30")
    r = upload(tenant, "shifts.csv", fixed, date=str(DAY))
    assert (4, "vehicle") in {(e["row"], e["column"]) for e in r.json()["errors"]}


def test_json_import_with_breaks(tenant: Tenant) -> None:
    van = _fleet(tenant)
    good = [
        {
            "driver": "Driver d1",
            "vehicle": van["id"],
            "start_at": f"{DAY}T07:00:00+02:00",
            "end_at": f"{DAY}T16:00:00+02:00",
            "breaks": [
                {"id": "lunch", "window_start": "12:00", "window_end": "13:00", "duration_min": 30}
            ],
        }
    ]
    r = upload(tenant, "shifts.json", json.dumps({"shifts": good}), date=str(DAY))
    assert r.status_code == 200, r.text
    (shift,) = tenant.ok("get", "/shifts")
    assert shift["breaks"] == [
        {
            "id": "lunch",
            "window_start": f"{DAY}T12:00:00+02:00",
            "window_end": f"{DAY}T13:00:00+02:00",
            "duration_s": 1800,
        }
    ]
    bad = [
        good[0] | {"driver": "Driver d2", "colour": "red"},
        good[0]
        | {"driver": "Driver d2", "breaks": [{"window_start": "12:00", "window_end": "nope"}]},
        good[0]
        | {
            "driver": "Driver d2",
            "breaks": [{"window_start": "06:00", "window_end": "06:10", "duration_s": 600}],
        },
    ]
    r = upload(tenant, "more.json", json.dumps(bad), date=str(DAY))
    assert r.status_code == 422
    errors = {(e["row"], e["column"]) for e in r.json()["errors"]}
    assert errors == {
        (1, "colour"),
        (2, "breaks[0].window_end"),
        (2, "breaks[0].duration_s"),
        (3, "breaks[0].window_start"),
    }
    assert len(tenant.ok("get", "/shifts")) == 1
    # The format follows the file name; ?format= overrides it.
    r = upload(tenant, "shifts.txt", json.dumps(good), date=str(DAY), format="json")
    assert r.status_code == 200 and r.json()["unchanged"] == 1
    r = upload(tenant, "shifts.txt", json.dumps(good), date=str(DAY))
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 1
