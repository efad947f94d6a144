"""``lastmile demo --serve`` as a new user meets it: the command seeds today in
its demo organisation and serves it; the dispatcher it prints signs in and sees
the day's routes on the dashboard."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import _shot

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``lastmile demo --serve`` on a free port with a small day: (its URL, what it printed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "demo.log"
    env = os.environ | {"PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-m", "lastmile.cli", "demo", "--serve", "--port", str(port)]
    command += ["--out", str(tmp_path / "out"), "--orders", "20", "--time-limit", "1"]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # generous: a loaded machine imports slowly
        while True:
            assert process.poll() is None, f"the demo stopped: {log.read_text()}"
            assert time.monotonic() < deadline, f"the demo did not come up: {log.read_text()}"
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        yield url, log.read_text()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert (tmp_path / "out" / "service.db").is_file()


def test_the_printed_dispatcher_sees_the_seeded_routes(
    chromium: Any, demo: tuple[str, str]
) -> None:
    url, printed = demo
    assert f"open {url}/login" in printed
    email, password = re.search(r"^\s*dispatcher\s+(\S+)\s+(\S+)\s*$", printed, re.M).groups()  # type: ignore[union-attr]
    assert len(re.findall(rf"^\s+{re.escape(url)}/track/\S+$", printed, re.M)) == 2
    assert re.search(r"in \d+\.\d s \(planning \d+\.\d s\)", printed)

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
        page = context.new_page()
        page.goto("/login?next=/dashboard")
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard*")
        page.wait_for_selector("body[data-live-ready=true]", timeout=30_000)
        page.locator("#live-timeline .bar.stop").first.wait_for()
        assert page.locator("#live-timeline .row:not(.axis)").count() >= 2
        assert page.locator("#live-timeline .status-delivered").count() >= 1
        _shot(page, "demo-dashboard")
        assert blocked == []
    finally:
        context.close()
