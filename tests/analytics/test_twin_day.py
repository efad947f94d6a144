"""A day driven by the digital twin, measured: the figures agree with the plan the
twin drove, and a noisy day with incidents goes through the report."""

from __future__ import annotations

import pytest

from lastmile.analytics import leg_table, stop_table, summarise
from lastmile.analytics.report import html_report
from lastmile.domain import Plan
from lastmile.domain.day import DayRecord, StopStatus
from lastmile.planning.construct import greedy_plan
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import validate
from lastmile.simulate import city_day, twin
from lastmile.travel.noise import TravelNoise


@pytest.fixture(scope="module")
def planned() -> tuple[PlanningProblem, Plan]:
    problem = city_day(n_orders=30, n_vans=3, n_bikes=1, seed=4)
    plan = greedy_plan(problem)
    assert validate(problem, plan).ok
    return problem, plan


def test_a_day_without_noise_measures_as_the_plan(planned: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = planned
    quiet = twin.TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.0, scan_failure_rate=0.0)
    record = twin.simulate_day(problem, plan, config=quiet, seed=1).record
    (k,) = summarise(record)
    tasks = sum(len(r.tasks) for r in plan.routes)
    assert (k.stops_planned, k.stops_done) == (tasks, tasks)
    # The cost rule is the planner's: the record's routes cost what the plan costs,
    # and driven exactly as planned they cost the same again.
    assert k.planned_cost == plan.cost
    assert k.actual_cost == plan.cost
    assert k.distance_km == pytest.approx(plan.distance / 1000)
    assert k.on_time_rate in (1.0, None)
    assert k.lateness_max_s in (0, None)
    assert k.first_attempt_success_rate == 1.0
    assert all(row["arrival_delay_s"] == 0 for row in stop_table(record))
    assert all(row["travel_diff_s"] == 0 for row in leg_table(record))


def test_a_noisy_day_with_incidents_goes_through_the_report(
    planned: tuple[PlanningProblem, Plan],
) -> None:
    problem, plan = planned
    config = twin.TwinConfig(absent_rate=0.2, breakdowns=1, road_closures=1, urgent_orders=1)
    record = twin.simulate_day(problem, plan, config=config, seed=2).record
    record = DayRecord.from_dict(record.to_dict())
    (k,) = summarise(record)
    failed = sum(s.status is StopStatus.FAILED for s in record.stops)
    assert k.stops_failed == failed > 0
    assert k.eta_samples == len(record.eta_samples) > 0
    assert k.eta_mae_s is not None and k.eta_mae_s >= abs(k.eta_bias_s or 0)
    by_vehicle = summarise(record, by="vehicle")
    assert sum(g.stops_planned for g in by_vehicle) == k.stops_planned
    page = html_report(record, title="Simulated day")
    assert page.count('src="data:image/png;base64,') == 5
    assert f"{k.stops_planned:,}" in page
    for incident in record.incidents:
        assert incident.kind in page
