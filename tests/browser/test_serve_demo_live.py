"""``lastmile serve --demo`` watched in a browser: the admin it prints signs in on
the dashboard while the planned day waits for its clock; once the clock runs, the
vans' GPS fixes arrive (the newest fix moves on), the timeline's line for now
moves with the service's simulated clock and stops turn delivered, without a
reload. (The map draws on a canvas: its markers are not in the page's tree.)"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from .conftest import _shot

SRC = Path(__file__).resolve().parents[2] / "src"
#: When the newest GPS fix the page received was taken (empty: none yet).
NEWEST_FIX = "document.getElementById('kpi-newest-fix').dataset.at"


def _wait_for(process: subprocess.Popen[bytes], log: Path, pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + 120  # generous: a loaded machine loads the map slowly
    while True:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        assert process.poll() is None, f"the command stopped: {log.read_text()}"
        assert time.monotonic() < deadline, f"no {pattern!r} in: {log.read_text()}"
        time.sleep(0.1)


def test_the_vans_move_and_stops_are_delivered_on_the_dashboard(
    chromium: Any, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    env = os.environ | {"PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "lastmile.cli", "serve", "--demo", "--port", str(port)]
    command += ["--orders", "6", "--speed", "2000", "--time-limit", "8", "--seed", "3"]
    command += ["--out", str(tmp_path / "out"), "--start-after", "10"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    context = chromium.new_context(viewport={"width": 1400, "height": 1000}, base_url=url)
    blocked: list[str] = []

    def only_this_machine(route: Any) -> None:
        if urllib.parse.urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", only_this_machine)
    try:
        email, password = _wait_for(process, log, r"sign in as (\S+)\s+password (\S+)").groups()
        dashboard = _wait_for(process, log, rf"open {re.escape(url)}(/dashboard\S+) now")[1]
        page = context.new_page()
        page.goto(f"/login?next={urllib.parse.quote(dashboard)}")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard*")
        page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
        stops = page.locator("#live-timeline .bar.stop")
        stops.first.wait_for()
        # Loaded while the clock waits: the day is planned, nobody has left yet.
        assert "the clock runs" not in log.read_text(), "opened too late to see the start"
        assert stops.count() >= 6
        assert page.evaluate(NEWEST_FIX) == ""
        assert page.locator("#live-timeline .status-delivered").count() == 0
        loaded = page.evaluate("() => performance.timeOrigin")

        # The clock runs: the vans' fixes arrive and move on, stops turn delivered.
        page.wait_for_function(f"() => {NEWEST_FIX} !== ''", timeout=60_000)
        first = page.evaluate(NEWEST_FIX)
        page.wait_for_function(f"(at) => {NEWEST_FIX} > at", arg=first, timeout=60_000)
        # The timeline's line for now follows the service's clock, not the browser's.
        page.wait_for_function(
            "() => document.querySelector('#live-timeline .now')?.hidden === false",
            timeout=30_000,
        )
        page.locator("#live-timeline .status-delivered").first.wait_for(timeout=60_000)
        assert page.evaluate("() => performance.timeOrigin") == loaded
        _shot(page, "serve-demo-live")
        assert blocked == []
    finally:
        context.close()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
