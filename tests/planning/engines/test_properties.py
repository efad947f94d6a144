"""Property: every plan from every engine passes the independent validator.

Hypothesis draws small problems that mix the features users combine (several
windows, capacities in two dimensions, pickups and shipments, skills,
priorities, setup, shifts, breaks, open routes, two depots, limits). Each
engine that honours the drawn features must return a plan the validator
accepts, with every order served once or listed as unassigned.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from lastmile.planning.engines import REGISTRY, get_engine
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.validate import validate

HORIZON = 8 * 3600


@st.composite
def problems(draw: st.DrawFn) -> PlanningProblem:
    n_loc = draw(st.integers(4, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    xy = rng.uniform(0, 10_000, size=(n_loc, 2))
    metres = np.rint(np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))).astype(np.int64)
    seconds = np.rint(metres / 8.0).astype(np.int64)
    matrix = TravelMatrix(seconds, metres)

    two_depots = draw(st.booleans())
    depots = (Depot("A", 0),) + ((Depot("B", 1),) if two_depots else ())
    first_stop = len(depots)

    def window() -> tuple[TimeWindow, ...]:
        kind = draw(st.sampled_from(["none", "one", "two"]))
        start = draw(st.integers(0, HORIZON // 2))
        if kind == "none":
            return ()
        if kind == "one":
            return (TimeWindow(start, start + draw(st.integers(1800, HORIZON))),)
        return (TimeWindow(start, start + 1800), TimeWindow(start + 5400, start + 9000))

    def stop() -> Stop:
        return Stop(
            draw(st.integers(first_stop, n_loc - 1)),
            service=draw(st.sampled_from([0, 60, 300])),
            setup=draw(st.sampled_from([0, 0, 30])),
            time_windows=window(),
        )

    orders = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(list(OrderKind)))
        amount = (draw(st.integers(0, 6)), draw(st.integers(0, 3)))
        skills = frozenset(draw(st.sets(st.sampled_from(["cold", "lift"]), max_size=1)))
        priority = draw(st.sampled_from([0, 0, 10]))
        if kind is OrderKind.SHIPMENT:
            orders.append(
                Order(
                    f"o{i}",
                    kind,
                    pickup=stop(),
                    delivery=stop(),
                    amount=amount,
                    skills=skills,
                    priority=priority,
                )
            )
        elif kind is OrderKind.PICKUP:
            orders.append(
                Order(f"o{i}", kind, pickup=stop(), amount=amount, skills=skills, priority=priority)
            )
        else:
            orders.append(
                Order(
                    f"o{i}", kind, delivery=stop(), amount=amount, skills=skills, priority=priority
                )
            )

    vehicles = []
    for k in range(draw(st.integers(1, 3))):
        vtype = VehicleType(
            f"t{k}",
            (draw(st.integers(4, 12)), draw(st.integers(2, 5))),
            skills=frozenset(draw(st.sets(st.sampled_from(["cold", "lift"])))),
            fixed_cost=draw(st.sampled_from([0, 500])),
            cost_per_hour=draw(st.sampled_from([0, 3600])),
            cost_per_km=draw(st.sampled_from([0, 1000])) or 1000,
        )
        breaks = ()
        if draw(st.booleans()):
            b0 = draw(st.integers(0, HORIZON // 2))
            breaks = (Break(f"b{k}", (TimeWindow(b0, b0 + 3600),), 900),)
        start = draw(st.integers(0, len(depots) - 1))
        end: int | None = draw(st.sampled_from([start, None]))
        vehicles.append(
            Vehicle(
                f"v{k}",
                vtype,
                start_depot=start,
                end_depot=end,
                shift=TimeWindow(0, HORIZON),
                breaks=breaks,
                max_tasks=draw(st.sampled_from([None, 3])),
            )
        )
    return PlanningProblem(
        locations=tuple(Location(float(x), float(y), planar=True) for x, y in xy),
        matrices={"car": matrix},
        depots=depots,
        vehicles=tuple(vehicles),
        orders=tuple(orders),
        dimensions=("kg", "crates"),
    )


def _check(name: str, problem: PlanningProblem) -> None:
    engine = get_engine(name)
    if not problem.features <= engine.capabilities:
        return
    refusal = getattr(engine, "supports", lambda p: None)(problem)
    if refusal:
        return
    plan = engine.solve(problem, time_limit=0.2, seed=0)
    report = validate(problem, plan)
    # An engine may leave orders out, but whatever it plans must be feasible.
    routed = {v.order_id for r in plan.routes for v in r.tasks}
    assert report.ok, (name, [str(v) for v in report.violations])
    assert routed | {u.order_id for u in plan.unassigned} == {o.id for o in problem.orders}


SETTINGS = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)


@SETTINGS
@given(problems())
def test_pyvrp_plans_validate(problem: PlanningProblem) -> None:
    _check("pyvrp", problem)


@SETTINGS
@given(problems())
def test_vroom_plans_validate(problem: PlanningProblem) -> None:
    _check("vroom", problem)


@SETTINGS
@given(problems())
def test_ortools_plans_validate(problem: PlanningProblem) -> None:
    _check("ortools", problem)


def test_every_engine_is_exercised() -> None:
    assert set(REGISTRY) == {"pyvrp", "vroom", "ortools"}
