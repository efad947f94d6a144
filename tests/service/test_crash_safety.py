"""Crash safety: ``lastmile serve`` is killed (SIGKILL) at a random moment while it
takes stop events, imports order files and runs a planning job, then restarted.

* every stop event the client got a 2xx for is stored (acknowledged pings: see
  tracking/test_durability.py, whose server helper these tests share);
* an imported file is all there or absent: all or nothing, an acknowledged
  file completely; partial mode, exactly the rows the answer reported;
* a planning job running at the kill ends ``failed`` with its reason once the
  service runs again (its orders still pending, ready to be planned again), and
  its solver process does not outlive the killed server.

Runs on SQLite and PostgreSQL (the suite's database): the server is a separate
process, the clients are threads of this one. The kill moment is random; the
seed is printed so a failure can be replayed (``CRASH_SEED``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.orders.models import Order
from lastmile.service.plans.jobs import INTERRUPTED

from .conftest import DAY, Tenant, new_tenant  # type: ignore[import-not-found]
from .tracking.test_durability import server  # type: ignore[import-not-found]

#: Rows per imported file, and the rows of a partial file that are refused.
ROWS = 150
BAD_ROWS = (7, 60, 149)
#: The keeper's span in the restarted server: a killed job is failed within it.
STALE_S = 2.0


@pytest.fixture(scope="module")
def routes(app: FastAPI, client: TestClient) -> tuple[Tenant, dict[str, dict[str, Any]]]:
    """A tenant with a dispatched plan: each driver's route (as in ``build_world``).
    The suite searches plans in a thread of this process (no worker process to
    start, tests/service/conftest.py) and a solve takes its whole limit: 1 s."""
    t = new_tenant(app, client)
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[6])
    for who in ("d1", "d2"):
        t.shift(who, t.vehicle(vtype["id"], depot["id"])["id"])
    for i in range(10):
        t.order(i)
    # On a loaded machine the solver may miss even a generous limit: try again.
    for _ in range(3):
        plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": 1}, status=202)
        job = t.wait_for_job(plan["id"], timeout_s=120)
        if job["status"] == "succeeded":
            break
    assert job["status"] == "succeeded", job
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    by_driver = {r["driver_id"]: r for r in plan["routes"]}
    return t, {who: by_driver[str(t.driver_ids[who])] for who in ("d1", "d2")}


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(2**32))
    print(f"CRASH_SEED={seed}")
    return random.Random(seed)


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(20)
    assert proc.returncode == -signal.SIGKILL


# -- stop events ---------------------------------------------------------------------------


def test_acknowledged_stop_events_survive_sigkill(
    database_url: str,
    routes: tuple[Tenant, dict[str, dict[str, Any]]],
    tmp_path: Path,
    rng: random.Random,
) -> None:
    t, by_driver = routes
    log = tmp_path / "server.log"
    acked: dict[str, list[str]] = {"d1": [], "d2": []}
    cut: dict[str, list[dict[str, Any]]] = {"d1": [], "d2": []}
    started = threading.Event()

    with server(database_url, log) as (proc, base):

        def drive(who: str) -> None:
            route = by_driver[who]
            stops = [v for v in route["visits"] if v["order_id"]]
            events = [
                {
                    "event_id": f"crash-{who}-{kind}-{v['sequence']}",
                    "kind": kind,
                    "sequence": v["sequence"],
                    "at": f"{DAY}T{9 + k:02d}:{m:02d}:00+02:00",
                }
                for k, v in enumerate(stops)
                for m, kind in enumerate(("arrived", "delivered"))
            ]
            with httpx.Client(base_url=base, headers=t.headers(who), timeout=10) as http:
                for event in events:
                    try:
                        r = http.post(f"/routes/{route['id']}/events", json={"events": [event]})
                    except httpx.TransportError:
                        cut[who].append(event)
                        return
                    assert r.status_code == 200, r.text
                    acked[who].append(event["event_id"])
                    started.set()
                    # Pace the driver so the kill lands among the events.
                    time.sleep(rng.uniform(0.0, 0.15))

        threads = [threading.Thread(target=drive, args=(who,)) for who in by_driver]
        for th in threads:
            th.start()
        assert started.wait(60), f"no event was acknowledged: {log.read_text()[-2000:]}"
        time.sleep(rng.uniform(0.0, 1.0))
        kill(proc)
        for th in threads:
            th.join(30)

    with server(database_url, log) as (_, base):
        for who, route in by_driver.items():
            with httpx.Client(base_url=base, headers=t.headers(who), timeout=10) as http:
                stored = http.get(f"/routes/{route['id']}/events")
                assert stored.status_code == 200, stored.text
                ids = [e["event_id"] for e in stored.json()]
                missing = set(acked[who]) - set(ids)
                assert not missing, f"acknowledged stop events lost: {sorted(missing)}"
                assert len(ids) == len(set(ids))
                # The event cut off by the kill can be sent again: stored once.
                for event in cut[who]:
                    r = http.post(f"/routes/{route['id']}/events", json={"events": [event]})
                    assert r.status_code == 200, r.text
                again = [e["event_id"] for e in http.get(f"/routes/{route['id']}/events").json()]
                assert (
                    len(again)
                    == len(set(again))
                    == len(set(ids) | {e["event_id"] for e in cut[who]})
                )
    print(f"acknowledged {sum(map(len, acked.values()))} cut {sum(map(len, cut.values()))}")


# -- order imports -------------------------------------------------------------------------


def csv_file(number: int, *, partial: bool) -> bytes:
    """``ROWS`` orders named ``crash-<number>-<row>``; in a partial file the rows of
    ``BAD_ROWS`` have a latitude out of range."""
    lines = ["external_id,lon,lat,window_start,window_end,service_min,customer_name"]
    for i in range(ROWS):
        lat = 95.0 if partial and i in BAD_ROWS else 48.80 + 0.0005 * i
        lines.append(
            f"crash-{number}-{i},{2.25 + 0.0007 * i:.5f},{lat:.5f},09:00,18:00,4,Customer {i}"
        )
    return ("\n".join(lines) + "\n").encode()


def stored_ids(app: FastAPI, org_id: uuid.UUID, number: int) -> dict[str, uuid.UUID]:
    with app.state.sessionmaker() as session:
        rows = session.execute(
            select(Order.external_id, Order.id).where(
                Order.org_id == org_id, Order.external_id.like(f"crash-{number}-%")
            )
        )
        return {str(external_id): order_id for external_id, order_id in rows}


def test_an_import_killed_midway_is_all_there_or_absent(
    database_url: str, app: FastAPI, client: TestClient, tmp_path: Path, rng: random.Random
) -> None:
    t = new_tenant(app, client)
    log = tmp_path / "server.log"
    answers: dict[int, dict[str, Any]] = {}
    cut: list[int] = []
    started = threading.Event()

    def partial(number: int) -> bool:
        return number % 2 == 1

    with server(database_url, log) as (proc, base):

        def load() -> None:
            with httpx.Client(base_url=base, headers=t.headers(), timeout=60) as http:
                for number in range(1000):
                    mode = "partial" if partial(number) else "all_or_nothing"
                    try:
                        r = http.post(
                            "/orders/import",
                            params={"date": str(DAY), "mode": mode},
                            files={
                                "file": ("orders.csv", csv_file(number, partial=partial(number)))
                            },
                        )
                    except httpx.TransportError:
                        cut.append(number)
                        return
                    assert r.status_code == 200, r.text
                    answers[number] = r.json()
                    started.set()

        thread = threading.Thread(target=load)
        thread.start()
        assert started.wait(60), f"no import was acknowledged: {log.read_text()[-2000:]}"
        time.sleep(rng.uniform(0.0, 1.5))
        kill(proc)
        thread.join(60)
    assert cut, "the kill hit no import in flight"

    good = [i for i in range(ROWS) if i not in BAD_ROWS]
    for number, answer in answers.items():
        present = stored_ids(app, t.org_id, number)
        if partial(number):
            # Exactly the rows reported: the good ones, under the ids answered.
            assert answer["created"] == ROWS - len(BAD_ROWS)
            assert sorted(r["row"] for r in answer["rejected"]) == [i + 2 for i in BAD_ROWS]
            assert set(present.values()) == {uuid.UUID(o) for o in answer["order_ids"]}
            assert set(present) == {f"crash-{number}-{i}" for i in good}
        else:
            assert answer["created"] == ROWS
            assert set(present.values()) == {uuid.UUID(o) for o in answer["order_ids"]}
    for number in cut:
        present = stored_ids(app, t.org_id, number)
        expected = ROWS - len(BAD_ROWS) if partial(number) else ROWS
        assert len(present) in (0, expected), f"file {number}: {len(present)} of {expected} rows"

    # Restarted, the file cut off is sent again: whatever had been committed is
    # counted unchanged, the rest created, nothing twice.
    with (
        server(database_url, log) as (_, base),
        httpx.Client(base_url=base, headers=t.headers(), timeout=60) as http,
    ):
        number = cut[0]
        before = stored_ids(app, t.org_id, number)
        r = http.post(
            "/orders/import",
            params={"date": str(DAY), "mode": "partial" if partial(number) else "all_or_nothing"},
            files={"file": ("orders.csv", csv_file(number, partial=partial(number)))},
        )
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["unchanged"] == len(before)
        assert answer["created"] + answer["unchanged"] == len(answer["order_ids"])
    after = stored_ids(app, t.org_id, number)
    assert set(after.values()) == {uuid.UUID(o) for o in answer["order_ids"]}
    assert before.items() <= after.items()
    print(f"imports acknowledged {len(answers)}, cut {cut}, re-sent file had {len(before)} rows")


# -- planning jobs -------------------------------------------------------------------------


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after it.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as ended)."""
    running = set()
    for pid in pids:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def planning_tenant(app: FastAPI, client: TestClient) -> Tenant:
    t = new_tenant(app, client)
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[40])
    for who in ("d1", "d2"):
        t.shift(who, t.vehicle(vtype["id"], depot["id"])["id"])
    for i in range(40):
        t.order(i)
    return t


