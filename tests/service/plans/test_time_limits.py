"""Planning jobs keep their time limit, and one that cannot ends failed with its reason."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
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


def _silent_worker(request: tuple[Any, ...]) -> tuple[subprocess.Popen[bytes], Connection]:
    """A worker that never answers: a process that only sleeps."""
    del request
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        pass_fds=(write_fd,),
        start_new_session=True,
    )
    os.close(write_fd)
    return proc, Connection(read_fd, writable=False)


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
