"""The decomposed solve: parts cover the day, the plan holds, lost parts cost no plan."""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lastmile.cli import build_parser, main
from lastmile.domain import Location
from lastmile.exceptions import InputError
from lastmile.formats.vroom import read_problem, write_problem
from lastmile.planning import solve
from lastmile.planning.decompose import PartSpec, part_spec, partition, to_global
from lastmile.planning.problem import PlanningProblem
from lastmile.planning.solve import solve_decomposed, solve_part
from lastmile.planning.validate import validate
from lastmile.simulate import city_day
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.lazy import CoordinateMatrix


@pytest.fixture(scope="module")
def day() -> PlanningProblem:
    return city_day(n_orders=260, n_vans=12, n_bikes=3, seed=5)


def _accounted(problem: PlanningProblem, plan: Any) -> None:
    """Every order is served once or left out with a reason."""
    served = Counter(v.order_id for r in plan.routes for v in r.visits if v.kind.value == "job")
    shipments = Counter(
        v.order_id for r in plan.routes for v in r.visits if v.kind.value == "delivery"
    )
    left = {u.order_id: u for u in plan.unassigned}
    for order in problem.orders:
        n = served[order.id] + shipments[order.id]
        assert n + (order.id in left) == 1, order.id
        if order.id in left:
            assert left[order.id].reason and left[order.id].code


def test_partition_covers_every_order_once_and_each_vehicle_at_most_once(
    day: PlanningProblem,
) -> None:
    parts = partition(day, part_stops=70)
    assert len(parts) >= 3
    orders = [oid for p in parts for oid in p.orders]
    assert sorted(orders) == sorted(o.id for o in day.orders)
    vehicles = [vid for p in parts for vid in p.vehicles]
    assert len(vehicles) == len(set(vehicles))
    assert set(vehicles) <= {v.id for v in day.vehicles}
    assert all(p.vehicles for p in parts)


def test_partition_gives_skilled_orders_a_vehicle_that_can_carry_them(
    day: PlanningProblem,
) -> None:
    by_id = {v.id: v for v in day.vehicles}
    skilled = 0
    for part in partition(day, part_stops=70):
        crew = [by_id[vid] for vid in part.vehicles]
        for oid in part.orders:
            order = day.order(oid)
            if order.skills:
                skilled += 1
            assert any(order.skills <= v.type.skills for v in crew), oid


def test_part_spec_keeps_depots_vehicles_and_narrows_given_matrices(day: PlanningProblem) -> None:
    part = partition(day, part_stops=70)[0]
    spec, index_map = part_spec(day, part)
    sub = spec.build()
    # Depots keep their indices and places; vehicles are the fleet's own.
    for d_sub, d in zip(sub.depots, day.depots, strict=True):
        assert index_map[d_sub.location] == d.location and d_sub.id == d.id
    assert {v.id for v in sub.vehicles} == set(part.vehicles)
    assert all(sub.vehicle(v.id) == v for v in day.vehicles if v.id in part.vehicles)
    # Only the part's points, in the narrowest type that holds them.
    assert sub.matrices["van"].size == len(index_map) < len(day.locations)
    for profile, given in spec.matrices.items():
        assert isinstance(given, tuple)
        durations, distances = given
        assert durations.dtype.itemsize <= 4 and distances.dtype.itemsize <= 4
        full = day.matrices[profile]
        assert np.array_equal(durations, full.durations[np.ix_(index_map, index_map)])


