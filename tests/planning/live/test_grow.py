"""Growing a live view by locations: the same view as building it on the grown problem."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_cases import day, greedy, grow, line, one_route, orders_for, problems, progress

from lastmile.domain import Location, Order, OrderKind, Plan, Stop, Unassigned
from lastmile.planning.live import LivePlan, insert_order
from lastmile.planning.validate import validate


def test_insert_order_takes_a_grown_problem() -> None:
    problem = day()
    plan = one_route(problem)
    live = LivePlan.build(problem, plan, now_s=0)
    grown = dataclasses.replace(
        problem,
        locations=(*problem.locations, Location(3.5, 0.0, planar=True)),
        matrices={"car": line(9)},
    )
    urgent = Order("u", OrderKind.DELIVERY, delivery=Stop(8, service=60), amount=(1,))
    out = insert_order(grown, live, urgent)
    assert isinstance(out, Plan)
    assert "u" in {v.order_id for v in out.routes[0].tasks}
    assert validate(dataclasses.replace(grown, orders=(*grown.orders, urgent)), out).ok


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_view_grown_by_locations_is_the_view_built_on_them(data: st.DataObject) -> None:
    """``rebase`` on a problem that only adds locations takes the fast path; what it
    gives is what building the view on that problem gives, and inserting an order
    at a new location into either gives the same plan."""
    problem = data.draw(problems())
    base = greedy(problem)
    cuts = [
        (
            data.draw(st.integers(0, 6)),
            data.draw(st.booleans()),
            data.draw(st.booleans()),
            data.draw(st.sampled_from([0, 900])),
        )
        for _ in base.plan.routes
    ]
    states, now = progress(base.plan, cuts)
    live = LivePlan.build(base.problem, base.plan, now_s=now, states=states)
    for route in live.residual_plan.routes:  # route indexes made before growing are kept
        live.view.route_index(route.vehicle_id)
    k = data.draw(st.integers(1, 3))
    grown = grow(base.problem, k, data.draw(st.integers(0, 2**32 - 1)))

    n = len(problem.locations)
    index = {(loc.lon, loc.lat): i for i, loc in enumerate(grown.locations)}

    def between(
        origins: Sequence[Location], destinations: Sequence[Location]
    ) -> tuple[np.ndarray, np.ndarray]:
        at = np.ix_(
            [index[o.lon, o.lat] for o in origins], [index[d.lon, d.lat] for d in destinations]
        )
        g = grown.matrices["car"]
        return g.durations[at], g.distances[at]

    slow = LivePlan.build(grown, live.plan, now_s=now, states=states)
    (order,) = data.draw(orders_for(n + k, 2, "new", 1, loose=True))
    expected = slow.insert(order)

    fast = live.rebase(grown)
    assert fast.residual.locations == slow.residual.locations
    for a, b in (
        (fast.residual.matrices["car"], slow.residual.matrices["car"]),
        (fast.problem.matrices["car"], slow.problem.matrices["car"]),
    ):
        assert np.array_equal(a.durations, b.durations)
        assert np.array_equal(a.distances, b.distances)
    assert fast.residual.orders == slow.residual.orders
    assert fast.residual.depots == slow.residual.depots
    assert fast.residual.vehicles == slow.residual.vehicles
    assert fast.residual_plan == slow.residual_plan
    assert fast.plan == slow.plan
    assert fast.view.tracks == slow.view.tracks
    assert validate(fast.residual, fast.residual_plan).ok
    got = fast.insert(order)
    if isinstance(expected, Unassigned):
        assert isinstance(got, Unassigned) and got.reason == expected.reason
    else:
        assert isinstance(got, LivePlan)
        assert got.plan == expected.plan and got.residual_plan == expected.residual_plan

    # Grown by rows and columns: the new locations come after the private rows,
    # the same plans otherwise (compared by place, not row).
    base = live.next_row
    via = live.with_locations(grown.locations[n:], {"car": between})
    assert via.problem.locations == via.residual.locations
    assert via.problem.locations[base:] == grown.locations[n:]
    assert via.residual_plan == live.residual_plan and via.plan == live.plan
    assert validate(via.residual, via.residual_plan).ok

    def at(i: int) -> int:
        return base + i - n if i >= n else i

    moved = dataclasses.replace(
        order,
        pickup=dataclasses.replace(order.pickup, location=at(order.pickup.location))
        if order.pickup
        else None,
        delivery=dataclasses.replace(order.delivery, location=at(order.delivery.location))
        if order.delivery
        else None,
    )

    def places(lp: LivePlan) -> list[tuple[object, ...]]:
        locs = lp.problem.locations
        return [
            (r.vehicle_id, v.kind, v.order_id, v.arrival, v.departure, v.load, locs[v.location])
            for r in lp.plan.routes
            for v in r.visits
        ]

    got = via.insert(moved)
    if isinstance(expected, Unassigned):
        assert isinstance(got, Unassigned) and got.reason == expected.reason
    else:
        assert isinstance(got, LivePlan)
        assert got.plan.cost == expected.plan.cost
        assert places(got) == places(expected)
        assert validate(got.residual, got.residual_plan).ok
        # Growing again writes into the room the first growth left.
        again = got.with_locations(
            [Location(float(n + k + 1), 2.0, planar=True)],
            {"car": lambda o, d: (np.ones((len(o), len(d)), np.int64),) * 2},
        )
        assert again.residual.matrices["car"].durations.base is not None
        assert validate(again.residual, again.residual_plan).ok
