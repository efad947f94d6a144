"""The report routes: KPIs as JSON and CSV, stops as CSV, the day's record, its
figures as PNG and the HTML report, for dispatchers and admins of the
organisation only, over bounded ranges of days.

Runs against SQLite and PostgreSQL (see tests/service/conftest.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import struct

import pytest
from fastapi import FastAPI

from lastmile.domain.day import DayRecord
from lastmile.service.reports.record import build_record
from lastmile.service.reports.schemas import FigureName

from ..conftest import DAY, World  # type: ignore[import-not-found]
from .conftest import Driven  # type: ignore[import-not-found]

RANGE = {"from": str(DAY - dt.timedelta(days=2)), "to": str(DAY + dt.timedelta(days=2))}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_kpis_count_what_was_driven(driven: Driven) -> None:
    t = driven.world.tenant
    (total,) = t.ok("get", "/reports/kpis", "dispatcher", params=RANGE)
    assert total["group"] == "all" and total["days"] == 1 and total["routes"] == 2
    assert (total["stops_planned"], total["stops_done"], total["stops_failed"]) == (10, 1, 1)
    assert total["stops_not_reached"] == 8
    assert total["on_time_rate"] == 1.0  # both stops served were inside 09:00-18:00
    assert total["first_attempt_success_rate"] == 0.5
    assert total["eta_samples"] == 1 and total["promises"] == 1
    by_driver = t.ok("get", "/reports/kpis", params=RANGE | {"by": "driver"})
    assert [r["group"] for r in by_driver] == ["Driver d1", "Driver d2"]
    assert [r["stops_done"] for r in by_driver] == [1, 0]
    assert sum(r["stops_planned"] for r in by_driver) == 10
    by_day = t.ok("get", "/reports/kpis", params=RANGE | {"by": "day"})
    assert [r["group"] for r in by_day] == [str(DAY)]


def test_kpis_and_stops_download_as_csv(driven: Driven) -> None:
    t = driven.world.tenant
    rows = t.ok("get", "/reports/kpis", params=RANGE | {"by": "vehicle"})
    r = t.get("/reports/kpis.csv", params=RANGE | {"by": "vehicle"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="kpis-{RANGE["from"]}-{RANGE["to"]}-by-vehicle.csv"'
    )
    table = _rows(r.text)
    assert list(table[0]) == list(rows[0])
    assert [(x["group"], x["stops_done"]) for x in table] == [
        (y["group"], str(y["stops_done"])) for y in rows
    ]
    stops = t.get("/reports/stops.csv", params=RANGE)
    assert stops.status_code == 200 and "attachment" in stops.headers["content-disposition"]
    per_stop = _rows(stops.text)
    assert len(per_stop) == 10
    names = {o["id"]: o["external_id"] for o in driven.world.orders}
    done = next(x for x in per_stop if x["order_id"] == names[driven.first["order_id"]])
    assert (done["status"], done["arrival"], done["departure"]) == ("done", "10:00:00", "10:04:00")
    failed = next(x for x in per_stop if x["order_id"] == names[driven.second["order_id"]])
    assert (failed["status"], failed["failure_reason"]) == ("failed", "recipient_absent")


def test_the_days_record_as_json(app: FastAPI, driven: Driven) -> None:
    t = driven.world.tenant
    data = t.ok("get", f"/reports/days/{DAY}/record", "dispatcher")
    record = DayRecord.from_dict(data)
    with app.state.sessionmaker() as session:
        assert record == build_record(session, org_id=t.org_id, day=DAY)
    only = t.ok("get", f"/reports/days/{DAY}/record", params={"plan_id": driven.world.plan["id"]})
    assert only == data
    empty = t.ok("get", f"/reports/days/{DAY + dt.timedelta(days=1)}/record")
    assert (empty["routes"], empty["stops"]) == ([], [])
    wrong_day = t.get(
        f"/reports/days/{DAY + dt.timedelta(days=1)}/record",
        params={"plan_id": driven.world.plan["id"]},
    )
    assert wrong_day.status_code == 422 and wrong_day.json()["errors"][0]["column"] == "plan_id"


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("name", [f.value for f in FigureName])
def test_figures_are_pngs(driven: Driven, name: str) -> None:
    r = driven.world.tenant.get(f"/reports/days/{DAY}/figures/{name}.png", "dispatcher")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    width, height = _png_size(r.content)
    assert width > 200 and height > 100


def test_an_unknown_figure_is_refused(driven: Driven) -> None:
    r = driven.world.tenant.get(f"/reports/days/{DAY}/figures/pie.png")
    assert r.status_code == 422 and r.json()["errors"][0]["column"] == "path.name"


def test_the_html_report_downloads_whole(driven: Driven) -> None:
    t = driven.world.tenant
    r = t.get("/reports/report.html", params=RANGE)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-disposition"] == (
        f'attachment; filename="lastmile-report-{RANGE["from"]}-{RANGE["to"]}.html"'
    )
    html = r.text
    assert html.startswith("<!DOCTYPE html>") and f"Org {t.slug}" in html
    assert html.count('src="data:image/png;base64,') >= 5
    assert "http://" not in html and "https://" not in html  # opens offline


@pytest.mark.parametrize(
    ("params", "column"),
    [
        ({"from": str(DAY), "to": str(DAY - dt.timedelta(days=1))}, "to"),
        ({"from": str(DAY), "to": str(DAY + dt.timedelta(days=92))}, "to"),
        ({"to": str(DAY)}, "query.from"),
        ({"from": "2025-02-30", "to": str(DAY)}, "query.from"),
    ],
)
def test_ranges_are_bounded(driven: Driven, params: dict[str, str], column: str) -> None:
    for path in (
        "/reports/kpis",
        "/reports/kpis.csv",
        "/reports/stops.csv",
        "/reports/report.html",
    ):
        r = driven.world.tenant.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["errors"][0]["column"] == column, (path, r.text)


def test_a_quarter_is_allowed(driven: Driven) -> None:
    params = {"from": str(DAY - dt.timedelta(days=91)), "to": str(DAY)}
    (total,) = driven.world.tenant.ok("get", "/reports/kpis", params=params)
    assert total["days"] == 1


def test_drivers_and_other_organisations_see_nothing(driven: Driven, other_world: World) -> None:
    t = driven.world.tenant
    for path in ("/reports/kpis", "/reports/stops.csv", f"/reports/days/{DAY}/record"):
        assert t.get(path, "d1", params=RANGE).status_code == 403
    other = other_world.tenant
    # Each organisation's own day only: the other one's plan is for the same day.
    (theirs,) = other.ok("get", "/reports/kpis", params=RANGE)
    assert theirs["stops_done"] == 0 and theirs["stops_planned"] == 10
    r = t.get(f"/reports/days/{DAY}/record", params={"plan_id": other_world.plan["id"]})
    assert r.status_code == 404
    r = t.get(
        f"/reports/days/{DAY}/figures/timeline.png", params={"plan_id": other_world.plan["id"]}
    )
    assert r.status_code == 404
