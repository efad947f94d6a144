"""The validator finds every kind of broken rule, and nothing in correct plans."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Route,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import InvalidPlan, validate

# Locations 0..4 on a line, 10 minutes and 1 km apart. Depot "A" at 0, "B" at 4.
POS = np.arange(5)
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 600
DIST = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 1000
H = 3600
VT = VehicleType("van", (10,), skills=frozenset({"ramp"}), cost_per_hour=3600, cost_per_km=2)


def delivery(oid: str, loc: int, amount: int = 1, **stop: object) -> Order:
    return Order(oid, OrderKind.DELIVERY, delivery=Stop(loc, **stop), amount=(amount,))  # type: ignore[arg-type]


def pickup(oid: str, loc: int, amount: int = 1) -> Order:
    return Order(oid, OrderKind.PICKUP, pickup=Stop(loc), amount=(amount,))


def shipment(oid: str, a: int, b: int, amount: int = 1) -> Order:
    return Order(oid, OrderKind.SHIPMENT, pickup=Stop(a), delivery=Stop(b), amount=(amount,))


def make(orders: list[Order], *vehicles: Vehicle) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(5)),
        matrices={"car": TravelMatrix(DUR, DIST)},
        depots=(Depot("A", 0, reload_time=300), Depot("B", 4, TimeWindow(0, 3 * H))),
        vehicles=vehicles or (Vehicle("v1", VT),),
        orders=tuple(orders),
        dimensions=("kg",),
    )


def job(oid: str) -> Step:
    return Step(VisitKind.JOB, order_id=oid)


def plan_of(problem: PlanningProblem, *routes: tuple[str, list[Step]]) -> Plan:
    built = tuple(build_route(problem, problem.vehicle(v), steps) for v, steps in routes)
    served = {v.order_id for r in built for v in r.visits}
    missing = tuple(Unassigned(o.id, "test") for o in problem.orders if o.id not in served)
    return Plan(built, missing)


def with_visit(plan: Plan, route: int, index: int, **changes: object) -> Plan:
    """``plan`` with one visit's fields changed."""
    r = plan.routes[route]
    visits = list(r.visits)
    visits[index] = dataclasses.replace(visits[index], **changes)  # type: ignore[arg-type]
    routes = list(plan.routes)
    routes[route] = dataclasses.replace(r, visits=tuple(visits))
    return dataclasses.replace(plan, routes=tuple(routes))


def codes(problem: PlanningProblem, plan: Plan, **kw: bool) -> set[str]:
    return set(validate(problem, plan, **kw).codes)


# -- correct plans --------------------------------------------------------------------


def test_correct_plan_passes_and_totals_are_recomputed() -> None:
    orders = [delivery("a", 1, 3), pickup("p", 2, 4), shipment("s", 1, 3, 2)]
    p = make(orders)
    steps = [job("a"), Step(VisitKind.PICKUP, order_id="s"), job("p")]
    plan = plan_of(p, ("v1", [*steps, Step(VisitKind.DELIVERY, order_id="s")]))
    report = validate(p, plan)
    assert report.ok, report.violations
    report.raise_if_invalid()
    assert (report.cost, report.distance, report.travel) == (plan.cost, 6000, 3600)
    assert report.cost == 3600 + 2 * 6


def test_empty_plan_with_everything_unassigned_passes() -> None:
    p = make([delivery("a", 1)])
    report = validate(p, Plan((), (Unassigned("a", "why not"),)))
    assert report.ok and report.cost == 0


def test_route_without_tasks_costs_nothing_and_needs_no_break() -> None:
    lunch = Break("lunch", (TimeWindow(0, H),), 600)
    p = make([delivery("a", 1)], Vehicle("v1", VT, breaks=(lunch,)))
    plan = plan_of(p, ("v1", []))
    assert plan.routes[0].cost == 0
    assert validate(p, dataclasses.replace(plan, unassigned=(Unassigned("a", "x"),))).ok


