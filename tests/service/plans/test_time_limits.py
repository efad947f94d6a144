"""Planning jobs keep their time limit, and one that cannot ends failed with its reason."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import pytest

from lastmile.service.plans import jobs

from ..conftest import DAY, Tenant  # type: ignore[import-not-found]


def _seconds(job: dict[str, Any]) -> float:
    started = dt.datetime.fromisoformat(job["started_at"])
    finished = dt.datetime.fromisoformat(job["finished_at"])
    return (finished - started).total_seconds()


def test_a_planning_job_keeps_its_time_limit(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    for _ in range(2):
        tenant.vehicle(vtype["id"], depot["id"])
    for i in range(30):
        tenant.order(i)
    began = time.monotonic()
    plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1.5}, status=202)
    job = tenant.wait_for_job(plan["id"], timeout_s=30)
    assert job["status"] == "succeeded", job
    # Building the problem, the search and storing the plan all come out of the
    # 1.5 s; the worker's own start-up has its allowance on a busy machine.
    assert _seconds(job) <= 1.5 + jobs.grace_s(1.5) + jobs.WORKER_START_S, job
    assert time.monotonic() - began <= 1.5 + jobs.grace_s(1.5) + jobs.WORKER_START_S + 1.0


def _worker_that(
    script: str,
) -> Callable[[tuple[Any, ...]], tuple[subprocess.Popen[bytes], Connection]]:
    """A stand-in for the solver's worker: a process running ``script`` with
    ``conn``, the end of the pipe the real worker answers on."""

    def start(request: tuple[Any, ...]) -> tuple[subprocess.Popen[bytes], Connection]:
        del request
        read_fd, write_fd = os.pipe()
        prelude = (
            "import time; from multiprocessing.connection import Connection; "
            f"conn = Connection({write_fd}, readable=False); "
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", prelude + script],
            pass_fds=(write_fd,),
            start_new_session=True,
        )
        os.close(write_fd)
        return proc, Connection(read_fd, writable=False)

    return start


#: Starts, then never answers.
_silent_worker = _worker_that("conn.send(('started',)); time.sleep(120)")
#: Never gets as far as starting (as on a machine too busy to import anything).
_stuck_worker = _worker_that("time.sleep(120)")
#: Starts 3 s late (later than the limit and its grace), then answers at once.
_late_worker = _worker_that("time.sleep(3); conn.send(('started',)); time.sleep(0.5)")


def test_a_job_whose_solver_cannot_finish_fails_with_its_reason(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "_start_worker", _silent_worker)
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    tenant.vehicle(vtype["id"], depot["id"])
    order = tenant.order(1)
    began = time.monotonic()
    plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 0.5}, status=202)
    job = tenant.wait_for_job(plan["id"], timeout_s=30)
    took = time.monotonic() - began
    assert job["status"] == "failed", job
    assert "no plan within the time limit of 0.5 s" in job["error"], job
    assert took <= 0.5 + jobs.grace_s(0.5) + jobs.WORKER_START_S + 1.0, took
    assert tenant.ok("get", f"/plans/{plan['id']}")["status"] == "failed"
    assert tenant.ok("get", f"/orders/{order['id']}")["status"] == "pending"


def test_a_worker_that_never_starts_is_stopped_after_the_start_limit(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "_start_worker", _stuck_worker)
    monkeypatch.setattr(jobs, "WORKER_START_LIMIT_S", 1.5)
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    tenant.vehicle(vtype["id"], depot["id"])
    tenant.order(1)
    plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 0.5}, status=202)
    job = tenant.wait_for_job(plan["id"], timeout_s=30)
    assert job["status"] == "failed", job
    assert "did not start within 1.5 s" in job["error"], job


def test_a_worker_slow_to_start_is_waited_for(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started after the limit and its grace had passed, the worker still gets its
    grace from its start (here it then dies without a plan: the job says so, not
    that the time ran out)."""
    monkeypatch.setattr(jobs, "_start_worker", _late_worker)
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    tenant.vehicle(vtype["id"], depot["id"])
    tenant.order(1)
    monkeypatch.setattr(jobs, "grace_s", lambda limit: 0.5)
    monkeypatch.setattr(jobs, "WORKER_START_S", 0.1)
    plan = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 0.5}, status=202)
    job = tenant.wait_for_job(plan["id"], timeout_s=30)
    assert job["status"] == "failed", job
    assert "no plan within the time limit" not in job["error"], job


def test_a_job_tells_the_time_limit_it_was_given(tenant: Tenant) -> None:
    depot, vtype = tenant.depot(), tenant.vehicle_type(capacity=[])
    tenant.vehicle(vtype["id"], depot["id"])
    tenant.order(1)
    asked = tenant.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 2.5}, status=202)
    assert asked["job"]["time_limit_s"] == 2.5
    assert tenant.ok("get", f"/plans/{asked['id']}/job")["time_limit_s"] == 2.5
    tenant.wait_for_job(asked["id"], timeout_s=60)
    # None asked: the service's default (1 s in these tests).
    default = tenant.ok("post", "/plans", json={"date": str(DAY)}, status=202)
    assert default["job"]["time_limit_s"] == 1.0
    tenant.wait_for_job(default["id"], timeout_s=60)
