"""``lastmile serve --demo``: the demo day played live on a port of the user's
choosing. The command is run as a user runs it (a process of its own, stopped
with Ctrl-C); while the day is played, its printed admin signs in over HTTP and
reads, as the dashboard does, the vans' GPS fixes and stop events grow."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import lastmile.demo_service
from lastmile.cli import main

SRC = Path(__file__).resolve().parents[1] / "src"
SPEED = 3000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    log: Path
    url: str
    out: Path

    def printed(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_for(self, pattern: str, seconds: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + seconds
        while True:
            found = re.search(pattern, self.printed())
            if found:
                return found
            assert self.process.poll() is None, f"the command stopped:\n{self.printed()}"
            assert time.monotonic() < deadline, f"no {pattern!r} in:\n{self.printed()}"
            time.sleep(0.1)


def start_live_demo(tmp_path: Path, *extra: str) -> Running:
    """``lastmile serve --demo`` with a tiny, fast day on a free port of 127.0.0.1."""
    port = free_port()
    out = tmp_path / "out"
    log = tmp_path / "serve.log"
    env = os.environ | {
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PYTHONFAULTHANDLER": "1",
    }
    command = [sys.executable, "-m", "lastmile.cli", "serve", "--demo", "--port", str(port)]
    command += ["--orders", "6", "--speed", str(SPEED), "--time-limit", "8", "--seed", "3"]
    command += ["--out", str(out), *extra]
    with log.open("w") as printed:
        process = subprocess.Popen(
            command,
            stdout=printed,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=_ctrl_c_reaches_it,
        )
    return Running(process, log, f"http://127.0.0.1:{port}", out)


def _ctrl_c_reaches_it() -> None:
    """In the child, before it runs: Ctrl-C neither blocked nor ignored, as in a
    terminal. A child inherits both from the test process, which other tests' native
    code may leave with SIGINT blocked (then Ctrl-C never reached the demo)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop(running: Running) -> int:
    """Ctrl-C, as the user stops it; its exit status. If it has not stopped within
    30 s (it takes about a second), its threads' stacks are dumped into its output
    (the process runs with Python's fault handler: SIGABRT) to say where it waits."""
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
    try:
        return running.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        running.process.send_signal(signal.SIGABRT)
        try:
            running.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
        raise AssertionError(f"Ctrl-C did not stop it:\n{running.printed()}") from None


@pytest.fixture
def live_demo(tmp_path: Path) -> Iterator[Running]:
    running = start_live_demo(tmp_path, "--start-after", "0")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def _progress(api: httpx.Client, plan_id: str) -> tuple[int, int, set[tuple[float, float]]]:
    """(GPS fixes, stop events, where the vans last were) over the plan's routes."""
    fixes = events = 0
    last: set[tuple[float, float]] = set()
    for route in api.get(f"/plans/{plan_id}").json()["routes"]:
        positions = api.get(f"/routes/{route['id']}/positions").json()
        fixes += len(positions)
        events += len(api.get(f"/routes/{route['id']}/events").json())
        if positions:
            last.add((positions[-1]["lat"], positions[-1]["lon"]))
    return fixes, events, last