def test_open_routes_and_reloads_pass() -> None:
    orders = [delivery("a", 1, 8), delivery("b", 2, 8)]
    open_end = Vehicle("v1", VT, end_depot=None, reload_depots=(0,), max_reloads=1)
    p = make(orders, open_end)
    plan = plan_of(p, ("v1", [job("a"), Step(VisitKind.RELOAD, depot=0), job("b")]))
    assert plan.routes[0].visits[-1].kind is VisitKind.JOB
    assert validate(p, plan).ok


def test_open_start_with_leading_break_passes() -> None:
    lunch = Break("lunch", (TimeWindow(0, H),), 600)
    v = Vehicle("v1", VT, start_depot=None, breaks=(lunch,))
    p = make([delivery("a", 2)], v)
    plan = plan_of(p, ("v1", [Step(VisitKind.BREAK, break_id="lunch"), job("a")]))
    assert validate(p, plan).ok


# -- one failing case per code ------------------------------------------------------------


def test_unknown_vehicle_and_duplicate_vehicle() -> None:
    p = make([delivery("a", 1), delivery("b", 2)])
    plan = plan_of(p, ("v1", [job("a")]), ("v1", [job("b")]))
    assert "duplicate_vehicle" in codes(p, plan)
    ghost = dataclasses.replace(plan.routes[1], vehicle_id="ghost")
    got = validate(p, dataclasses.replace(plan, routes=(plan.routes[0], ghost)))
    assert got.codes == {"unknown_vehicle"}
    assert "ghost" in got.violations[0].message


def test_unknown_order_in_a_route_and_in_unassigned() -> None:
    p = make([delivery("a", 1)])
    plan = plan_of(p, ("v1", [job("a")]))
    bad = with_visit(plan, 0, 1, order_id="zzz")
    # The START load still includes order a's goods, so the load mismatch is real too.
    assert codes(p, bad) == {"unknown_order", "unserved", "load"}
    listed = dataclasses.replace(plan, unassigned=(Unassigned("nope", "x"),))
    assert codes(p, listed) == {"unknown_order"}


def test_unknown_break_and_unknown_depot() -> None:
    lunch = Break("lunch", (TimeWindow(0, H),), 600)
    p = make([delivery("a", 1)], Vehicle("v1", VT, breaks=(lunch,), reload_depots=(0,)))
    steps = [job("a"), Step(VisitKind.BREAK, break_id="lunch")]
    plan = plan_of(p, ("v1", steps))
    assert validate(p, plan).ok
    assert "unknown_break" in codes(p, with_visit(plan, 0, 2, break_id="nap"))
    plan = plan_of(p, ("v1", [*steps, Step(VisitKind.RELOAD, depot=0)]))
    assert "unknown_depot" in codes(p, with_visit(plan, 0, 3, depot=7))


def test_sequence_start_missing_or_at_wrong_depot() -> None:
    p = make([delivery("a", 1)])
    plan = plan_of(p, ("v1", [job("a")]))
    r = plan.routes[0]
    headless = dataclasses.replace(plan, routes=(dataclasses.replace(r, visits=r.visits[1:]),))
    assert "sequence" in codes(p, headless)
    assert "sequence" in codes(p, with_visit(plan, 0, 0, depot=1))
    # An open-ended vehicle must not have an END.
    open_end = Vehicle("v1", VT, end_depot=None)
    p2 = make([delivery("a", 1)], open_end)
    assert "sequence" in codes(p2, plan)


def test_kind_mismatch() -> None:
    p = make([delivery("a", 1)])
    plan = plan_of(p, ("v1", [job("a")]))
    assert "kind" in codes(p, with_visit(plan, 0, 1, kind=VisitKind.PICKUP))


def test_location_of_stop_and_of_break() -> None:
    lunch = Break("lunch", (TimeWindow(0, H),), 600)
    p = make([delivery("a", 1)], Vehicle("v1", VT, breaks=(lunch,)))
    plan = plan_of(p, ("v1", [job("a"), Step(VisitKind.BREAK, break_id="lunch")]))
    assert "location" in codes(p, with_visit(plan, 0, 1, location=3))
    assert codes(p, with_visit(plan, 0, 2, location=3)) == {"location"}


