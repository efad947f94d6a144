"""Cooperative PyVRP search: splitting plans, sub-problems, and the decomposition rounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pyvrp

from lastmile.formats.solomon import read_solomon
from lastmile.planning import solve
from lastmile.planning.engines.pyvrp import PyVRPEngine
from lastmile.planning.engines.pyvrp import parallel as par
from lastmile.planning.validate import validate

DATA = Path(__file__).parents[2] / "data"


@pytest.fixture(scope="module")
def r101() -> pyvrp.ProblemData:
    return pyvrp.read(str(DATA / "R101.vrp"), round_func="dimacs")


@pytest.fixture(scope="module")
def r101_plan(r101: pyvrp.ProblemData) -> pyvrp.Solution:
    return pyvrp.solve(r101, stop=pyvrp.stop.MaxIterations(300), seed=1).best


def test_split_covers_every_route_once_in_balanced_groups(
    r101: pyvrp.ProblemData, r101_plan: pyvrp.Solution
) -> None:
    routes = par.routes_of(r101_plan)
    for pivot in range(4):
        groups = par.split(r101, routes, 2, pivot=pivot)
        assert sorted(r for g in groups for r in g) == list(range(len(routes)))
        sizes = [sum(len(routes[r][1]) for r in g) for g in groups]
        # groups grow in turn by whole routes: they differ by at most the longest route
        assert abs(sizes[0] - sizes[1]) <= max(len(v) for _, v in routes)


def test_groups_hold_neighbouring_routes(
    r101: pyvrp.ProblemData, r101_plan: pyvrp.Solution
) -> None:
    routes = par.routes_of(r101_plan)
    d = par.route_distances(r101, routes)
    a, b = par.split(r101, routes, 2, pivot=0)
    within = (d[a][:, a].mean() + d[b][:, b].mean()) / 2
    across = d[a][:, b].mean()
    assert within < across


def test_subproblem_keeps_the_chosen_clients_and_their_data(r101: pyvrp.ProblemData) -> None:
    clients = [4, 9, 17, 40]
    sub = par.subproblem(r101, clients, [3])
    assert sub.num_clients == 4
    assert sub.vehicle_types()[0].num_available == 3
    for i, c in enumerate(clients):
        assert sub.clients()[i].location == r101.clients()[c].location
        assert sub.clients()[i].tw_late == r101.clients()[c].tw_late
    # locations and matrices are shared, so a route costs the same in both
    full = pyvrp.Solution(r101, [pyvrp.Route(r101, clients, 0)])
    part = pyvrp.Solution(sub, [pyvrp.Route(sub, [0, 1, 2, 3], 0)])
    assert full.distance() == part.distance()


def test_a_group_search_returns_full_indices_and_never_loses_a_client(
    r101: pyvrp.ProblemData, r101_plan: pyvrp.Solution
) -> None:
    routes = par.routes_of(r101_plan)
    group = par.split(r101, routes, 2, pivot=3)[0]
    start = [routes[r] for r in group]
    clients = sorted(c for _, v in start for c in v)
    params = pyvrp.SolveParams()
    found, cost, feasible = par._search(r101, params, 0.3, 5, clients, [len(start) + 2], start)
    assert feasible
    assert sorted(c for _, v in found for c in v) == clients
    assert cost <= par._cost(r101, start)


def test_decomposition_rounds_run_and_keep_a_complete_feasible_plan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(par, "MIN_CLIENTS", 50)
    monkeypatch.setattr(par, "MIN_ROUND", 0.4)
    rounds: list[int] = []
    real_split = par.split

    def counting_split(*args: object, **kw: object) -> list[list[int]]:
        rounds.append(1)
        return real_split(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(par, "split", counting_split)
    problem = read_solomon(DATA / "R101.txt", rounding="dimacs")
    plan = PyVRPEngine(prize_collecting=False).solve_parallel(
        problem, time_limit=3.0, seed=0, workers=2
    )
    assert plan is not None
    assert rounds, "no decomposition round ran"
    assert not plan.unassigned
    report = validate(problem, plan)
    assert report.ok, report.violations


def test_problems_that_cannot_be_split_are_declined_at_once() -> None:
    # C101 has 100 clients: below the size where decomposition pays off
    problem = read_solomon(DATA / "C101.txt", rounding="dimacs")
    assert (
        PyVRPEngine(prize_collecting=False).solve_parallel(
            problem, time_limit=5.0, seed=0, workers=2
        )
        is None
    )


def test_solve_uses_decomposition_on_large_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(par, "MIN_CLIENTS", 50)
    problem = read_solomon(DATA / "R101.txt", rounding="dimacs")
    plan = solve(problem, time_limit=2.0, workers=2)
    assert "decomposition" in plan.engine
    assert validate(problem, plan).ok


def test_workers_start_by_spawn_when_the_process_runs_threads(
    monkeypatch: pytest.MonkeyPatch, r101: pyvrp.ProblemData
) -> None:
    import threading

    monkeypatch.setattr(par, "MIN_CLIENTS", 50)
    monkeypatch.setattr(par, "MIN_ROUND", 0.3)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()  # fork is unsafe with a second thread: the workers are spawned
    try:
        routes = par.solve_parallel(r101, max_penalty=1e5, time_limit=2.0, seed=0, workers=2)
    finally:
        release.set()
        other.join()
    assert routes is not None
    assert sorted(c for _, v in routes for c in v) == list(range(r101.num_clients))


def test_a_day_over_full_through_its_windows_is_searched_again_with_prizes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import dataclasses

    from lastmile.planning.engines.base import NoFeasiblePlan

    monkeypatch.setattr(par, "MIN_CLIENTS", 50)
    problem = read_solomon(DATA / "R101.txt", rounding="dimacs")
    # ten vehicles carry the demand twice over, but R101's windows need about twenty
    short = dataclasses.replace(problem, vehicles=problem.vehicles[:10])
    with pytest.raises(NoFeasiblePlan):
        PyVRPEngine(prize_collecting=False).solve_parallel(short, time_limit=1.5, seed=0, workers=2)
    plan = solve(short, time_limit=3.0, workers=2)
    # the rest of the time went to searches that may leave orders out, not decomposition
    assert plan.engine.startswith("pyvrp x2")
    assert "decomposition" not in plan.engine
    assert plan.unassigned
    assert len(plan.routes) <= 10
    assert validate(short, plan).ok


def _line_of_clients(n: int) -> pyvrp.ProblemData:
    """``n`` required clients on a line from one depot (no windows, no groups)."""
    xs = np.arange(n + 1)
    matrix = np.abs(xs[:, None] - xs[None, :]).astype(np.int64)
    return pyvrp.ProblemData(
        locations=[pyvrp.Location(float(x), 0.0) for x in xs],
        clients=[pyvrp.Client(int(x), delivery=[1]) for x in xs[1:]],
        depots=[pyvrp.Depot(0)],
        vehicle_types=[pyvrp.VehicleType(num_available=n // 50 + 1, capacity=[50])],
        distance_matrices=[matrix],
        duration_matrices=[matrix],
    )


def test_a_thousand_clients_are_searched_whole_and_twelve_hundred_in_parts() -> None:
    # At 1,000 orders independent searches did better at 10 and 30 s; from 1,500
    # decomposition did (see MIN_CLIENTS).
    assert not par.decomposable(_line_of_clients(1000))
    assert par.decomposable(_line_of_clients(1200))
