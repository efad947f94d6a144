"""`lastmile demo` on a small day: with waiting charged (the default) and without."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lastmile.cli import main
from lastmile.demo import demo_day


@pytest.mark.parametrize("flag", ["--waiting-costs", "--no-waiting-costs"])
def test_demo_plans_validates_and_writes_its_files(tmp_path: Path, flag: str) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--time-limit", "2", "--orders", "30", "--out", str(out), flag]
    assert main(args) == 0  # 0: the plan validates
    assert {p.name for p in out.iterdir()} == {"problem.json", "plan.json", "plan.geojson"}
    problem = json.loads((out / "problem.json").read_text())
    assert len(problem["jobs"]) + len(problem.get("shipments", [])) >= 30
    assert json.loads((out / "plan.json").read_text())["summary"]["unassigned"] == 0


def test_the_demo_day_charges_waiting_by_default() -> None:
    assert demo_day(orders=20).cost_waiting
    assert not demo_day(orders=20, waiting_costs=False).cost_waiting