def test_arrival_must_follow_travel() -> None:
    p = make([delivery("a", 2)])
    plan = plan_of(p, ("v1", [job("a")]))
    a = plan.routes[0].visits[1]
    early = with_visit(plan, 0, 1, arrival=a.arrival - 60, start=a.start - 60)
    got = validate(p, dataclasses.replace(early, routes=(early.routes[0],)))
    assert "arrival" in got.codes
    assert "00:19" in got.of("arrival")[0].message  # arrives 00:19, driving gives 00:20


def test_timing_start_before_arrival_or_leaving_too_early() -> None:
    p = make([delivery("a", 1, service=300)])
    plan = plan_of(p, ("v1", [job("a")]))
    a = plan.routes[0].visits[1]
    assert codes(p, with_visit(plan, 0, 1, start=a.arrival - 1)) == {"timing"}
    assert codes(p, with_visit(plan, 0, 1, departure=a.departure - 1)) >= {"timing"}


def test_time_window_missed_is_reported_in_clock_time() -> None:
    late = delivery("a", 3, time_windows=(TimeWindow(9 * H, 9 * H + 1800),))
    v = Vehicle("v1", VT, shift=TimeWindow(9 * H, 20 * H))
    p = make([late, delivery("b", 1)], v)
    plan = plan_of(p, ("v1", [job("b"), job("a")]))
    assert validate(p, plan).ok
    v_late = Vehicle("v1", VT, shift=TimeWindow(9 * H + 1200, 20 * H))
    p2 = make([late, delivery("b", 1)], v_late)
    plan2 = plan_of(p2, ("v1", [job("b"), job("a")]))
    got = validate(p2, plan2)
    assert got.codes == {"time_window"}
    v = got.violations[0]
    assert (v.vehicle_id, v.order_id) == ("v1", "a")
    assert "09:50" in v.message and "09:00–09:30" in v.message


def test_break_missing_outside_window_short_or_twice() -> None:
    lunch = Break("lunch", (TimeWindow(0, 900),), 600)
    p = make([delivery("a", 1), delivery("b", 2)], Vehicle("v1", VT, breaks=(lunch,)))
    assert codes(p, plan_of(p, ("v1", [job("a"), job("b")]))) == {"break"}
    brk = Step(VisitKind.BREAK, break_id="lunch")
    late = plan_of(p, ("v1", [job("a"), job("b"), brk]))
    assert codes(p, late) == {"break"}
    good = plan_of(p, ("v1", [job("a"), brk, job("b")]))
    assert validate(p, good).ok
    short = with_visit(good, 0, 2, departure=good.routes[0].visits[2].departure - 1)
    assert "break" in codes(p, short)
    twice = plan_of(p, ("v1", [brk, job("a"), brk, job("b")]))
    assert "break" in codes(p, twice)


def test_shift_start_and_shift_end() -> None:
    v = Vehicle("v1", VT, shift=TimeWindow(8 * H, 8 * H + 1000))
    p = make([delivery("a", 2)], v)
    plan = plan_of(p, ("v1", [job("a")]))
    got = validate(p, plan)
    assert got.codes == {"shift_end"}
    assert "08:40" in got.violations[0].message and "08:16" in got.violations[0].message
    early = Route("v1", (build_route(p, v, [job("a")], start_time=7 * H)).visits, plan.cost)
    assert "shift_start" in codes(p, dataclasses.replace(plan, routes=(early,)))


def test_depot_windows() -> None:
    # Depot B closes at 03:00; returning there later breaks its window.
    v = Vehicle("v1", VT, start_depot=1, end_depot=1, shift=TimeWindow(2 * H + 1800, 10 * H))
    p = make([delivery("a", 1)], v)
    got = validate(p, plan_of(p, ("v1", [job("a")])))
    assert got.codes == {"depot_window"}
    assert "03:00" in got.violations[0].message


