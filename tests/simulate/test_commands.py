"""``lastmile simulate``: a generated or read day, planned or read plan, records written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from lastmile.cli import main
from lastmile.domain.day import DayRecord, StopStatus
from lastmile.formats.any import read_any
from lastmile.formats.vroom import write_problem, write_solution
from lastmile.planning.construct import greedy_plan
from lastmile.simulate import city_day


def test_a_generated_day_is_planned_simulated_and_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.json"
    code = main(
        [
            "simulate",
            "--generate",
            "city-day",
            "--orders",
            "30",
            "--seed",
            "4",
            "--time-limit",
            "1",
            "--urgent-orders",
            "2",
            "--days",
            "2",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    for k in (1, 2):
        record = DayRecord.from_dict(json.loads((tmp_path / f"day-day{k:02d}.json").read_text()))
        assert record.source == f"twin seed={3 + k}"
        assert len({s.order_id for s in record.stops}) >= 25
        assert record.positions and record.eta_samples
    err = capsys.readouterr().err
    assert "on time" in err and "ETA error" in err


def test_a_plan_file_is_driven_as_written(tmp_path: Path) -> None:
    generated = city_day(n_orders=25, n_vans=3, n_bikes=1, seed=5)
    (tmp_path / "problem.json").write_text(json.dumps(write_problem(generated)))
    problem = read_any(tmp_path / "problem.json")  # as `lastmile solve` reads it
    plan = greedy_plan(problem)
    (tmp_path / "plan.json").write_text(json.dumps(write_solution(problem, plan)))
    out = tmp_path / "day.json"
    args = ["simulate", str(tmp_path / "problem.json"), "--plan", str(tmp_path / "plan.json")]
    quiet = ["--noise", "none", "--absent-rate", "0", "--scan-failure-rate", "0"]
    code = main([*args, *quiet, "-o", str(out)])
    assert code == 0
    record = DayRecord.from_dict(json.loads(out.read_text()))
    assert len(record.stops) == sum(len(r.tasks) for r in plan.routes)
    assert all(s.status is StopStatus.DONE for s in record.stops)
    assert all(s.arrival == s.planned_arrival for s in record.stops)


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        (["--days", "0"], "--days"),
        (["--noise", "lognormal:spread=2"], "noise"),
        (["--absent-rate", "2"], "config.absent_rate"),
        (["--weather", "sunny"], "config.weather"),
        (["--breakdown", "van-01"], "--breakdown"),
        (["--breakdown", "van-01@25:00"], "--breakdown"),
    ],
)
def test_bad_options_name_themselves(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], where: str
) -> None:
    args = ["simulate", "--generate", "city-day", "--orders", "5", "-o", str(tmp_path / "d.json")]
    assert main(args + extra) == 2
    assert where in capsys.readouterr().err


def test_several_days_are_dated_one_after_the_other(tmp_path: Path) -> None:
    generated = city_day(n_orders=12, n_vans=2, n_bikes=1, seed=6)
    (tmp_path / "problem.json").write_text(json.dumps(write_problem(generated)))
    problem = read_any(tmp_path / "problem.json")
    (tmp_path / "plan.json").write_text(json.dumps(write_solution(problem, greedy_plan(problem))))
    args = ["simulate", str(tmp_path / "problem.json"), "--plan", str(tmp_path / "plan.json")]
    out = tmp_path / "day.json"
    assert main([*args, "--days", "3", "--depart", "2026-11-24T07:00", "-o", str(out)]) == 0
    days = [
        DayRecord.from_dict(json.loads((tmp_path / f"day-day{k:02d}.json").read_text())).day
        for k in (1, 2, 3)
    ]
    assert days == [dt.date(2026, 11, 24), dt.date(2026, 11, 25), dt.date(2026, 11, 26)]
