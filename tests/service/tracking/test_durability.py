"""An acknowledged ping is never lost: ``lastmile serve`` is killed (SIGKILL) in the
middle of a ping load and restarted, and every event id it acknowledged is stored.

Runs on SQLite and PostgreSQL (the suite's database): the server is a separate
process, the load comes from client threads in this one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.tracking.models import PositionPing

from ..conftest import DAY, World, build_world  # type: ignore[import-not-found]

BATCH = 50
CLIENTS = 4
#: Kill once this many batches have been acknowledged.
KILL_AFTER = 24


@pytest.fixture(scope="module")
def dw(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


def _command() -> list[str]:
    script = Path(sys.executable).parent / "lastmile"
    found = str(script) if script.exists() else shutil.which("lastmile")
    return [found] if found else [sys.executable, "-m", "lastmile.service"]


@contextmanager
def server(
    database_url: str, log: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``lastmile serve`` on a free port; yields the process and its base URL.
    ``settings`` are more ``LASTMILE_<NAME>`` variables, by lower-case name."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = (
        os.environ
        | {"LASTMILE_DATABASE_URL": database_url, "LASTMILE_REDIS_URL": ""}
        | {f"LASTMILE_{name.upper()}": value for name, value in settings.items()}
    )
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*_command(), "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # A ceiling, not a measure: start-up takes seconds, minutes on a loaded machine.
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "server did not become healthy"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def batch(client_no: int, n: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"kill-{client_no}-{n}-{k}",
            "at": f"{DAY}T12:{n % 60:02d}:{k % 60:02d}+02:00",
            "lon": 2.3 + 0.0001 * k,
            "lat": 48.85,
        }
        for k in range(BATCH)
    ]


def test_acknowledged_pings_survive_sigkill(
    database_url: str, app: FastAPI, dw: World, tmp_path: Path
) -> None:
    t = dw.tenant
    route = next(r for r in dw.plan["routes"] if r["driver_id"] == str(t.driver_ids["d1"]))
    url = f"/routes/{route['id']}/pings"
    acked: list[str] = []
    in_flight: list[list[dict[str, Any]]] = []
    lock = threading.Lock()
    enough = threading.Event()
    log = tmp_path / "server.log"

    with server(database_url, log) as (proc, base):

        def load(client_no: int) -> None:
            with httpx.Client(base_url=base, headers=t.headers("d1"), timeout=10) as http:
                for n in range(10_000):
                    body = batch(client_no, n)
                    try:
                        r = http.post(url, json={"pings": body})
                    except httpx.TransportError:
                        with lock:
                            in_flight.append(body)
                        return
                    assert r.status_code == 200, r.text
                    with lock:
                        acked.extend(p["event_id"] for p in body)
                        if len(acked) >= KILL_AFTER * BATCH:
                            enough.set()

        threads = [threading.Thread(target=load, args=(c,)) for c in range(CLIENTS)]
        for th in threads:
            th.start()
        assert enough.wait(60), f"the load did not get going: {log.read_text()[-2000:]}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(20)
        for th in threads:
            th.join(30)
        assert proc.returncode == -signal.SIGKILL
        assert in_flight, "the kill hit no request in flight"

    with app.state.sessionmaker() as session:
        present = set(
            session.scalars(
                select(PositionPing.event_id).where(PositionPing.event_id.like("kill-%"))
            )
        )
    missing = set(acked) - present
    print(f"acked {len(acked)} in flight {len(in_flight)} present {len(present)}")
    assert not missing, f"{len(missing)} acknowledged pings lost, e.g. {sorted(missing)[:5]}"

    # Restarted, the server has them all, and the batches cut off by the kill
    # can be sent again: what had been committed is not stored twice.
    with (
        server(database_url, log) as (_, base),
        httpx.Client(base_url=base, headers=t.headers("d1"), timeout=10) as http,
    ):
        stored = http.get(f"/routes/{route['id']}/positions", params={"limit": 10_000})
        assert stored.status_code == 200
        assert set(acked) <= {p["event_id"] for p in stored.json()}
        for body in in_flight:
            r = http.post(url, json={"pings": body})
            assert r.status_code == 200, r.text
            counts = r.json()
            assert counts["accepted"] + counts["duplicates"] == BATCH
    with app.state.sessionmaker() as session:
        after = list(
            session.scalars(
                select(PositionPing.event_id).where(PositionPing.event_id.like("kill-%"))
            )
        )
    assert (
        len(after)
        == len(set(after))
        == len(present) + sum(1 for body in in_flight for p in body if p["event_id"] not in present)
    )