@pytest.mark.parametrize(
    ("limit", "value"),
    [("max_duration", 2000), ("max_travel_time", 2000), ("max_distance", 3000), ("max_tasks", 1)],
)
def test_vehicle_limits(limit: str, value: int) -> None:
    v = Vehicle("v1", VT, **{limit: value})  # type: ignore[arg-type]
    p = make([delivery("a", 1), delivery("b", 2)], v)
    assert validate(p, plan_of(p, ("v1", [job("a")]))).ok
    assert codes(p, plan_of(p, ("v1", [job("a"), job("b")]))) == {limit}


def test_capacity_with_deliveries_pickups_and_reloads() -> None:
    orders = [delivery("a", 1, 6), delivery("b", 2, 6), pickup("p", 3, 9)]
    v = Vehicle("v1", VT, reload_depots=(0,))
    p = make(orders, v)
    got = validate(p, plan_of(p, ("v1", [job("a"), job("b")])))
    assert got.codes == {"capacity"}
    assert "12 kg" in got.violations[0].message
    reload = Step(VisitKind.RELOAD, depot=0)
    assert validate(p, plan_of(p, ("v1", [job("a"), reload, job("b")]))).ok
    # The pickup's 9 kg ride on top of the 6 kg still to deliver.
    assert "capacity" in codes(p, plan_of(p, ("v1", [job("p"), job("a")])))
    assert validate(p, plan_of(p, ("v1", [job("a"), job("p")]))).ok


def test_shipment_stays_on_board_across_a_reload() -> None:
    orders = [shipment("s", 1, 2, 4), delivery("a", 3, 5)]
    p = make(orders, Vehicle("v1", VT, reload_depots=(0,)))
    steps = [
        Step(VisitKind.PICKUP, order_id="s"),
        Step(VisitKind.RELOAD, depot=0),
        job("a"),
        Step(VisitKind.DELIVERY, order_id="s"),
    ]
    plan = plan_of(p, ("v1", steps))
    # start, pickup, reload (5 kg for the trip + 4 kg in transit), job, delivery, end
    loads = [(0,), (4,), (9,), (4,), (0,), (0,)]
    for i, load in enumerate(loads):
        plan = with_visit(plan, 0, i, load=load)
    assert validate(p, plan).ok


def test_reported_load_distance_travel_and_cost_must_match() -> None:
    p = make([delivery("a", 1, 3), delivery("b", 2, 3)])
    plan = plan_of(p, ("v1", [job("a"), job("b")]))
    assert codes(p, with_visit(plan, 0, 1, load=(5,))) == {"load"}
    assert codes(p, with_visit(plan, 0, 2, distance=1)) == {"distance"}
    assert codes(p, with_visit(plan, 0, 3, travel=1)) == {"travel"}
    wrong = dataclasses.replace(plan.routes[0], cost=plan.routes[0].cost + 1)
    costly = dataclasses.replace(plan, routes=(wrong,))
    assert codes(p, costly) == {"cost"}
    assert validate(p, costly, check_cost=False).ok


def test_skills() -> None:
    cold = Order(
        "c", OrderKind.DELIVERY, delivery=Stop(1), amount=(1,), skills=frozenset({"fridge"})
    )
    p = make([cold])
    got = validate(p, plan_of(p, ("v1", [job("c")])))
    assert got.codes == {"skills"} and "fridge" in got.violations[0].message


def test_precedence_same_vehicle_and_across_vehicles() -> None:
    p = make([shipment("s", 1, 3)], Vehicle("v1", VT), Vehicle("v2", VT))
    pick, drop = Step(VisitKind.PICKUP, order_id="s"), Step(VisitKind.DELIVERY, order_id="s")
    assert validate(p, plan_of(p, ("v1", [pick, drop]))).ok
    assert "precedence" in codes(p, plan_of(p, ("v1", [drop, pick])))
    assert "precedence" in codes(p, plan_of(p, ("v1", [pick]), ("v2", [drop])))


def test_incomplete_shipment() -> None:
    p = make([shipment("s", 1, 3)])
    plan = plan_of(p, ("v1", [Step(VisitKind.PICKUP, order_id="s")]))
    assert codes(p, plan) == {"incomplete"}


