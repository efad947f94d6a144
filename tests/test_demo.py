"""`lastmile demo` on a small day: planned, validated, driven through the digital twin,
measured and reported, with waiting charged (the default) and without; and
``--service``: played through a private service on the Helsinki extract."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import pytest

import lastmile.demo
import lastmile.demo_service
from lastmile.cli import main
from lastmile.domain import Plan
from lastmile.domain.day import DayRecord, StopStatus
from lastmile.exceptions import InputError
from lastmile.planning.problem import PlanningProblem
from lastmile.simulate.incidents import BREAKDOWN, URGENT_ORDER

FILES = {"problem.json", "plan.json", "plan.geojson", "record.json", "report.html"}


@pytest.mark.parametrize("flag", ["--waiting-costs", "--no-waiting-costs"])
def test_demo_plans_drives_reports_and_writes_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--in-process", "--time-limit", "2", "--orders", "30", "--out", str(out), flag]
    assert main(args) == 0  # 0: the plan validates
    assert {p.name for p in out.iterdir()} == FILES
    problem = json.loads((out / "problem.json").read_text())
    assert len(problem["jobs"]) + len(problem.get("shipments", [])) >= 30
    assert json.loads((out / "plan.json").read_text())["summary"]["unassigned"] == 0

    # The day as driven: today, with its urgent order mid-morning and its van broken at 11:00.
    record = DayRecord.from_dict(json.loads((out / "record.json").read_text()))
    assert record.day == dt.date.today()
    kinds = {i.kind: i for i in record.incidents}
    assert 10 * 3600 <= kinds[URGENT_ORDER].t <= 10 * 3600 + 1800
    assert "inserted on" in kinds[URGENT_ORDER].detail
    assert kinds[BREAKDOWN].t == 11 * 3600
    assert any(s.inserted for s in record.stops)
    assert all(r.shift_start is not None for r in record.routes)
    assert sum(s.promised_start is not None for s in record.stops) == len(record.stops)

    # The report opens offline: nothing loaded from elsewhere, its images inside it.
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page
    assert page.count('src="data:image/') >= 4

    printed = capsys.readouterr().out
    assert "The day as driven" in printed and "Per vehicle" in printed
    for label in ("on time", "promises kept", "first-attempt success", "cost, actual"):
        assert re.search(rf"{label}\s+[\d,.]+%?", printed), label
    for route in record.routes:
        assert re.search(rf"^\s*{route.vehicle_id}\s+\d+", printed, re.MULTILINE)
    assert f"record: {out / 'record.json'}" in printed
    assert f"report: {out / 'report.html'}" in printed


def test_the_service_demo_plays_a_small_day_through_the_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    # Many customers away: one of them is booked again the same day.
    status = lastmile.demo_service.run_service_demo(
        out_dir=out, orders=14, speed=3000, time_limit=3, seed=3, absent_rate=0.4
    )
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert {"record.json", "report.html", "notifications.log", "service.log"} <= {
        p.name for p in out.iterdir()
    }
    # Every order was posted by its address and placed by the service's geocoder.
    assert "14 of 14 orders placed by the service's offline geocoder" in printed
    # The day is planned with buffers for the travel times' variation, as a
    # dispatcher who tells customers times would ask (docs/robust.md).
    # (the request itself: tests/simulate/test_http.py)
    assert "robust: each stop late with a chance under 50%" in printed.replace("\n", " ")
    record = DayRecord.from_dict(json.loads((out / "record.json").read_text()))
    assert record.source == "service"
    assert {r.profile for r in record.routes} <= {"van", "cargo_bike"}
    kinds = {i.kind for i in record.incidents}
    assert URGENT_ORDER in kinds  # posted to the service (inserted if a vehicle can take it)
    assert re.search(
        r"urgent order urgent-01: order urgent-01 .*(inserted on|fits nowhere)",
        printed.replace("\n", " "),
    )
    ids = {s.order_id for s in record.stops}
    # The absent customer's delivery, failed, then booked again and driven.
    again = [s for s in record.stops if s.order_id.endswith("-2")]
    assert again and all(s.inserted for s in again), sorted(ids)
    first = again[0].order_id.removesuffix("-2")
    assert any(s.order_id == first and s.status is StopStatus.FAILED for s in record.stops)
    # Texts to customers in the log, stamped with the service's (simulated) time.
    texts = (out / "notifications.log").read_text().splitlines()
    assert texts and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d SMS to \+358", t) for t in texts)
    assert any("delivered" in t for t in texts)
    for label in ("on time", "first-attempt success", "cost, actual"):
        assert re.search(rf"{label}\s+[\d,.]+%?", printed), label
    assert f"report: {out / 'report.html'}" in printed
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_the_command_plays_the_service_day_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, object]] = []
    monkeypatch.setattr(
        lastmile.demo_service, "run_service_demo", lambda **kw: asked.append(kw) or 0
    )
    out = str(tmp_path / "demo")
    assert main(["demo", "--service", "--speed", "600", "--out", out]) == 0
    assert main(["demo", "--out", out]) == 0  # what make demo runs
    assert asked == [
        {"out_dir": Path(out), "time_limit": 5.0, "seed": 7, "orders": 100, "speed": 600.0},
        {"out_dir": Path(out), "time_limit": 5.0, "seed": 7, "orders": 100, "speed": 400.0},
    ]
    assert main(["demo", "--service", "--in-process", "--out", out]) == 2
    assert "--service:" in capsys.readouterr().err


def test_the_demo_addresses_are_real_ones_the_offline_geocoder_finds() -> None:
    from lastmile.geocode import OfflineGeocoder

    addresses, depot = lastmile.demo_service.demo_addresses(30, seed=1)
    assert len(set(addresses)) == 30 and depot.label not in addresses
    geocoder = OfflineGeocoder.from_pbf(lastmile.demo_service.EXTRACT)
    for address in addresses:
        assert re.search(r" \d+[\w -]*, \d{5} Helsinki$", address), address  # a house number
        found = geocoder.geocode(address, limit=1)
        assert found.ok and found.confidence == 1.0, address
    with pytest.raises(InputError, match="--orders"):
        lastmile.demo_service.demo_addresses(10_000)


def test_a_plan_failing_validation_is_not_driven_and_the_demo_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    solve = lastmile.demo.solve

    def losing_a_route(problem: PlanningProblem, **kw: object) -> Plan:
        plan = solve(problem, **kw)  # type: ignore[arg-type]
        return dataclasses.replace(plan, routes=plan.routes[1:])  # its orders vanish

    monkeypatch.setattr(lastmile.demo, "solve", losing_a_route)
    out = tmp_path / "demo"
    args = ["demo", "--in-process", "--time-limit", "1", "--orders", "20", "--out", str(out)]
    assert main(args) == 1
    assert "record.json" not in {p.name for p in out.iterdir()}
    assert "violation" in capsys.readouterr().out


def test_the_demo_day_charges_waiting_by_default() -> None:
    assert lastmile.demo.demo_day(orders=20).cost_waiting
    assert not lastmile.demo.demo_day(orders=20, waiting_costs=False).cost_waiting