def test_coordinate_matrix_agrees_with_the_dense_model_and_never_goes_dense() -> None:
    rng = np.random.default_rng(1)
    pts = [Location(4.8 + x, 45.7 + y) for x, y in rng.uniform(-0.05, 0.05, size=(60, 2))]
    model = HaversineModel(speed_kph=25, detour_factor=1.3)
    dense, lazy = model.matrix(pts), CoordinateMatrix(pts, model)
    every = np.arange(60)
    durations, distances = lazy.block(every, every)
    assert np.array_equal(durations, dense.durations)
    assert np.array_equal(distances, dense.distances)
    assert all(
        lazy.durations[i, j] == dense.durations[i, j] for i in range(60) for j in range(0, 60, 7)
    )
    scaled = lazy.scaled(1.25)
    assert scaled.durations[3, 9] == (int(dense.durations[3, 9]) * 80 + 50) // 100
    # 50,000 points: O(n) memory; a dense copy is refused, not attempted.
    many = [Location(4.8 + x, 45.7 + y) for x, y in rng.uniform(-0.1, 0.1, size=(50_000, 2))]
    big = CoordinateMatrix(many, model)
    assert big.size == 50_000 and big.durations[0, 49_999] > 0
    with pytest.raises(InputError, match="too many for a dense matrix"):
        np.asarray(big.durations)
    sub = big.subset(np.array([0, 49_999]))
    assert sub.block(np.arange(2), np.arange(2))[0][0, 1] == big.durations[0, 49_999]


def test_decomposed_plan_validates_and_explains_every_order_left_out(
    day: PlanningProblem,
) -> None:
    plan = solve_decomposed(day, time_limit=8, workers=2, part_stops=90, seed=1)
    assert plan.engine.startswith("decomposed")
    report = validate(day, plan)
    assert report.ok, report.violations[:3]
    _accounted(day, plan)
    assert len(plan.routes) >= 3
    assert plan.runtime_s < 8 + 10  # generous: the machine may be busy


def test_solve_decomposes_on_request_and_keeps_small_days_whole(day: PlanningProblem) -> None:
    with cf.ThreadPoolExecutor(1) as pool:
        plan = solve(day, time_limit=4, decompose="on", executor=pool, workers=1)
    assert plan.engine.startswith("decomposed")
    assert validate(day, plan).ok
    small = city_day(n_orders=30, n_vans=3, n_bikes=1, seed=2)
    assert not solve(small, time_limit=1, decompose="auto").engine.startswith("decomposed")
    with pytest.raises(ValueError, match="decompose"):
        solve(small, time_limit=1, decompose="maybe")


class _Failing(cf.Executor):
    """Runs parts in a thread; the parts named by ``fail`` raise instead."""

    def __init__(self, fail: set[int] | None = None) -> None:
        self.inner = cf.ThreadPoolExecutor(1)
        self.fail = fail  # None: every part fails
        self.calls = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        spec: PartSpec = args[0]
        first_round = not spec.start
        self.calls += 1
        if first_round and (self.fail is None or spec.index in self.fail):

            def boom(*_: Any, **__: Any) -> Any:
                raise RuntimeError("worker lost")

            return self.inner.submit(boom)
        if self.fail is None:
            return self.inner.submit(_raise)
        return self.inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def _raise() -> Any:
    raise RuntimeError("worker lost")


def test_a_failing_part_costs_its_time_not_the_plan(day: PlanningProblem) -> None:
    pool = _Failing(fail={0})
    plan = solve_decomposed(day, time_limit=8, workers=1, part_stops=90, executor=pool)
    pool.shutdown()
    report = validate(day, plan)
    assert report.ok, report.violations[:3]
    _accounted(day, plan)
    # The other parts' routes are there; the lost part's orders were planned again
    # in the rounds across borders, or are left out saying why.
    first = partition(day, part_stops=90)
    lost = set(first[0].orders)
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
    assert served - lost
    assert all(
        (u.code == "part_failed" and "worker lost" in u.reason) or u.code != "part_failed"
        for u in plan.unassigned
        if u.order_id in lost
    )