def test_the_day_plays_live_for_the_printed_admin_and_serves_on_until_ctrl_c(
    live_demo: Running,
) -> None:
    sign_in = live_demo.wait_for(r"sign in as (\S+)\s+password (\S+)")
    email, password = sign_in.groups()
    assert f"open {live_demo.url}/dashboard?day=" in live_demo.printed()
    database = live_demo.out / "service.db"
    assert f"database (SQLite, kept afterwards): {database}" in live_demo.printed()

    with httpx.Client(base_url=live_demo.url, timeout=30) as client:
        # The dashboard's page, for a browser signed in with the printed password.
        assert client.get("/dashboard").status_code == 303
        form = {"email": email, "password": password, "next": "/dashboard"}
        assert client.post("/login", data=form).status_code == 303
        page = client.get("/dashboard")
        assert page.status_code == 200 and 'id="live-map"' in page.text
        answer = client.post("/auth/login", json={"email": email, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        clock = client.get("/health").json()["clock"]
        assert clock["simulated"] and clock["speed"] == SPEED

        live_demo.wait_for(r"the clock runs")
        # The morning before the first van leaves is skipped: the clock starts just before.
        leaves, moved = live_demo.wait_for(
            r"the first van leaves at (\d\d:\d\d): the clock moves on to (\d\d:\d\d)"
        ).groups()
        assert "07:50" < moved < leaves
        assert "Ctrl-C to stop" not in live_demo.printed()
        plan = next(p for p in client.get("/plans").json() if p["status"] == "dispatched")
        # Reads while the day is played, as the dashboard makes them: the vans move.
        seen: list[tuple[int, int, set[tuple[float, float]]]] = []
        deadline = time.monotonic() + 60
        while len(seen) < 2 or seen[-1][0] == seen[0][0]:
            assert time.monotonic() < deadline, f"nothing moved: {seen}"
            state = _progress(client, plan["id"])
            assert "the day is over" not in live_demo.printed(), f"over before: {seen}"
            if state[0]:  # the first fixes are in
                seen.append(state)
            time.sleep(0.3)
        (fixes_1, events_1, where_1), (fixes_2, events_2, where_2) = seen[0], seen[-1]
        assert fixes_2 > fixes_1 and events_2 >= events_1 and where_2 != where_1

        # The day ends with the report; the service serves on, its clock held at the end.
        live_demo.wait_for(r"Ctrl-C to stop", seconds=120)
        printed = live_demo.printed()
        assert f"report: {live_demo.out / 'report.html'}" in printed
        assert re.search(r"on time\s+[\d.]+%", printed)
        clock = client.get("/health").json()["clock"]
        assert clock["held"]
        outcomes = [
            e
            for r in client.get(f"/plans/{plan['id']}").json()["routes"]
            for e in client.get(f"/routes/{r['id']}/events").json()
            if e["kind"] in ("delivered", "failed")
        ]
        assert outcomes
        assert client.get("/health").status_code == 200
    assert stop(live_demo) == 0
    assert live_demo.printed().rstrip().endswith("stopped")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{live_demo.url}/health", timeout=2)
    assert database.is_file() and (live_demo.out / "record.json").is_file()


def test_the_options_reach_the_demo_and_bad_ones_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, Any]] = []

    def run_service_demo(**kw: Any) -> int:
        asked.append(kw)
        return 0

    monkeypatch.setattr(lastmile.demo_service, "run_service_demo", run_service_demo)
    out = tmp_path / "day"
    assert main(["serve", "--demo", "--port", "8123", "--out", str(out)]) == 0
    assert main(["serve", "--demo", "--host", "0.0.0.0", "--speed", "300", "--orders", "9"]) == 0
    assert main(["serve", "--demo", "--start-after", "0", "--seed", "4", "--time-limit", "2"]) == 0
    common = {"live": True, "host": "127.0.0.1", "port": 8000}
    assert asked == [
        {
            **common,
            "port": 8123,
            "out_dir": out,
            "orders": 100,
            "speed": 60.0,
            "time_limit": 5.0,
            "seed": 7,
            "start_after": 5.0,
        },
        {
            **common,
            "host": "0.0.0.0",
            "out_dir": Path("out/demo-live"),
            "orders": 9,
            "speed": 300.0,
            "time_limit": 5.0,
            "seed": 7,
            "start_after": 5.0,
        },
        {
            **common,
            "out_dir": Path("out/demo-live"),
            "orders": 100,
            "speed": 60.0,
            "time_limit": 2.0,
            "seed": 4,
            "start_after": 0.0,
        },
    ]
    capsys.readouterr()
    # The demo's options mean nothing to a plain server, and the demo plans on its own map.
    assert main(["serve", "--speed", "60"]) == 2
    assert "--speed: only with --demo" in capsys.readouterr().err
    assert main(["serve", "--demo", "--network", "x.osm.pbf"]) == 2
    assert "--network: not with --demo" in capsys.readouterr().err
    assert len(asked) == 3


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--speed", "0"], "--speed: must be more than 0"),
        (["--speed", "-5"], "--speed: must be more than 0"),
        (["--start-after", "-1"], "--start-after: must be 0 or more"),
        (["--orders", "1"], "--orders: must be at least 2"),
        (["--port", "70000"], "--port: must be between 0 and 65535"),
    ],
)
def test_bad_values_are_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    assert main(["serve", "--demo", "--out", str(tmp_path / "out"), *args]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_port_in_use_is_refused_naming_the_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["serve", "--demo", "--port", str(port), "--orders", "3", "--out", str(tmp_path)]
        )
    assert code == 2
    assert f"--port: cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