def test_a_planning_job_killed_midway_ends_failed_with_its_reason(
    database_url: str, app: FastAPI, client: TestClient, tmp_path: Path, rng: random.Random
) -> None:
    t = planning_tenant(app, client)
    log = tmp_path / "server.log"
    settings = {
        "planning_stale_after_s": str(STALE_S),
        "planning_executor": "process",
        "planning_attempts": "1",  # not started again: tests/service/plans/test_queue.py
    }
    with (
        server(database_url, log, **settings) as (proc, base),
        httpx.Client(base_url=base, headers=t.headers(), timeout=10) as http,
    ):
        r = http.post("/plans", json={"date": str(DAY), "time_limit_s": 30})
        assert r.status_code == 202, r.text
        plan_id = r.json()["id"]
        deadline = time.monotonic() + 120  # a ceiling for a loaded machine
        while (job := http.get(f"/plans/{plan_id}/job").json())["status"] != "running":
            assert job["status"] == "queued", job
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))
        solvers = children(proc.pid)
        kill(proc)

    with (
        server(database_url, log, **settings) as (_, base),
        httpx.Client(base_url=base, headers=t.headers(), timeout=10) as http,
    ):
        deadline = time.monotonic() + 10 * STALE_S + 20
        while (job := http.get(f"/plans/{plan_id}/job").json())["status"] == "running":
            assert time.monotonic() < deadline, f"the killed job is still running: {job}"
            time.sleep(0.2)
        assert job["status"] == "failed", job
        assert job["error"] == INTERRUPTED
        assert http.get(f"/plans/{plan_id}").json()["status"] == "failed"
        orders = http.get("/orders", params={"limit": 100}).json()
        assert len(orders) == 40 and all(o["status"] == "pending" for o in orders)
    # The killed server's solver process stopped with it.
    deadline = time.monotonic() + 10
    while alive(solvers):
        assert time.monotonic() < deadline, f"solver processes left behind: {alive(solvers)}"
        time.sleep(0.2)
