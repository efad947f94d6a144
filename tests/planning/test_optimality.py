"""Every engine finds the proven optimum of tiny random problems.

The optimum comes from :mod:`bruteforce` (exhaustive enumeration, itself
checked here against an even more naive enumeration). Each engine registered
in :data:`lastmile.planning.engines.REGISTRY` solves every problem its
capabilities cover; its plan must pass the validator and cost exactly the
optimum. An engine whose module cannot be imported fails here, loudly.
"""

from __future__ import annotations

import importlib.util
import itertools
import random
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

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
from lastmile.planning.engines import REGISTRY, Engine, get_engine
from lastmile.planning.problem import PlanningProblem, TravelMatrix
from lastmile.planning.schedule import Step, build_route
from lastmile.planning.validate import validate

#: Seconds each engine gets per problem. Every engine finds these optima within
#: milliseconds; PyVRP and OR-Tools still search until the limit, so a longer
#: limit only lengthens the test.
TIME_LIMIT_S = 0.5
#: How many random problems every engine solves where every order fits ...
NUM_PROBLEMS = 24
#: ... and where some orders must be left out.
NUM_OVERFULL = 8


def _load_bruteforce() -> ModuleType:
    # Tests are imported in importlib mode (no package, no sys.path entry), so
    # the sibling helper module is loaded from its path.
    name = "lastmile_tests_bruteforce"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("bruteforce.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bruteforce = _load_bruteforce()


# -- random tiny problems ------------------------------------------------------------------


def random_problem(rng: random.Random, *, max_stops: int = 7) -> PlanningProblem:
    """1-2 vehicles, <= ``max_stops`` stops; windows, capacities, pickups, shipments,
    setup times, skills, shifts and fixed/distance costs each appear in some problems."""
    n_stops = rng.randint(max(2, max_stops - 3), max_stops)
    with_windows = rng.random() < 0.7
    with_shipments = rng.random() < 0.3
    with_pickups = rng.random() < 0.3
    with_setup = rng.random() < 0.2
    with_skills = rng.random() < 0.2

    xy = [(rng.uniform(0, 8000), rng.uniform(0, 8000)) for _ in range(n_stops + 1)]
    metres = np.sqrt(((np.array(xy)[:, None] - np.array(xy)[None, :]) ** 2).sum(-1))
    matrix = TravelMatrix(np.rint(metres / 8).astype(np.int64), np.rint(metres).astype(np.int64))

    def stop(k: int) -> Stop:
        location = k
        if with_setup and k > 1 and rng.random() < 0.3:
            location = rng.randint(1, k - 1)  # a shared address: setup only once
        windows: list[TimeWindow] = []
        if with_windows and rng.random() < 0.6:
            start = rng.randint(0, 5000)
            windows.append(TimeWindow(start, start + rng.randint(300, 2400)))
            if rng.random() < 0.2:
                later = windows[0].end + rng.randint(600, 1800)
                windows.append(TimeWindow(later, later + rng.randint(300, 1200)))
        return Stop(
            location,
            service=rng.choice([0, 60, 300]),
            setup=rng.choice([30, 120]) if with_setup else 0,
            time_windows=tuple(windows),
        )

    orders: list[Order] = []
    k = 1
    while k <= n_stops:
        amount = (rng.randint(1, 10),)
        skills = frozenset({"cold"}) if with_skills and rng.random() < 0.3 else frozenset()
        oid = f"o{len(orders)}"
        r = rng.random()
        if with_shipments and k < n_stops and r < 0.4:
            orders.append(
                Order(oid, OrderKind.SHIPMENT, stop(k), stop(k + 1), amount, skills=skills)
            )
            k += 2
            continue
        if with_pickups and r < 0.6:
            orders.append(
                Order(oid, OrderKind.PICKUP, pickup=stop(k), amount=amount, skills=skills)
            )
        else:
            orders.append(Order(oid, OrderKind.DELIVERY, delivery=stop(k), amount=amount))
        k += 1

    total = sum(o.amount[0] for o in orders)
    n_vehicles = rng.choice([1, 2])
    per_hour, per_km = rng.choice([(3600, 0), (3600, 1000), (7200, 1000)])
    shift = TimeWindow(0, rng.randint(7000, 12000)) if rng.random() < 0.4 else TimeWindow()
    types = [
        VehicleType(
            f"t{i}",
            (max(10, rng.randint(total // 2, total)),),
            skills=frozenset({"cold"}) if with_skills and i == n_vehicles - 1 else frozenset(),
            fixed_cost=rng.choice([0, 0, 500]) if n_vehicles > 1 else 0,
            cost_per_hour=per_hour,
            cost_per_km=per_km,
        )
        for i in range(n_vehicles)
    ]
    if n_vehicles == 2 and rng.random() < 0.5:
        types[1] = types[0]  # a homogeneous fleet
    return PlanningProblem(
        locations=tuple(Location(x, y, planar=True) for x, y in xy),
        matrices={"car": matrix},
        depots=(Depot("A", 0),),
        vehicles=tuple(Vehicle(f"v{i}", t, shift=shift) for i, t in enumerate(types)),
        orders=tuple(orders),
        dimensions=("kg",),
        name=f"random-{rng.random():.6f}",
    )


@cache
def servable_cases() -> tuple[tuple[int, PlanningProblem, Plan], ...]:
    """Seeded problems whose optimum serves every order, with that optimum.

    Engines are compared where every order fits: how an engine trades orders
    left out against cost is the planner's business (``solve``), not this test's.
    """
    cases = []
    for seed in range(NUM_PROBLEMS):
        rng = random.Random(seed)
        for _ in range(100):
            problem = random_problem(rng)
            best = bruteforce.brute_force_optimum(problem)
            if not best.unassigned:
                cases.append((seed, problem, best))
                break
    return tuple(cases)


@cache
def overfull_cases() -> tuple[tuple[int, PlanningProblem, Plan], ...]:
    """Seeded problems whose optimum must leave some orders out, with that optimum."""
    cases = []
    for seed in range(1000, 1000 + NUM_OVERFULL):
        rng = random.Random(seed)
        for _ in range(100):
            problem = random_problem(rng)
            best = bruteforce.brute_force_optimum(problem)
            if best.unassigned:
                cases.append((seed, problem, best))
                break
    return tuple(cases)


def covers(engine: Engine, problem: PlanningProblem) -> bool:
    if not problem.features <= engine.capabilities:
        return False
    supports = getattr(engine, "supports", None)
    return supports is None or supports(problem) is None


# -- the brute force itself ------------------------------------------------------------


def naive_optimum(problem: PlanningProblem) -> tuple[int, int]:
    """(unassigned, cost) of the best plan over every assignment and every stop order,
    each scheduled by build_route and judged by the validator alone."""
    orders = problem.orders
    vehicles = problem.vehicles
    best: tuple[int, int] | None = None
    for owners in itertools.product(range(-1, len(vehicles)), repeat=len(orders)):
        per_vehicle = [
            [o for o, w in zip(orders, owners, strict=True) if w == i] for i in range(len(vehicles))
        ]
        options = [list(_sequences(mine)) for mine in per_vehicle]
        for choice in itertools.product(*options):
            routes = tuple(
                build_route(problem, v, steps)
                for v, steps in zip(vehicles, choice, strict=True)
                if steps
            )
            served = {v.order_id for r in routes for v in r.visits if v.order_id}
            left = tuple(Unassigned(o.id, "") for o in orders if o.id not in served)
            plan = Plan(routes, left)
            if validate(problem, plan).ok:
                key = (len(left), plan.cost)
                best = key if best is None or key < best else best
    assert best is not None
    return best


def _sequences(orders: list[Order]) -> list[list[Step]]:
    nodes = []
    for o in orders:
        if o.kind is OrderKind.SHIPMENT:
            nodes += [
                Step(VisitKind.PICKUP, order_id=o.id),
                Step(VisitKind.DELIVERY, order_id=o.id),
            ]
        else:
            nodes.append(Step(VisitKind.JOB, order_id=o.id))
    out = []
    for perm in itertools.permutations(nodes):
        picked: set[str | None] = set()
        ok = True
        for s in perm:
            if s.kind is VisitKind.PICKUP:
                picked.add(s.order_id)
            elif s.kind is VisitKind.DELIVERY and s.order_id not in picked:
                ok = False
                break
        if ok:
            out.append(list(perm))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_brute_force_agrees_with_naive_enumeration(seed: int) -> None:
    problem = random_problem(random.Random(1000 + seed), max_stops=4)
    plan = bruteforce.brute_force_optimum(problem)
    assert (len(plan.unassigned), plan.cost) == naive_optimum(problem)


def test_brute_force_leaves_out_only_what_cannot_fit() -> None:
    a = Order("a", OrderKind.DELIVERY, delivery=Stop(2), amount=(6,))
    b = Order("b", OrderKind.DELIVERY, delivery=Stop(3), amount=(6,))
    c = Order("c", OrderKind.DELIVERY, delivery=Stop(1), amount=(3,))
    d = np.array([[0, 10, 20, 30], [10, 0, 10, 20], [20, 10, 0, 10], [30, 20, 10, 0]])
    problem = PlanningProblem(
        locations=tuple(Location() for _ in range(4)),
        matrices={"car": TravelMatrix(d, d)},
        depots=(Depot("A", 0),),
        vehicles=(Vehicle("v", VehicleType("t", (10,))),),
        orders=(a, b, c),
        dimensions=("kg",),
    )
    plan = bruteforce.brute_force_optimum(problem)
    # Only one of the 6 kg orders fits beside the 3 kg one; the nearer one is cheaper.
    assert [u.order_id for u in plan.unassigned] == ["b"]
    assert plan.cost == 10 + 10 + 20


# -- the engines ---------------------------------------------------------------------------


def _check_engine(
    engine_name: str, cases: tuple[tuple[int, PlanningProblem, Plan], ...]
) -> tuple[int, list[str]]:
    """Solve every covered case; return how many were covered and what went wrong."""
    engine = get_engine(engine_name)  # an engine module that does not import fails here
    failures = []
    solved = 0
    for seed, problem, best in cases:
        if not covers(engine, problem):
            continue
        solved += 1
        plan = engine.solve(problem, time_limit=TIME_LIMIT_S, seed=0)
        report = validate(problem, plan)
        where = f"seed {seed} ({', '.join(sorted(problem.features))})"
        got = (len(plan.unassigned), plan.cost)
        want = (len(best.unassigned), best.cost)
        if not report.ok:
            failures.append(f"{where}: invalid plan: {[str(v) for v in report.violations]}")
        elif got != want:
            failures.append(
                f"{where}: (unassigned, cost) {got}, optimum {want}; left out "
                f"{sorted(u.order_id for u in plan.unassigned)}, optimum leaves out "
                f"{sorted(u.order_id for u in best.unassigned)}"
            )
    return solved, failures


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", sorted(REGISTRY))
def test_engine_finds_the_proven_optimum(engine_name: str) -> None:
    cases = servable_cases()
    assert len(cases) == NUM_PROBLEMS
    solved, failures = _check_engine(engine_name, cases)
    # The problems use only features every engine declares; most must be covered.
    assert solved >= NUM_PROBLEMS * 3 // 4, f"{engine_name} covered only {solved} problems"
    assert not failures, f"{engine_name}:\n" + "\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("engine_name", sorted(REGISTRY))
def test_engine_leaves_out_as_few_orders_as_possible(engine_name: str) -> None:
    """Serving more orders comes before cost; each order counts once, shipments too."""
    cases = overfull_cases()
    assert len(cases) == NUM_OVERFULL
    solved, failures = _check_engine(engine_name, cases)
    assert solved >= NUM_OVERFULL // 2, f"{engine_name} covered only {solved} problems"
    assert not failures, f"{engine_name}:\n" + "\n".join(failures)
