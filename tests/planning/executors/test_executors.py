"""Planning work on executors: a local process pool and a real Dask cluster.

The cluster (``cluster`` fixture) has two worker processes of one thread each,
like two small machines. Every test checks an outcome a user sees: a plan that
passes the validator, a task that survives its worker's death, an error that
names the scheduler.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import executor_tasks as tasks
import pytest

from lastmile.cli import main
from lastmile.exceptions import InputError
from lastmile.planning import executors, solve
from lastmile.planning.executors import (
    LocalProcessPool,
    SchedulerUnreachable,
    executor_slots,
    open_executor,
)
from lastmile.planning.validate import validate
from lastmile.simulate import random_matrix_problem

DATA = Path(__file__).parents[2] / "data"
T = TypeVar("T")


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- the local process pool -----------------------------------------------------------


def test_local_pool_runs_a_task_again_when_its_worker_dies(tmp_path: Path) -> None:
    with open_executor(workers=2) as pool:
        assert isinstance(pool, LocalProcessPool)
        assert executor_slots(pool) == 2
        lost = pool.submit(tasks.die_once, str(tmp_path / "marker"), 21)
        assert lost.result(timeout=30) == 21
        assert (tmp_path / "marker").exists()  # the first try did die
        assert pool.rebuilds == 1


def test_local_pool_task_lost_twice_fails_alone_and_the_pool_carries_on() -> None:
    with open_executor(workers=1) as pool:
        doomed = pool.submit(tasks.die_always)
        with pytest.raises(BrokenProcessPool):
            doomed.result(timeout=30)
        assert pool.submit(tasks.double, 4).result(timeout=30) == 8


def test_workers_must_be_positive() -> None:
    with pytest.raises(InputError, match="workers"), open_executor(workers=0):
        pass


# -- a Dask cluster --------------------------------------------------------------------


def test_solve_runs_its_searches_on_a_dask_cluster(cluster: Any) -> None:
    problem = random_matrix_problem(n_orders=30, n_vehicles=4, seed=3)
    with open_executor(cluster.scheduler_address) as executor:
        assert executor_slots(executor) == 2  # one per worker thread
        plan = solve(problem, time_limit=1.5, seed=1, executor=executor)
    assert plan.engine.startswith("pyvrp x2")
    assert validate(problem, plan).ok
    served = {v.order_id for r in plan.routes for v in r.visits if v.order_id}
    assert served | {u.order_id for u in plan.unassigned} == {o.id for o in problem.orders}
    assert len(served) > len(problem.orders) // 2


def test_a_decomposed_search_runs_its_rounds_on_a_dask_cluster(
    cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lastmile.planning.engines import get_engine
    from lastmile.planning.engines.pyvrp import parallel

    # A small day decomposed as a large one would be: every round is tasks on the cluster.
    monkeypatch.setattr(parallel, "MIN_CLIENTS", 20)
    monkeypatch.setattr(parallel, "MIN_ROUND", 0.3)
    problem = random_matrix_problem(n_orders=60, n_vehicles=20, seed=4)
    engine = get_engine("pyvrp", prize_collecting=False)
    with open_executor(cluster.scheduler_address) as executor:
        counted = _Counting(executor)
        plan = engine.solve_parallel(problem, time_limit=3.0, workers=2, executor=counted)
    assert plan is not None
    assert validate(problem, plan).ok
    # two whole-problem searches, then at least one round of two groups
    assert counted.submitted >= 4


class _Counting(Executor):
    """``executor``, counting what is submitted to it."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.submitted = 0

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        self.submitted += 1
        return self.executor.submit(fn, *args, **kwargs)


def test_cli_solve_with_a_scheduler(cluster: Any, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    code = main(
        [
            "solve",
            str(DATA / "C101_10.txt"),
            "--time-limit",
            "2",
            "--rounding",
            "dimacs",
            "--scheduler",
            cluster.scheduler_address,
            "--workers",
            "2",
            "-o",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    solution = json.loads(out.read_text())
    ids = sorted(s["id"] for r in solution["routes"] for s in r["steps"] if s["type"] == "job")
    assert ids == list(range(1, 11))


def test_a_dask_worker_killed_mid_task_costs_a_retry_not_the_task(
    cluster: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    with open_executor(cluster.scheduler_address) as executor:
        assert executor.submit(tasks.die_once, str(marker), 5).result(timeout=60) == 5
    assert marker.exists()  # a worker did die running it


def test_unreachable_scheduler_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    with (
        pytest.raises(SchedulerUnreachable, match=address),
        open_executor(address, connect_timeout=0.5),
    ):
        pass


def test_cli_names_an_unreachable_scheduler(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT_S", 0.5)
    address = f"tcp://127.0.0.1:{_free_port()}"
    code = main(["solve", str(DATA / "C101_10.txt"), "--scheduler", address, "-q"])
    assert code == 1
    assert f"Dask scheduler at {address} is unreachable" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["127.0.0.1:8786", "http://host:8786", "tcp://host", "tcp://h:1/x"])
def test_cli_rejects_a_scheduler_that_is_no_address(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["solve", str(DATA / "C101_10.txt"), "--scheduler", bad, "-q"])
    assert code == 2
    assert "--scheduler: expected" in capsys.readouterr().err


@pytest.mark.slow  # a planning worker process starts and imports the planner
def test_a_planning_worker_process_runs_its_searches_on_the_scheduler(cluster: Any) -> None:
    from lastmile.service.plans.jobs import _start_worker

    problem = random_matrix_problem(n_orders=20, n_vehicles=3, seed=2)
    transitions = cluster.scheduler.transition_counter
    # (problem, engine, time_limit_s, seed, workers, road, answer_by, robust, scheduler)
    request = (problem, "auto", 1.0, 0, 2, None, None, None, cluster.scheduler_address)
    proc, conn = _start_worker(request)
    try:
        while True:
            assert conn.poll(120), "the planning worker gave no answer"
            kind, *payload = conn.recv()
            if kind not in ("started", "progress"):
                break
    finally:
        proc.kill()
        proc.wait()
        conn.close()
    assert kind == "ok", payload
    plan = payload[0]
    assert validate(problem, plan).ok
    assert plan.engine.startswith("pyvrp x2")
    assert cluster.scheduler.transition_counter > transitions  # its tasks went through Dask


@pytest.mark.slow  # a planning worker process starts and imports the planner
def test_a_planning_worker_whose_scheduler_is_unreachable_fails_naming_it() -> None:
    from lastmile.service.plans.jobs import _start_worker

    problem = random_matrix_problem(n_orders=5, n_vehicles=1, seed=2)
    address = f"tcp://127.0.0.1:{_free_port()}"
    request = (problem, "auto", 1.0, 0, 2, None, None, None, address)
    proc, conn = _start_worker(request)
    try:
        assert conn.poll(120), "the planning worker gave no answer"
        assert conn.recv() == ("started",)
        assert conn.poll(120), "the planning worker gave no answer"
        kind, *payload = conn.recv()
    finally:
        proc.kill()
        proc.wait()
        conn.close()
    assert kind == "error"
    assert f"SchedulerUnreachable: the Dask scheduler at {address} is unreachable" in payload[0]
