"""Every unassigned order gets the first reason that holds, in dispatcher's words."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lastmile.domain import (
    Depot,
    Location,
    Order,
    OrderKind,
    Plan,
    Stop,
    TimeWindow,
    Unassigned,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.unassigned import explain_unassigned
from lastmile.planning.validate import validate

H = 3600
# Depot "A" at location 0; location 1 is 41 min away, 2 is 20 min, 3 is 10 min.
MINUTES = np.array(
    [
        [0, 41, 20, 10],
        [41, 0, 30, 35],
        [20, 30, 0, 10],
        [10, 35, 10, 0],
    ]
)
DUR = (MINUTES * 60).astype(np.int64)
DIST = (MINUTES * 500).astype(np.int64)  # 30 km/h
VAN = VehicleType("van", (100, 50), skills=frozenset({"ramp"}))


def make(orders: list[Order], *vehicles: Vehicle) -> PlanningProblem:
    return PlanningProblem(
        locations=tuple(Location() for _ in range(4)),
        matrices={"car": TravelMatrix(DUR, DIST)},
        depots=(Depot("A", 0),),
        vehicles=vehicles or (Vehicle("v1", VAN, shift=TimeWindow(9 * H, 17 * H)),),
        orders=tuple(orders),
        dimensions=("weight_kg", "volume_l"),
    )


def deliver(oid: str, loc: int, *windows: tuple[int, int], **kw: object) -> Order:
    stop = Stop(loc, service=300, time_windows=tuple(TimeWindow(a, b) for a, b in windows))
    return Order(oid, OrderKind.DELIVERY, delivery=stop, amount=(10, 5), **kw)  # type: ignore[arg-type]


def explain_one(problem: PlanningProblem, oid: str) -> Unassigned:
    plan = Plan((), tuple(Unassigned(o.id, "") for o in problem.orders))
    return {u.order_id: u for u in explain_unassigned(problem, plan)}[oid]


def test_skill_nobody_has() -> None:
    cold = deliver("c", 3, skills=frozenset({"refrigerated"}))
    u = explain_one(make([cold]), "c")
    assert u.code == "skills"
    assert u.reason == "needs skill refrigerated: no vehicle has it"


def test_skills_nobody_has_together() -> None:
    fridge = VehicleType("fridge", (100, 50), skills=frozenset({"refrigerated"}))
    both = deliver("c", 3, skills=frozenset({"refrigerated", "ramp"}))
    p = make([both], Vehicle("v1", VAN), Vehicle("v2", fridge))
    u = explain_one(p, "c")
    assert u.code == "skills" and "together" in u.reason


def test_over_every_vehicles_capacity() -> None:
    heavy = Order("h", OrderKind.DELIVERY, delivery=Stop(3), amount=(112, 5))
    u = explain_one(make([heavy]), "h")
    assert u.code == "capacity"
    assert u.reason == "12 kg of weight over every vehicle's capacity"


def test_fits_no_vehicle_in_different_dimensions() -> None:
    tall = VehicleType("tall", (50, 500))
    order = Order("x", OrderKind.DELIVERY, delivery=Stop(3), amount=(80, 80))
    u = explain_one(make([order], Vehicle("v1", VAN), Vehicle("v2", tall)), "x")
    assert u.code == "capacity"
    assert "30 l of volume over v1's capacity" in u.reason
    assert "30 kg of weight over v2's capacity" in u.reason


def test_window_closes_before_earliest_arrival() -> None:
    early = deliver("e", 1, (9 * H, 9 * H + 1800))
    u = explain_one(make([early]), "e")
    assert u.code == "time_window"
    assert u.reason == (
        "window 09:00–09:30 closes before the earliest possible arrival 09:41 from depot A"
    )


def test_window_uses_the_fastest_vehicle() -> None:
    early = deliver("e", 3, (9 * H, 9 * H + 300))
    late_shift = Vehicle("v1", VAN, shift=TimeWindow(10 * H, 17 * H))
    later_shift = Vehicle("v2", VAN, shift=TimeWindow(11 * H, 17 * H))
    u = explain_one(make([early], later_shift, late_shift), "e")
    assert u.code == "time_window" and "10:10" in u.reason


def test_cannot_get_back_before_shift_end() -> None:
    order = deliver("o", 2)
    v = Vehicle("v1", VAN, shift=TimeWindow(9 * H, 9 * H + 1800))
    u = explain_one(make([order], v), "o")
    assert u.code == "shift"
    assert u.reason == "even alone, v1 cannot get back to depot A by 09:30: the earliest is 09:45"


def test_vehicle_limits_even_alone() -> None:
    order = deliver("o", 2)
    for kw, words in (
        ({"max_distance": 15_000}, "20 km, over its maximum 15 km"),
        ({"max_travel_time": 1800}, "drives 40 min, over its maximum 30 min"),
        ({"max_duration": 2400}, "takes at least 45 min, over its maximum 40 min"),
        ({"max_tasks": 0}, "may make at most 0"),
    ):
        u = explain_one(make([order], Vehicle("v1", VAN, **kw)), "o")  # type: ignore[arg-type]
        assert u.code == "shift" and words in u.reason, (kw, u.reason)


def test_max_duration_counts_from_the_latest_sensible_departure() -> None:
    # Leaving at 11:50 instead of 09:00 serves the 12:00 window in 25 minutes.
    late = deliver("l", 3, (12 * H, 12 * H + 1800))
    v = Vehicle("v1", VAN, shift=TimeWindow(9 * H, 17 * H), max_duration=1800)
    assert explain_one(make([late], v), "l").code == "no_room"
    # A shipment whose delivery window opens two hours after its pickup's must wait.
    ship = Order(
        "s",
        OrderKind.SHIPMENT,
        pickup=Stop(3, time_windows=(TimeWindow(10 * H, 10 * H + 600),)),
        delivery=Stop(2, time_windows=(TimeWindow(12 * H, 12 * H + 600),)),
        amount=(1, 1),
    )
    u = explain_one(make([ship], v), "s")
    assert u.code == "shift" and "takes at least 2h20" in u.reason


def test_shipment_delivery_unreachable_after_pickup() -> None:
    ship = Order(
        "s",
        OrderKind.SHIPMENT,
        pickup=Stop(1, service=600),
        delivery=Stop(2, time_windows=(TimeWindow(9 * H, 9 * H + 3600),)),
        amount=(1, 1),
    )
    u = explain_one(make([ship]), "s")
    assert u.code == "time_window"
    assert u.reason.startswith("delivery window 09:00–10:00 closes before the earliest possible")
    assert "10:21" in u.reason and "09:51" in u.reason


def test_no_room_mentions_low_priority() -> None:
    kept = deliver("k", 3, priority=80)
    dropped = deliver("d", 2, priority=10)
    p = make([kept, dropped])
    route = build_route(p, p.vehicles[0], [Step(VisitKind.JOB, order_id="k")])
    plan = Plan((route,), (Unassigned("d", ""),))
    (u,) = explain_unassigned(p, plan)
    assert u.code == "no_room"
    assert u.reason.startswith("not enough vehicle time or capacity left to fit it")
    assert "priority 10" in u.reason and "up to 80" in u.reason
    same = make([deliver("k", 3), deliver("d", 2)])
    (u,) = explain_unassigned(same, plan)
    assert u.reason == "not enough vehicle time or capacity left to fit it"


def test_different_reasons_per_vehicle_are_all_named() -> None:
    order = deliver("o", 2, (9 * H, 10 * H))
    too_late = Vehicle("late", VAN, shift=TimeWindow(11 * H, 17 * H))
    too_short = Vehicle("short", VAN, shift=TimeWindow(9 * H, 9 * H + 1800))
    u = explain_one(make([order], too_late, too_short), "o")
    assert u.code == "time_window"
    assert u.reason.startswith("no vehicle can serve it even alone")
    assert "11:20" in u.reason and "short cannot get back" in u.reason


def test_which_orders_are_explained() -> None:
    p = make([deliver("a", 3), deliver("b", 2), deliver("c", 2)])
    route = build_route(p, p.vehicles[0], [Step(VisitKind.JOB, order_id="a")])
    listed = (Unassigned("c", ""), Unassigned("c", ""), Unassigned("ghost", ""))
    got = explain_unassigned(p, Plan((route,), listed))
    # Listed ones first, each once; then unlisted unserved ones; unknown ids skipped.
    assert [u.order_id for u in got] == ["c", "b"]


# -- property: a "hopeless" reason is never wrong ---------------------------------------


@st.composite
def single_orders(draw: st.DrawFn) -> PlanningProblem:
    n = 4
    dur = np.array(draw(st.lists(st.integers(0, 3600), min_size=n * n, max_size=n * n)))
    dur = dur.reshape(n, n).astype(np.int64)

    def windows() -> tuple[TimeWindow, ...]:
        if not draw(st.booleans()):
            return ()
        a = draw(st.integers(0, 6 * H))
        return (TimeWindow(a, a + draw(st.integers(0, 2 * H))),)

    def stop() -> Stop:
        return Stop(
            draw(st.integers(1, n - 1)), service=draw(st.integers(0, 900)), time_windows=windows()
        )

    kind = draw(st.sampled_from(OrderKind))
    order = Order(
        "o",
        kind,
        pickup=stop() if kind is not OrderKind.DELIVERY else None,
        delivery=stop() if kind is not OrderKind.PICKUP else None,
        amount=(draw(st.integers(0, 120)), 0),
    )
    limits = {
        name: draw(st.none() | st.integers(0, hi))
        for name, hi in (("max_distance", 5000), ("max_travel_time", 5 * H), ("max_tasks", 2))
    }
    start = draw(st.integers(0, 4 * H))
    ends = draw(st.sampled_from([(0, 0), (0, None), (None, 0)]))
    vehicle = Vehicle(
        "v",
        VAN,
        start_depot=ends[0],
        end_depot=ends[1],
        shift=TimeWindow(start, start + draw(st.integers(0, 8 * H))),
        **limits,  # type: ignore[arg-type]
    )
    return PlanningProblem(
        locations=tuple(Location() for _ in range(n)),
        matrices={"car": TravelMatrix(dur, dur * 2)},
        depots=(Depot("A", 0),),
        vehicles=(vehicle,),
        orders=(order,),
        dimensions=("weight_kg", "volume_l"),
    )


@settings(max_examples=300, deadline=None)
@given(single_orders())
def test_hopeless_reasons_are_true_and_no_room_means_feasible_alone(p: PlanningProblem) -> None:
    (order,) = p.orders
    (vehicle,) = p.vehicles
    u = explain_one(p, "o")
    if order.kind is OrderKind.SHIPMENT:
        steps = [Step(VisitKind.PICKUP, order_id="o"), Step(VisitKind.DELIVERY, order_id="o")]
    else:
        steps = [Step(VisitKind.JOB, order_id="o")]
    route = build_route(p, vehicle, steps)
    report = validate(p, Plan((route,)))
    # Without max_duration and breaks, the earliest schedule is the best one there is.
    assert report.ok is (u.code == "no_room"), (u, report.violations)