def test_every_part_failing_still_gives_a_plan_built_greedily(day: PlanningProblem) -> None:
    """Every worker lost: the orders are planned by the construction in this
    process; none is left out for the failure alone."""
    pool = _Failing(fail=None)
    plan = solve_decomposed(day, time_limit=3, workers=1, part_stops=90, executor=pool)
    pool.shutdown()
    report = validate(day, plan)
    assert report.ok, report.violations[:3]
    _accounted(day, plan)
    assert plan.routes
    assert "greedy" in plan.engine
    assert len(plan.unassigned) < len(day.orders) / 4
    # Left out for the failure only when the construction could not place them.
    assert all(
        "RuntimeError: worker lost" in u.reason for u in plan.unassigned if u.code == "part_failed"
    )


def test_a_part_started_from_routes_never_comes_back_worse(day: PlanningProblem) -> None:
    part = partition(day, part_stops=90)[1]
    spec, index_map = part_spec(day, part)
    first = solve_part(spec, 2.0, 0, "auto").plan
    global_routes = [dataclasses.replace(r) for r in first.routes]
    again, _ = part_spec(day, part, start=[to_global(r, index_map) for r in global_routes])
    result = solve_part(again, 1.0, 1, "auto")
    assert (len(result.plan.unassigned), result.plan.cost) <= (len(first.unassigned), first.cost)


def test_vroom_reader_reads_large_coordinate_days_without_a_dense_matrix(tmp_path: Path) -> None:
    problem = city_day(n_orders=40, n_vans=3, n_bikes=0, seed=4)
    data = write_problem(problem)
    data.pop("matrices", None)
    for key in ("vehicles", "jobs", "shipments"):
        for item in data.get(key, []):
            for field in list(item):
                if field.endswith("index"):
                    del item[field]
            for step in ("pickup", "delivery"):
                if isinstance(item.get(step), dict):
                    item[step].pop("location_index", None)
    path = tmp_path / "day.json"
    path.write_text(json.dumps(data))
    dense = read_problem(path)
    lazy = read_problem(path, lazy_above=0)
    matrix = next(iter(lazy.matrices.values()))
    assert isinstance(matrix, CoordinateMatrix)
    full = next(iter(dense.matrices.values()))
    assert all(
        matrix.durations[i, j] == full.durations[i, j]
        for i in range(full.size)
        for j in range(0, full.size, 5)
    )
    assert not isinstance(
        next(iter(read_problem(path, lazy_above=10**6).matrices.values())), CoordinateMatrix
    )
    out = tmp_path / "plan.json"
    code = main(
        [
            "solve",
            str(path),
            "--decompose",
            "on",
            "--workers",
            "1",
            "--time-limit",
            "4",
            "-q",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    assert json.loads(out.read_text())["summary"]["routes"] >= 1


def test_cli_decompose_and_workers_options() -> None:
    args = build_parser().parse_args(["solve", "x.json", "--decompose", "off", "--workers", "3"])
    assert (args.decompose, args.workers) == ("off", 3)
    assert build_parser().parse_args(["solve", "x.json"]).decompose == "auto"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["solve", "x.json", "--decompose", "sometimes"])


def test_matrix_only_problems_are_cut_by_their_travel_times() -> None:
    from lastmile.simulate.scenario import random_matrix_problem

    given = random_matrix_problem(n_orders=120, n_vehicles=6, seed=3)
    problem = dataclasses.replace(given, locations=tuple(Location() for _ in given.locations))
    assert not any(loc.has_coordinates for loc in problem.locations)
    parts = partition(problem, part_stops=40)
    assert len(parts) == 3
    assert sorted(o for p in parts for o in p.orders) == sorted(o.id for o in problem.orders)
    assert sorted(v for p in parts for v in p.vehicles) == sorted(v.id for v in problem.vehicles)
    # Neighbours stay together: a part's orders are nearer each other than to others'.
    d = problem.matrices["car"].durations
    loc = {o.id: o.single_stop.location for o in problem.orders}
    inside = np.mean([d[loc[a], loc[b]] for a in parts[0].orders for b in parts[0].orders])
    across = np.mean([d[loc[a], loc[b]] for a in parts[0].orders for b in parts[1].orders])
    assert inside < across
