"""build_route computes times, loads and distances the way the docs say."""

from __future__ import annotations

import numpy as np

from lastmile.domain import (
    Break,
    Depot,
    Location,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route

# Locations 0 (depot), 1, 2, 3 on a line, 100 s and 1 km apart.
POS = np.array([0, 1, 2, 3])
DUR = np.abs(POS[:, None] - POS[None, :]).astype(np.int64) * 100
DIST = DUR * 10


def problem(orders: tuple[Order, ...], vehicle: Vehicle, depots: int = 1) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location(float(i), 0.0, planar=True) for i in range(4)),
        matrices={"car": TravelMatrix(DUR, DIST)},
        depots=tuple(Depot(f"d{i}", i, reload_time=50) for i in range(depots)),
        vehicles=(vehicle,),
        orders=orders,
        dimensions=("kg",),
    )


VT = VehicleType("t", (10,), cost_per_hour=3600, cost_per_km=0, fixed_cost=7)


def job(oid: str) -> Step:
    return Step(VisitKind.JOB, order_id=oid)


def test_waits_for_window_and_delays_departure() -> None:
    orders = (
        Order(
            "a",
            OrderKind.DELIVERY,
            delivery=Stop(1, service=20, time_windows=(TimeWindow(500, 900),)),
            amount=(4,),
        ),
        Order("b", OrderKind.DELIVERY, delivery=Stop(2, service=10), amount=(5,)),
    )
    v = Vehicle("v", VT, shift=TimeWindow(0, 10_000))
    route = build_route(problem(orders, v), v, [job("a"), job("b")])
    start, a, b, end = route.visits
    # The vehicle leaves late enough not to wait at its first stop.
    assert (start.departure, a.arrival, a.start, a.departure) == (400, 500, 500, 520)
    assert (b.arrival, b.start, b.departure) == (620, 620, 630)
    assert end.arrival == 830
    assert [x.load for x in route.visits] == [(9,), (5,), (0,), (0,)]
    assert route.distance == 4000 and route.travel == 400
    assert route.cost == 7 + 400  # fixed + one cost unit per second of driving


def test_second_window_is_used_when_first_is_missed() -> None:
    windows = (TimeWindow(0, 50), TimeWindow(1000, 1100))
    orders = (Order("a", OrderKind.DELIVERY, delivery=Stop(2, time_windows=windows)),)
    v = Vehicle("v", VT, shift=TimeWindow(0, 5000))
    route = build_route(problem(orders, v), v, [job("a")])
    assert route.visits[1].start == 1000


def test_setup_only_when_location_changes() -> None:
    orders = (
        Order("a", OrderKind.DELIVERY, delivery=Stop(1, setup=30, service=10)),
        Order("b", OrderKind.DELIVERY, delivery=Stop(1, setup=30, service=10)),
    )
    v = Vehicle("v", VT)
    route = build_route(problem(orders, v), v, [job("a"), job("b")])
    a, b = route.visits[1], route.visits[2]
    assert a.departure - a.start == 40
    assert b.departure - b.start == 10


def test_break_is_taken_on_the_way() -> None:
    orders = (Order("a", OrderKind.DELIVERY, delivery=Stop(2)),)
    lunch = Break("lunch", (TimeWindow(300, 400),), 60)
    v = Vehicle("v", VT, breaks=(lunch,))
    route = build_route(problem(orders, v), v, [job("a"), Step(VisitKind.BREAK, break_id="lunch")])
    brk = route.visits[2]
    # Leaves "a" at 200 towards the depot (200 s away), pulls over when the
    # window opens at 300, rests 60 s, then drives the last 100 s.
    assert brk.kind is VisitKind.BREAK and brk.location == 2
    assert (brk.arrival, brk.start, brk.departure) == (300, 300, 360)
    assert route.visits[-1].arrival == 460
    assert route.travel == 400


def test_break_waits_at_the_next_stop_when_the_leg_is_short() -> None:
    orders = (
        Order("a", OrderKind.DELIVERY, delivery=Stop(1)),
        Order("b", OrderKind.DELIVERY, delivery=Stop(2)),
    )
    lunch = Break("lunch", (TimeWindow(500, 600),), 60)
    v = Vehicle("v", VT, breaks=(lunch,))
    steps = [job("a"), Step(VisitKind.BREAK, break_id="lunch"), job("b")]
    route = build_route(problem(orders, v), v, steps)
    brk, b = route.visits[2], route.visits[3]
    # Reaches b at 200, waits for the window, rests 500-560, then serves b.
    assert (brk.location, brk.arrival, brk.start, brk.departure) == (2, 200, 500, 560)
    assert b.arrival == 560


def test_pickups_and_shipments_change_load() -> None:
    orders = (
        Order("d", OrderKind.DELIVERY, delivery=Stop(1), amount=(3,)),
        Order("p", OrderKind.PICKUP, pickup=Stop(2), amount=(4,)),
        Order("s", OrderKind.SHIPMENT, pickup=Stop(1), delivery=Stop(3), amount=(2,)),
    )
    v = Vehicle("v", VT)
    steps = [
        job("d"),
        Step(VisitKind.PICKUP, order_id="s"),
        job("p"),
        Step(VisitKind.DELIVERY, order_id="s"),
    ]
    route = build_route(problem(orders, v), v, steps)
    assert [x.load for x in route.visits] == [(3,), (0,), (2,), (6,), (4,), (4,)]


def test_reload_loads_next_trip() -> None:
    orders = tuple(
        Order(k, OrderKind.DELIVERY, delivery=Stop(loc), amount=(6,))
        for k, loc in (("a", 1), ("b", 2))
    )
    v = Vehicle("v", VT, reload_depots=(0,))
    steps = [job("a"), Step(VisitKind.RELOAD, depot=0), job("b")]
    route = build_route(problem(orders, v), v, steps)
    assert [x.kind for x in route.visits] == [
        VisitKind.START,
        VisitKind.JOB,
        VisitKind.RELOAD,
        VisitKind.JOB,
        VisitKind.END,
    ]
    assert [x.load for x in route.visits] == [(6,), (0,), (6,), (0,), (0,)]
    reload = route.visits[2]
    assert reload.departure - reload.start == 50


def test_open_end_stops_at_last_stop() -> None:
    orders = (Order("a", OrderKind.DELIVERY, delivery=Stop(3)),)
    v = Vehicle("v", VT, end_depot=None)
    route = build_route(problem(orders, v), v, [job("a")])
    assert route.visits[-1].kind is VisitKind.JOB
    assert route.distance == 3000


def test_open_start_begins_at_first_stop() -> None:
    orders = (
        Order("a", OrderKind.DELIVERY, delivery=Stop(3)),
        Order("b", OrderKind.DELIVERY, delivery=Stop(2)),
    )
    v = Vehicle("v", VT, start_depot=None, end_depot=0)
    route = build_route(problem(orders, v), v, [job("a"), job("b")])
    assert route.visits[0].kind is VisitKind.JOB
    assert route.distance == 1000 + 2000


def test_empty_route_costs_nothing() -> None:
    v = Vehicle("v", VT)
    route = build_route(problem((), v), v, [])
    assert route.cost == 0 and not route.tasks
