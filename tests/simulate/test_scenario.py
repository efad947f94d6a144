"""Generated delivery days: the same seed gives the same day, and the day is plannable."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lastmile.domain import Order, OrderKind, Plan, Unassigned
from lastmile.planning.live import LivePlan
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.validate import validate
from lastmile.simulate import CitySpec, city_day, random_matrix_problem
from lastmile.travel.haversine import HaversineModel

HOUR = 3600


def same(a: PlanningProblem, b: PlanningProblem) -> bool:
    """Whether two problems have the same content (matrices compared element-wise)."""
    if (a.orders, a.vehicles, a.depots, a.locations, a.name) != (
        b.orders,
        b.vehicles,
        b.depots,
        b.locations,
        b.name,
    ) or a.matrices.keys() != b.matrices.keys():
        return False
    return all(
        np.array_equal(a.matrices[k].durations, b.matrices[k].durations)
        and np.array_equal(a.matrices[k].distances, b.matrices[k].distances)
        for k in a.matrices
    )


def test_city_day_is_deterministic_per_seed() -> None:
    assert same(city_day(n_orders=60, seed=4), city_day(n_orders=60, seed=4))
    assert not same(city_day(n_orders=60, seed=4), city_day(n_orders=60, seed=5))
    r1 = random_matrix_problem(n_orders=20, n_vehicles=3, seed=9)
    r2 = random_matrix_problem(n_orders=20, n_vehicles=3, seed=9)
    assert same(r1, r2)


def test_city_day_has_the_fleet_and_orders_asked_for() -> None:
    p = city_day(n_orders=120, n_vans=6, n_bikes=2, seed=1)
    assert len(p.orders) == 120 and len({o.id for o in p.orders}) == 120
    assert [v.id for v in p.vehicles] == [f"van-0{k}" for k in range(1, 7)] + [
        "bike-01",
        "bike-02",
    ]
    assert {v.type.profile for v in p.vehicles} == {"van", "bike"}
    assert all(v.start_depot == v.end_depot for v in p.vehicles)
    assert {p.depots[v.start_depot].id for v in p.vehicles if v.start_depot is not None} == {
        "main",
        "hub",
    }
    # two depots, one customer place per order, and one shop per shipment
    shipments = sum(o.kind is OrderKind.SHIPMENT for o in p.orders)
    assert len(p.locations) == 2 + len(p.orders) + shipments
    kinds = {o.kind for o in p.orders}
    assert kinds == {OrderKind.DELIVERY, OrderKind.PICKUP, OrderKind.SHIPMENT}
    assert p.dimensions == ("weight_kg", "volume_l", "parcels")


def test_every_order_has_a_vehicle_that_can_take_it() -> None:
    p = city_day(n_orders=150, n_vans=5, n_bikes=1, seed=2)
    assert any(o.skills for o in p.orders)
    for order in p.orders:
        able = [
            v
            for v in p.vehicles
            if order.skills <= v.skills
            and all(a <= c for a, c in zip(p.amount(order), v.capacity, strict=True))
        ]
        assert able, order.id


def test_windows_are_ordered_slots_within_the_day() -> None:
    p = city_day(n_orders=150, seed=3)
    two = 0
    for order in p.orders:
        for stop in order.stops:
            windows = stop.time_windows
            assert windows
            assert all(8 * HOUR <= w.start < w.end <= 20 * HOUR for w in windows)
            assert all(a.end < b.start for a, b in itertools.pairwise(windows))
            two += len(windows) == 2
    assert two > 0  # some customers offer a second slot


def test_breaks_and_setup_can_be_left_out() -> None:
    full = city_day(n_orders=30, seed=6)
    assert all(v.breaks for v in full.vehicles if v.type.profile == "van")
    assert any(s.setup for o in full.orders for s in o.stops)
    no_breaks = city_day(n_orders=30, seed=6, breaks=False)
    assert not any(v.breaks for v in no_breaks.vehicles)
    # breaks take nothing from the random stream: the orders are the same
    assert no_breaks.orders == full.orders
    no_setup = city_day(n_orders=30, seed=6, setup=False)
    assert not any(s.setup for o in no_setup.orders for s in o.stops)
    # neither do set-up times: the same places, windows and amounts
    assert no_setup.locations == full.locations
    assert [(o.id, o.amount, [s.time_windows for s in o.stops]) for o in no_setup.orders] == [
        (o.id, o.amount, [s.time_windows for s in o.stops]) for o in full.orders
    ]


def test_customers_are_within_the_city_and_travel_is_a_detoured_straight_line() -> None:
    city = CitySpec("Paris", 2.3522, 48.8566, radius_km=3.0)
    p = city_day(n_orders=40, seed=7, city=city)
    assert p.name.startswith("Paris day (seed 7, 40 orders)")
    assert p.locations[0].lon == city.lon and p.locations[0].lat == city.lat
    _, metres = HaversineModel().between(p.locations[:1], p.locations[2:])
    assert metres.max() <= 3000 * 1.001
    van, bike = p.matrices["van"], p.matrices["bike"]
    expected = HaversineModel(speed_kph=25, detour_factor=1.3).matrix(p.locations)
    assert np.array_equal(van.durations, expected.durations)
    # bikes ride a shorter detour, but slower
    off = ~np.eye(len(p.locations), dtype=bool)
    assert (bike.distances[off] <= van.distances[off]).all()
    assert (bike.durations[off] >= van.durations[off]).all()


def test_a_generated_day_can_be_planned_and_the_plan_validates() -> None:
    p = city_day(n_orders=25, n_vans=3, n_bikes=1, seed=8)
    nobody = Plan((), tuple(Unassigned(o.id, "not planned yet", "no_room") for o in p.orders))
    live = LivePlan.build(p, nobody, now_s=0)
    for order in p.orders:
        found = live.insert(order)
        if isinstance(found, LivePlan):
            live = found
    report = validate(p, live.plan)
    assert report.ok, report.violations
    served = {v.order_id for r in live.plan.routes for v in r.visits if v.order_id}
    assert len(served) >= 20  # a small day on four vehicles is mostly plannable


@pytest.mark.parametrize("seed", [0, 1])
def test_random_matrix_problem_shape(seed: int) -> None:
    p = random_matrix_problem(n_orders=15, n_vehicles=4, seed=seed, capacity=30, horizon=7200)
    assert len(p.orders) == 15 and len(p.vehicles) == 4
    assert [o.delivery.location for o in p.orders if o.delivery] == list(range(1, 16))
    m = p.matrices["car"]
    assert m.size == 16 and np.array_equal(m.distances, m.distances.T)
    for order in p.orders:
        assert isinstance(order, Order) and order.kind is OrderKind.DELIVERY
        assert 1 <= order.amount[0] < 10
        (w,) = order.delivery.time_windows if order.delivery else ()
        assert 0 <= w.start < w.end <= 7200
