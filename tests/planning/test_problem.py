"""PlanningProblem checks its references and knows which features it uses."""

from __future__ import annotations

import numpy as np
import pytest

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
)
from lastmile.exceptions import InputError
from lastmile.planning.problem import Feature, PlanningProblem, TravelMatrix, route_cost


def matrix(n: int) -> TravelMatrix:
    m = np.arange(n * n, dtype=np.int64).reshape(n, n)
    np.fill_diagonal(m, 0)
    return TravelMatrix(m, m * 10)


def make(**overrides: object) -> PlanningProblem:
    vt = VehicleType("t", (10,))
    args: dict[str, object] = dict(
        locations=tuple(Location(float(i), 0.0) for i in range(3)),
        matrices={"car": matrix(3)},
        depots=(Depot("d", 0),),
        vehicles=(Vehicle("v", vt),),
        orders=(Order("a", OrderKind.DELIVERY, delivery=Stop(1), amount=(3,)),),
        dimensions=("kg",),
    )
    args.update(overrides)
    return PlanningProblem(**args)  # type: ignore[arg-type]


def test_matrix_must_be_square_and_non_negative() -> None:
    with pytest.raises(InputError, match="square"):
        TravelMatrix(np.zeros((2, 3)), np.zeros((2, 3)))
    bad = np.zeros((2, 2), dtype=np.int64)
    bad[0, 1] = -5
    with pytest.raises(InputError, match=r"durations: negative value -5 at \[0\]\[1\]"):
        TravelMatrix(bad, np.zeros((2, 2)))


def test_matrix_is_read_only() -> None:
    m = matrix(2)
    with pytest.raises(ValueError):
        m.durations[0, 1] = 7


def test_problem_checks_sizes_and_references() -> None:
    with pytest.raises(InputError, match=r"matrices\['car'\]: matrix has 2 rows for 3 locations"):
        make(matrices={"car": matrix(2)})
    with pytest.raises(InputError, match="location 9 out of range"):
        make(orders=(Order("a", OrderKind.DELIVERY, delivery=Stop(9)),))
    with pytest.raises(InputError, match="capacity has 1 values for 2 dimensions"):
        make(dimensions=("kg", "l"))
    with pytest.raises(InputError, match="duplicate order id"):
        o = Order("a", OrderKind.DELIVERY, delivery=Stop(1))
        make(orders=(o, o))
    with pytest.raises(InputError, match="unknown profile 'bike'"):
        make(vehicles=(Vehicle("v", VehicleType("b", (1,), profile="bike")),))
    with pytest.raises(InputError, match="depot index 3 out of range"):
        make(vehicles=(Vehicle("v", VehicleType("t", (1,)), end_depot=3),))


def test_features_are_detected() -> None:
    vt = VehicleType("t", (10,), skills=frozenset({"cold"}), fixed_cost=5)
    lunch = Break("lunch", (TimeWindow(100, 200),), 30)
    p = make(
        vehicles=(Vehicle("v", vt, end_depot=None, breaks=(lunch,), max_tasks=4),),
        orders=(
            Order(
                "a",
                OrderKind.DELIVERY,
                delivery=Stop(1, time_windows=(TimeWindow(0, 5), TimeWindow(10, 20))),
                amount=(3,),
                skills=frozenset({"cold"}),
            ),
            Order("b", OrderKind.SHIPMENT, pickup=Stop(1), delivery=Stop(2, setup=5), priority=3),
        ),
    )
    assert {
        Feature.CAPACITY,
        Feature.TIME_WINDOWS,
        Feature.MULTIPLE_TIME_WINDOWS,
        Feature.SHIPMENTS,
        Feature.SKILLS,
        Feature.PRIORITIES,
        Feature.SETUP_TIMES,
        Feature.BREAKS,
        Feature.MAX_TASKS,
        Feature.OPEN_ROUTES,
        Feature.FIXED_COSTS,
    } <= p.features
    assert Feature.MULTIPLE_DEPOTS not in p.features
    assert Feature.RELOADS not in p.features


def test_plain_problem_uses_few_features() -> None:
    assert make().features == {Feature.CAPACITY, Feature.DURATION_COSTS}


def test_route_cost_follows_vroom_definition() -> None:
    v = Vehicle("v", VehicleType("t", fixed_cost=100, cost_per_hour=3600, cost_per_km=500))
    # 100 + 3600 * 7200 / 3600 + 500 * 3000 / 1000
    assert route_cost(v, 7200, 3000) == 100 + 7200 + 1500


def test_problem_is_picklable() -> None:
    import pickle

    p = make()
    q = pickle.loads(pickle.dumps(p))
    assert q.order("a") == p.order("a")
    assert q.features == p.features


def test_working_hours_are_the_shift_within_the_depot_hours() -> None:
    vt = VehicleType("t", (10,))
    depots = (
        Depot("early", 0, time_window=TimeWindow(0, 500)),
        Depot("late", 1, time_window=TimeWindow(300, 900)),
    )
    v = Vehicle("v", vt, start_depot=1, end_depot=0, shift=TimeWindow(100, 800))
    p = make(depots=depots, vehicles=(v,))
    assert p.working_hours(v) == TimeWindow(300, 500)
    assert p.earliest_departure(v) == 300
    assert p.earliest_departure(v, 50) == 300  # never before the start depot opens
    assert p.earliest_departure(v, 400) == 400
    shut = Vehicle("w", vt, start_depot=1, end_depot=0, shift=TimeWindow(600, 800))
    assert make(depots=depots, vehicles=(shut,)).working_hours(shut) is None
    open_end = Vehicle("o", vt, start_depot=0, end_depot=None, shift=TimeWindow(100, 800))
    assert make(depots=depots, vehicles=(open_end,)).working_hours(open_end) == TimeWindow(100, 800)
