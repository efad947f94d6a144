"""Showing and saving a plan: the summary table, the printed summary, atomic writes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from lastmile.domain import Plan
from lastmile.domain.plan import Route, Unassigned, Visit, VisitKind
from lastmile.formats.any import read_any
from lastmile.plan_output import print_plan, summary_table, write_atomically

DATA = Path(__file__).parent / "data"


def test_write_atomically_creates_folders_and_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "plan.json"
    write_atomically(target, "first\n")
    assert target.read_text(encoding="utf-8") == "first\n"
    write_atomically(target, "second, with ü\n")
    assert target.read_text(encoding="utf-8") == "second, with ü\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["plan.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "half written \ud800 never")  # a lone surrogate: not UTF-8
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_a_failed_write_creates_no_file(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    with pytest.raises(UnicodeEncodeError):
        write_atomically(target, "\ud800")
    assert list(tmp_path.iterdir()) == []


def _plan() -> Plan:
    start = Visit(VisitKind.START, 0, 28_800, 28_800, 28_800)
    first = Visit(
        VisitKind.JOB, 1, 29_400, 30_000, 30_300, distance=4_000, travel=600, order_id="10"
    )
    second = Visit(
        VisitKind.JOB, 2, 30_900, 30_900, 31_200, distance=9_500, travel=1_200, order_id="11"
    )
    end = Visit(VisitKind.END, 0, 31_800, 31_800, 31_800, distance=12_500, travel=1_800)
    route = Route("1", (start, first, second, end), cost=1_800)
    idle = Route("2", ())
    return Plan(
        routes=(route, idle),
        unassigned=(Unassigned("12", "no vehicle has room"),),
        engine="test",
        runtime_s=0.25,
    )


def test_summary_table_has_a_row_per_route_and_the_totals() -> None:
    problem = read_any(DATA / "vroom" / "matrices.json")
    table = summary_table(problem, _plan())
    assert table.row_count == 3
    assert [c.header for c in table.columns][:3] == ["vehicle", "stops", "start"]
    cells = {c.header: list(c.cells) for c in table.columns}
    assert cells["vehicle"] == ["1", "2", "1 vehicles"]
    assert cells["stops"] == ["2", "0", "2"]
    assert cells["start"][0] == "08:00"
    assert cells["driving"][0] == "0h30" and cells["distance"][0] == "12.5 km"
    assert cells["waiting"][0] == "0h10"
    assert cells["cost"][-1] == "1,800"


def test_print_plan_says_what_was_planned_and_what_was_not() -> None:
    problem = read_any(DATA / "vroom" / "matrices.json")
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False, color_system=None)
    print_plan(console, problem, _plan(), valid=True)
    text = out.getvalue()
    assert "Plan for matrices (test)" in text
    assert "4/5 orders planned (2 stops), 1 unassigned; validator: OK" in text
    assert "unassigned 12: no vehicle has room" in text
    assert f"travel: {problem.travel_note}" in text
    out = io.StringIO()
    print_plan(Console(file=out, width=200, color_system=None), problem, _plan(), valid=False)
    assert "validator: VIOLATIONS" in out.getvalue()
