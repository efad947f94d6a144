"""The digital twin: reproducible, exact without noise, noisy as configured, and
incidents handled the way the service would handle them."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from lastmile.analytics import summarise
from lastmile.domain import Plan, Route, Unassigned, VisitKind
from lastmile.domain.day import DayRecord, StopStatus
from lastmile.exceptions import InputError
from lastmile.planning import build_route
from lastmile.planning.construct import greedy_plan
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.schedule import Step
from lastmile.planning.validate import validate
from lastmile.simulate import city_day
from lastmile.simulate.incidents import Scheduled
from lastmile.simulate.truth import MatrixTruth
from lastmile.simulate.twin import (
    ABSENT,
    SCAN,
    EventKind,
    Twin,
    TwinConfig,
    simulate_day,
)
from lastmile.travel.noise import TravelNoise

QUIET = TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.0, scan_failure_rate=0.0)


@pytest.fixture(scope="module")
def day() -> tuple[PlanningProblem, Plan]:
    problem = city_day(n_orders=40, n_vans=5, n_bikes=1, seed=3)
    plan = greedy_plan(problem)  # deterministic, unlike a search cut by its time limit
    assert validate(problem, plan).ok
    return problem, plan


def planned_stops(plan: Plan) -> set[tuple[str, VisitKind]]:
    return {(v.order_id or "", v.kind) for r in plan.routes for v in r.tasks}


def test_the_same_seed_gives_the_same_record(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    config = TwinConfig(absent_rate=0.1, urgent_orders=2, breakdowns=1, road_closures=1)
    first = simulate_day(problem, plan, config=config, seed=5).record
    again = simulate_day(problem, plan, config=config, seed=5).record
    other = simulate_day(problem, plan, config=config, seed=6).record
    assert first.to_dict() == again.to_dict()
    assert first.to_dict() != other.to_dict()
    assert DayRecord.from_dict(first.to_dict()) == first


def test_without_noise_the_day_goes_exactly_as_planned(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    record = simulate_day(problem, plan, config=QUIET).record
    assert len(record.stops) == sum(len(r.tasks) for r in plan.routes)
    visits = {(v.order_id, v.kind): v for r in plan.routes for v in r.tasks}
    for s in record.stops:
        v = visits[(s.order_id, s.kind)]
        assert s.status is StopStatus.DONE
        assert (s.arrival, s.start, s.departure) == (v.arrival, v.start, v.departure)
        assert (s.planned_arrival, s.planned_start, s.planned_departure) == (
            v.arrival,
            v.start,
            v.departure,
        )
        assert s.leg_travel_s == s.leg_planned_travel_s
        assert s.leg_distance_m == s.leg_planned_distance_m
        assert s.on_time in (True, None)
    for r in record.routes:
        route = plan.route_of(r.vehicle_id)
        assert route is not None
        assert (r.actual_start, r.actual_end) == (route.start_time, route.end_time)
        assert (r.distance_m, r.travel_s, r.wait_s) == (route.distance, route.travel, route.wait)
    # The day as driven is the plan the validator accepted, visit for visit.
    driven = Plan(
        tuple(
            Route(
                r.vehicle_id,
                tuple(
                    v
                    if not v.is_task
                    else type(v)(
                        v.kind,
                        v.location,
                        by[(v.order_id, v.kind)].arrival or 0,
                        by[(v.order_id, v.kind)].start or 0,
                        by[(v.order_id, v.kind)].departure or 0,
                        v.load,
                        v.distance,
                        v.travel,
                        order_id=v.order_id,
                    )
                    for v in r.visits
                ),
                r.cost,
            )
            for r in plan.routes
            for by in [{(s.order_id, s.kind): s for s in record.stops_of(r.vehicle_id)}]
        ),
        plan.unassigned,
    )
    assert validate(problem, driven).ok


def test_noise_spreads_leg_times_as_configured(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    noise = TravelNoise(sigma=0.25)
    z: list[float] = []
    for seed in range(6):
        config = TwinConfig(noise=noise, absent_rate=0.0, scan_failure_rate=0.0)
        record = simulate_day(problem, plan, config=config, seed=seed).record
        for s in record.stops:
            planned = s.leg_planned_travel_s
            if not s.reached or planned < 120 or s.leg_travel_s is None:
                continue
            ratio = s.leg_travel_s / planned
            # The leg left at its arrival minus the time driven (no break on short legs).
            assert s.arrival is not None
            sigma = noise.sigma_of(planned, s.arrival - s.leg_travel_s)
            z.append(math.log(ratio) / sigma)
    assert len(z) > 150
    assert abs(float(np.mean(z))) < 0.2
    assert 0.8 < float(np.std(z)) < 1.2


def test_absent_customers_and_failed_scans_come_at_their_rates(
    day: tuple[PlanningProblem, Plan],
) -> None:
    problem, plan = day
    config = TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.3, scan_failure_rate=0.2)
    reasons: Counter[str] = Counter()
    customers = deliveries = 0
    for seed in range(8):
        record = simulate_day(problem, plan, config=config, seed=seed).record
        for s in record.stops:
            order = problem.order(s.order_id)
            customers += s.kind in (VisitKind.JOB, VisitKind.DELIVERY)
            deliveries += s.kind is VisitKind.DELIVERY or (
                s.kind is VisitKind.JOB and order.kind.value == "delivery"
            )
            if s.status is StopStatus.FAILED:
                assert s.failure_reason in (ABSENT, SCAN)
                assert s.departure is not None and s.start is not None
                assert s.departure - s.start <= config.failed_attempt_s
                reasons[s.failure_reason or ""] += 1
    assert customers > 250
    p_absent = reasons[ABSENT] / customers
    assert abs(p_absent - 0.3) < 4 * math.sqrt(0.3 * 0.7 / customers)
    # Scans fail only where nobody was absent: 0.2 of the remaining 0.7.
    p_scan = reasons[SCAN] / deliveries
    assert abs(p_scan - 0.14) < 4 * math.sqrt(0.14 * 0.86 / deliveries)


def test_a_breakdown_moves_the_remaining_stops_to_other_vehicles(
    day: tuple[PlanningProblem, Plan],
) -> None:
    problem, plan = day
    config = TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.0, breakdowns=1)
    record = simulate_day(problem, plan, config=config, seed=2).record
    (incident,) = [i for i in record.incidents if i.kind == "breakdown"]
    broken = incident.vehicle_id
    served = Counter((s.order_id, s.kind) for s in record.stops if s.reached)
    assert max(served.values()) == 1  # nobody served twice
    moved = [
        s
        for s in record.stops_of(broken or "")
        if s.status in (StopStatus.NOT_REACHED, StopStatus.MOVED)
    ]
    assert moved, "the breakdown left nothing to move"
    unassigned = {u.order_id for u in record.unassigned}
    relocated = 0
    for s in moved:
        assert s.failure_reason is not None and "broke down" in s.failure_reason
        assert s.arrival is None
        # Moved as it was, or (goods on board) handed over as a shipment: same order.
        elsewhere = [o for o in record.stops if o.order_id == s.order_id]
        elsewhere = [o for o in elsewhere if o.vehicle_id != broken]
        if "moved to" in s.failure_reason:
            assert elsewhere and s.status is StopStatus.MOVED
            assert all(s.failure_reason.endswith(o.vehicle_id) for o in elsewhere)
            assert all(o.planned_arrival >= incident.t for o in elsewhere)
            relocated += 1
        else:
            assert s.status is StopStatus.NOT_REACHED
            assert not elsewhere and s.order_id in unassigned
    assert relocated > 0
    # None lost: every planned stop has an outcome somewhere.
    outcomes = {(s.order_id, s.kind) for s in record.stops}
    assert planned_stops(plan) <= outcomes
    broken_route = next(r for r in record.routes if r.vehicle_id == broken)
    assert broken_route.actual_end == incident.t


def test_without_replanning_a_breakdown_leaves_its_stops_not_reached(
    day: tuple[PlanningProblem, Plan],
) -> None:
    problem, plan = day
    config = TwinConfig(noise=TravelNoise.parse("none"), breakdowns=1, replan=False)
    record = simulate_day(problem, plan, config=config, seed=2).record
    (incident,) = [i for i in record.incidents if i.kind == "breakdown"]
    left = record.stops_of(incident.vehicle_id or "")
    lost = [s for s in left if s.status is StopStatus.NOT_REACHED]
    assert lost and all(s.failure_reason == "vehicle broke down" for s in lost)
    done = [s for s in left if s.reached]
    assert all((s.arrival or 0) <= incident.t for s in done)
    # Nobody else takes them.
    assert {s.vehicle_id for s in record.stops if s.order_id in {x.order_id for x in lost}} == {
        incident.vehicle_id
    }


def test_urgent_orders_are_inserted_during_the_day(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    config = TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.0, urgent_orders=4)
    result = simulate_day(problem, plan, config=config, seed=1)
    record = result.record
    urgent = [i for i in record.incidents if i.kind == "urgent_order"]
    assert len(urgent) == 4
    inserted = [i for i in urgent if i.detail.startswith("inserted on")]
    assert inserted
    for i in urgent:
        stops = [s for s in record.stops if s.order_id == i.order_id]
        if i in inserted:
            assert stops and all(s.inserted for s in stops)
            assert all(s.vehicle_id == i.vehicle_id for s in stops)
            assert all(s.planned_arrival >= i.t for s in stops)
            assert all(s.status is StopStatus.DONE for s in stops)
        else:
            assert not stops and i.order_id in {u.order_id for u in record.unassigned}
    assert not any(s.inserted for s in record.stops if s.order_id.startswith("o"))


def test_events_come_in_time_order_whatever_the_steps(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    config = TwinConfig(urgent_orders=1, breakdowns=1)
    whole = list(Twin(problem, plan, config=config, seed=4).advance_to(None))
    twin = Twin(problem, plan, config=config, seed=4)
    stepped = []
    for t in range(6 * 3600, 24 * 3600, 1234):
        stepped += list(twin.advance_to(t))
        assert twin.now == t
    stepped += list(twin.advance_to(None))
    assert stepped == whole
    assert [e.t for e in whole] == sorted(e.t for e in whole)
    kinds = {e.kind for e in whole}
    assert {EventKind.PING, EventKind.DEPARTED, EventKind.ARRIVED, EventKind.DELIVERED} <= kinds
    assert EventKind.INCIDENT in kinds and EventKind.FINISHED in kinds


def test_a_replaced_route_is_followed(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    route = max(plan.routes, key=lambda r: len(r.tasks))
    dropped = route.tasks[-1]
    twin = Twin(problem, plan, config=QUIET)
    list(twin.advance_to(route.tasks[1].arrival))
    shorter = Route(route.vehicle_id, tuple(v for v in route.visits if v is not dropped))
    twin.replace_route(shorter)
    list(twin.advance_to(None))
    record = twin.record()
    (outcome,) = [
        s for s in record.stops if (s.order_id, s.kind) == (dropped.order_id, dropped.kind)
    ]
    assert outcome.status is StopStatus.NOT_REACHED
    assert outcome.failure_reason == "taken off the route"
    others = [s for s in record.stops_of(route.vehicle_id) if s is not outcome]
    assert all(s.status is StopStatus.DONE for s in others)


def test_eta_samples_predict_the_remaining_stops(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    quiet = simulate_day(problem, plan, config=QUIET).record
    assert quiet.eta_samples

    def on_break(vehicle_id: str, t: int) -> bool:
        route = plan.route_of(vehicle_id)
        assert route is not None
        return any(v.kind is VisitKind.BREAK and v.arrival <= t < v.departure for v in route.visits)

    # Exact, except while a driver is on a break (no report says so: the service
    # expects the break to start now).
    wrong = [e for e in quiet.eta_samples if e.predicted_arrival != e.actual_arrival]
    assert len(wrong) < len(quiet.eta_samples) / 10
    assert all(on_break(e.vehicle_id, e.asked_at) for e in wrong)
    noisy = simulate_day(problem, plan, config=TwinConfig(noise=TravelNoise(sigma=0.4))).record
    errors = [abs(e.predicted_arrival - e.actual_arrival) for e in noisy.eta_samples]
    assert max(errors) > 0
    assert all(e.asked_at < e.actual_arrival for e in noisy.eta_samples)


def test_a_late_route_stops_at_the_end_of_its_shift(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    slow = TwinConfig(
        noise=TravelNoise(sigma=0.0, median=3.0), absent_rate=0.0, scan_failure_rate=0.0
    )
    record = simulate_day(problem, plan, config=slow).record
    late = [s for s in record.stops if s.status is StopStatus.NOT_REACHED]
    assert late and all(s.failure_reason == "shift over before the stop" for s in late)
    for r in record.routes:
        vehicle = problem.vehicle(r.vehicle_id)
        served = [s for s in record.stops_of(r.vehicle_id) if s.arrival is not None]
        assert all((s.arrival or 0) <= vehicle.shift.end for s in served)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"absent_rate": 1.5}, "config.absent_rate"),
        ({"ping_every_s": -1}, "config.ping_every_s"),
        ({"weather": "sunshine"}, "config.weather"),
        ({"closure_slowdown": 0.5}, "config.closure_slowdown"),
        ({"incident_window": (5, 1)}, "config.incident_window"),
        ({"timezone": "Europe/Lyon"}, "config.timezone"),
    ],
)
def test_a_bad_config_field_names_itself(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as err:
        TwinConfig(**kwargs)  # type: ignore[arg-type]
    assert err.value.where == field


def test_replanning_keeps_working_after_vehicles_leave_the_game(
    day: tuple[PlanningProblem, Plan],
) -> None:
    """Urgent orders after breakdowns and finished or late routes are still planned
    (a broken vehicle's untaken break or stops do not block the live plan)."""
    problem, plan = day
    config = TwinConfig(
        breakdowns=2, urgent_orders=6, incident_window=(10 * 3600, 17 * 3600), overtime_s=0
    )
    inserted = 0
    for seed in range(4):
        record = simulate_day(problem, plan, config=config, seed=seed).record
        assert not [
            i for i in record.incidents if "failed" in i.detail or i.kind == "replan_failed"
        ]
        inserted += sum(i.detail.startswith("inserted") for i in record.incidents)
        served = Counter((s.order_id, s.kind) for s in record.stops if s.reached)
        assert not served or max(served.values()) == 1
    assert inserted > 0


def test_a_closed_road_slows_the_leg_on_matrices(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    config = TwinConfig(noise=TravelNoise.parse("none"), absent_rate=0.0, road_closures=3)
    record = simulate_day(problem, plan, config=config, seed=1).record
    closed = [i for i in record.incidents if i.kind == "road_closed"]
    assert len(closed) == 3 and all("slowed x3" in i.detail for i in closed)
    slowed = [
        s
        for s in record.stops
        if s.leg_travel_s is not None
        and s.leg_planned_travel_s > 60
        and abs(s.leg_travel_s - 3 * s.leg_planned_travel_s) <= 1
    ]
    assert slowed
    others = [s for s in record.stops if s.leg_travel_s is not None and s not in slowed]
    assert all(s.leg_travel_s == s.leg_planned_travel_s for s in others)


def test_true_speeds_may_differ_from_the_planned_ones(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    truth = MatrixTruth(problem.matrices, problem.locations, speed_factor=0.5)
    record = simulate_day(problem, plan, config=QUIET, truth=truth).record
    legs = [s for s in record.stops if s.leg_travel_s is not None and s.leg_planned_travel_s]
    assert legs
    assert all(abs((s.leg_travel_s or 0) - 2 * s.leg_planned_travel_s) <= 1 for s in legs)
    assert "x0.5 the planned speed" in record.travel


def test_a_given_van_breaks_down_at_a_given_time(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    route = max(plan.routes, key=lambda r: len(r.tasks))
    at = route.tasks[len(route.tasks) // 2].arrival - 60
    broken = Scheduled(at, "breakdown", vehicle_id=route.vehicle_id)
    record = simulate_day(problem, plan, config=QUIET, incidents=[broken]).record
    (incident,) = record.incidents
    assert (incident.t, incident.vehicle_id) == (at, route.vehicle_id)
    stops = record.stops_of(route.vehicle_id)
    assert all((s.arrival or 0) <= at for s in stops if s.status is StopStatus.DONE)
    assert sum(not s.reached for s in stops) >= len(route.tasks) // 2


@pytest.mark.parametrize(
    ("incident", "field"),
    [
        (Scheduled(36_000, "breakdown", vehicle_id="no-such-van"), "incidents[0].vehicle_id"),
        (Scheduled(36_000, "urgent_order"), "incidents[0].order"),
        (Scheduled(36_000, "meteor"), "incidents[0].kind"),
    ],
)
def test_a_bad_incident_names_itself(
    day: tuple[PlanningProblem, Plan], incident: Scheduled, field: str
) -> None:
    problem, plan = day
    with pytest.raises(InputError) as err:
        Twin(problem, plan, incidents=[incident])
    assert err.value.where == field


def test_customers_are_told_the_services_promise_and_a_quiet_day_keeps_it(
    day: tuple[PlanningProblem, Plan],
) -> None:
    problem, plan = day
    record = simulate_day(problem, plan, config=QUIET).record
    visits = {(v.order_id, v.kind): v for r in plan.routes for v in r.tasks}
    windowed = 0
    for s in record.stops:
        assert s.promised_start is not None and s.promised_end is not None
        assert s.promised_start <= s.planned_start <= s.promised_end
        assert s.promised_start % 300 == 0 or s.promised_start == s.window_start
        stop = problem.order(s.order_id).stops[0 if s.kind is not VisitKind.DELIVERY else -1]
        if any(w.is_bounded for w in stop.time_windows):
            windowed += 1
            start = visits[(s.order_id, s.kind)].start
            w = next(w for w in stop.time_windows if w.start <= start <= w.end)
            # Never before the window opens, a range inside the window.
            assert w.start <= s.promised_start <= s.promised_end <= w.end
        # Told when the van sets out: the margin grows with how far ahead the stop is.
        route = plan.route_of(s.vehicle_id)
        assert route is not None
        lead = s.planned_start - route.start_time
        assert s.promised_end - s.promised_start <= 2 * min(3600, 600 + lead / 12) + 600
    assert windowed >= 10
    quiet = summarise(record)[0]
    assert quiet.promises == len(record.stops)
    assert quiet.promises_kept_rate == 1.0
    noisy_day = TwinConfig(noise=TravelNoise.parse("lognormal:sigma=0.6"))
    noisy = summarise(simulate_day(problem, plan, config=noisy_day, seed=2).record)[0]
    assert noisy.promises == quiet.promises
    assert noisy.promises_kept_rate is not None and noisy.promises_kept_rate < 1.0


def test_routes_carry_their_working_hours(day: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = day
    record = simulate_day(problem, plan, config=QUIET).record
    assert record.routes
    for r in record.routes:
        hours = problem.working_hours(problem.vehicle(r.vehicle_id))
        assert hours is not None
        assert (r.shift_start, r.shift_end) == (hours.start, hours.end)
        assert r.shift_start is not None and r.shift_end is not None
        assert r.shift_start <= r.planned_start <= r.planned_end <= r.shift_end
    assert summarise(record)[0].time_utilisation is not None


def test_a_van_back_from_its_round_drives_a_stop_given_to_it_again(
    day: tuple[PlanningProblem, Plan],
) -> None:
    """As the service sends out a van whose round is done while its shift lasts,
    the twin drives what a new plan gives it, from its depot."""
    problem, plan = day
    route = max(plan.routes, key=lambda r: len(r.tasks))
    first, moved = route.tasks[:2]
    assert first.kind is moved.kind is VisitKind.JOB
    vehicle = problem.vehicle(route.vehicle_id)
    # Its round is one stop; the second waits, unassigned.
    short = build_route(problem, vehicle, [Step(VisitKind.JOB, order_id=first.order_id)])
    rest = {v.order_id for v in route.tasks[1:]}
    routes = tuple(short if r.vehicle_id == route.vehicle_id else r for r in plan.routes)
    unassigned = tuple(Unassigned(oid or "", "later", "later") for oid in sorted(rest))
    twin = Twin(problem, Plan(routes, unassigned), config=QUIET)
    back = short.end_time + 60
    list(twin.advance_to(back))
    (ended,) = [r for r in twin.record().routes if r.vehicle_id == route.vehicle_id]
    assert ended.actual_end == short.end_time
    # The next plan gives it the second stop.
    again = build_route(
        problem,
        vehicle,
        [
            Step(VisitKind.JOB, order_id=first.order_id),
            Step(VisitKind.JOB, order_id=moved.order_id),
        ],
    )
    routes = tuple(again if r.vehicle_id == route.vehicle_id else r for r in routes)
    twin.replace_plan(problem, Plan(routes, unassigned[1:]))
    list(twin.advance_to(None))
    record = twin.record()
    (stop,) = [s for s in record.stops if s.order_id == moved.order_id]
    assert stop.vehicle_id == route.vehicle_id
    assert stop.status is StopStatus.DONE and (stop.arrival or 0) > back
    (done,) = [s for s in record.stops if s.order_id == first.order_id]
    assert done.status is StopStatus.DONE and (done.departure or 0) < back
    (ended,) = [r for r in record.routes if r.vehicle_id == route.vehicle_id]
    assert (ended.actual_end or 0) > (stop.departure or 0)