def test_reload_at_wrong_depot_or_too_often() -> None:
    orders = [delivery("a", 1), delivery("b", 2), delivery("c", 3)]
    p = make(orders, Vehicle("v1", VT, reload_depots=(0,), max_reloads=1))
    r0, r1 = Step(VisitKind.RELOAD, depot=0), Step(VisitKind.RELOAD, depot=1)
    assert validate(p, plan_of(p, ("v1", [job("a"), r0, job("b"), job("c")]))).ok
    assert codes(p, plan_of(p, ("v1", [job("a"), r1, job("b"), job("c")]))) == {"reload"}
    assert codes(p, plan_of(p, ("v1", [job("a"), r0, job("b"), r0, job("c")]))) == {"reload"}


def test_duplicate_served_and_unassigned_and_unserved() -> None:
    p = make([delivery("a", 1), delivery("b", 2)], Vehicle("v1", VT), Vehicle("v2", VT))
    twice = plan_of(p, ("v1", [job("a"), job("b")]), ("v2", [job("a")]))
    assert codes(p, twice) == {"duplicate"}
    plan = plan_of(p, ("v1", [job("a")]))
    listed_twice = dataclasses.replace(plan, unassigned=plan.unassigned * 2)
    assert codes(p, listed_twice) == {"duplicate"}
    both = dataclasses.replace(plan, unassigned=(*plan.unassigned, Unassigned("a", "x")))
    assert codes(p, both) == {"served_and_unassigned"}
    neither = dataclasses.replace(plan, unassigned=())
    got = validate(p, neither)
    assert got.codes == {"unserved"} and got.violations[0].order_id == "b"


def test_raise_if_invalid_lists_violations() -> None:
    p = make([delivery("a", 1), delivery("b", 2)])
    plan = Plan(())
    with pytest.raises(InvalidPlan) as err:
        validate(p, plan).raise_if_invalid()
    assert len(err.value.violations) == 2
    assert "2 violation(s)" in str(err.value) and "'b'" in str(err.value)


def test_benchmark_time_scale_prints_instance_units() -> None:
    p = dataclasses.replace(
        make([delivery("a", 3, time_windows=(TimeWindow(0, 100),))]), time_scale=10
    )
    got = validate(p, plan_of(p, ("v1", [job("a")])))
    assert got.codes == {"time_window"} and "180" in got.violations[0].message


def test_a_thousand_stops_validate_in_linear_time() -> None:
    rng = np.random.default_rng(3)
    n = 1000
    xy = rng.uniform(0, 10_000, size=(n + 1, 2))
    d = np.rint(np.sqrt(((xy[:, None] - xy[None, :]) ** 2).sum(-1))).astype(np.int64)
    orders = [delivery(f"o{i}", i, 1, service=60) for i in range(1, n + 1)]
    big = VehicleType("truck", (n,))
    p = PlanningProblem(
        locations=tuple(Location(float(x), float(y), planar=True) for x, y in xy),
        matrices={"car": TravelMatrix(d, d)},
        depots=(Depot("A", 0),),
        vehicles=(Vehicle("v", big),),
        orders=tuple(orders),
        dimensions=("kg",),
    )
    plan = plan_of(p, ("v", [job(o.id) for o in orders]))
    validate(p, plan)  # warm up
    began = time.perf_counter()
    report = validate(p, plan)
    elapsed = time.perf_counter() - began
    assert report.ok
    # Typically ~3 ms (about 15 ms on a loaded 2-core machine); the bound only
    # catches accidental quadratic work, not scheduling noise.
    assert elapsed < 0.25


# -- property: build_route output on any sequence is accepted -----------------------------


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[PlanningProblem, Plan]:
    """A random tiny problem with no windows and ample capacity, and a random plan."""
    n_loc = draw(st.integers(2, 6))
    dur = draw(
        st.lists(st.integers(0, 5000), min_size=n_loc * n_loc, max_size=n_loc * n_loc).map(
            lambda xs: np.array(xs, dtype=np.int64).reshape(n_loc, n_loc)
        )
    )
    dist = draw(
        st.lists(st.integers(0, 9000), min_size=n_loc * n_loc, max_size=n_loc * n_loc).map(
            lambda xs: np.array(xs, dtype=np.int64).reshape(n_loc, n_loc)
        )
    )
    locs = st.integers(0, n_loc - 1)
    stop = st.builds(Stop, locs, service=st.integers(0, 900), setup=st.integers(0, 300))
    n_orders = draw(st.integers(0, 6))
    orders = []
    for i in range(n_orders):
        kind = draw(st.sampled_from(OrderKind))
        amount = (draw(st.integers(0, 20)), draw(st.integers(0, 20)))
        orders.append(
            Order(
                f"o{i}",
                kind,
                pickup=draw(stop) if kind is not OrderKind.DELIVERY else None,
                delivery=draw(stop) if kind is not OrderKind.PICKUP else None,
                amount=amount,
            )
        )
    depots = tuple(
        Depot(f"d{i}", draw(locs), reload_time=draw(st.integers(0, 600))) for i in (0, 1)
    )
    vtype = VehicleType(
        "t",
        (10**6, 10**6),
        profile="car",
        fixed_cost=draw(st.integers(0, 100)),
        cost_per_hour=draw(st.integers(0, 7200)),
        cost_per_km=draw(st.integers(0, 50)),
    )
    vehicles = []
    for i in range(draw(st.integers(1, 2))):
        ends = draw(st.sampled_from([(0, 0), (0, 1), (1, None), (None, 0)]))
        brks = tuple(
            Break(f"b{j}", (TimeWindow(0, 10**9),), draw(st.integers(0, 1800)))
            for j in range(draw(st.integers(0, 2)))
        )
        reloads = draw(st.sampled_from([(), (0,), (0, 1)]))
        vehicles.append(
            Vehicle(
                f"v{i}",
                vtype,
                start_depot=ends[0],
                end_depot=ends[1],
                shift=TimeWindow(draw(st.integers(0, 3600)), 10**9),
                breaks=brks,
                reload_depots=reloads,
            )
        )
    problem = PlanningProblem(
        locations=tuple(Location() for _ in range(n_loc)),
        matrices={"car": TravelMatrix(dur, dist)},
        depots=depots,
        vehicles=tuple(vehicles),
        orders=tuple(orders),
        dimensions=("kg", "l"),
    )
    routes = []
    owner = [draw(st.integers(-1, len(vehicles) - 1)) for _ in orders]
    for vi, vehicle in enumerate(vehicles):
        steps: list[Step] = []
        for order, who in zip(orders, owner, strict=True):
            if who != vi:
                continue
            if order.kind is OrderKind.SHIPMENT:
                # A shipment is picked up and delivered within one trip.
                at = draw(st.integers(0, len(steps)))
                steps[at:at] = [
                    Step(VisitKind.PICKUP, order_id=order.id),
                    Step(VisitKind.DELIVERY, order_id=order.id),
                ]
            else:
                steps.insert(draw(st.integers(0, len(steps))), job(order.id))
        if steps and vehicle.reload_depots:
            open_shipments = 0
            for at in range(len(steps), 0, -1):
                # open_shipments: picked up before ``at`` and delivered after it.
                if open_shipments == 0 and draw(st.booleans()):
                    depot = draw(st.sampled_from(vehicle.reload_depots))
                    steps.insert(at, Step(VisitKind.RELOAD, depot=depot))
                kind = steps[at - 1].kind
                open_shipments += {VisitKind.DELIVERY: 1, VisitKind.PICKUP: -1}.get(kind, 0)
        if steps:
            for b in vehicle.breaks:
                steps.insert(draw(st.integers(0, len(steps))), Step(VisitKind.BREAK, break_id=b.id))
        if steps or draw(st.booleans()):
            routes.append(build_route(problem, vehicle, steps))
    unassigned = tuple(
        Unassigned(o.id, "left out") for o, who in zip(orders, owner, strict=True) if who < 0
    )
    return problem, Plan(tuple(routes), unassigned)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_violation_is_real(scenario: tuple[PlanningProblem, Plan]) -> None:
    problem, plan = scenario
    report = validate(problem, plan)
    assert report.ok, report.violations
    assert (report.cost, report.distance, report.travel) == (plan.cost, plan.distance, plan.travel)
