"""Browser tests: Playwright for Python driving Debian's Chromium, headless,
against the app served by uvicorn on 127.0.0.1 (an SQLite file, planning in
threads). Browser and server live for one test module: while they run, this
process has an event loop and extra threads, which the rest of the suite must
not inherit (``asyncio.run``, forking solver workers).

Every page's network is cut off except 127.0.0.1: a page that needs another
site fails here as it would offline. Without Chromium (``apt-get install
chromium``) the tests skip with that message, except under ``CI=true``, where
they fail. ``network_server`` (with ``network_org``, ``network_page``) serves
the app on the Monaco road network instead of straight lines. Screenshots go to
``test-output/screenshots/`` (``shot``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI

from lastmile.service import security
from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.orgs.service import create_org
from lastmile.service.pod.storage import LocalFileStore
from lastmile.service.settings import Settings

CHROMIUM = os.environ.get("LASTMILE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "correct horse battery"
#: The road network of ``network_server``.
MONACO = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _why_no_browser() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:  # pragma: no cover - a dev dependency
        return f"Playwright for Python is not installed: {exc}"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless Chromium, shared by the tests of a module. Playwright's sync API runs
    an event loop in this thread while it is started, so it is stopped after each
    module: the rest of the suite calls asyncio.run() on this thread."""
    problem = _why_no_browser()
    if problem is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own
        pass


@dataclass
class LiveServer:
    """The app served on ``url``."""

    url: str
    app: FastAPI

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )


def _serve(settings: Settings) -> Iterator[LiveServer]:
    """``settings``' app served by uvicorn on a free port of 127.0.0.1 until closed
    (links start with its address; the tests sign in more often than people do)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings.model_copy(
        update={
            "public_base_url": f"http://127.0.0.1:{port}",
            "login_attempts_per_address_per_minute": 10_000,
        }
    )
    app = create_app(settings, geocode=None)
    # Signatures and photos go to a folder of the test run, not the working directory.
    app.state.pod_store = LocalFileStore(Path(tempfile.mkdtemp(prefix="lastmile-pod-")))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    served = _Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not served.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.05)
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app)
    served.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    folder = tmp_path_factory.mktemp("browser")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'lastmile.db'}",
        planning_executor="thread",
        default_time_limit_s=2.0,
        tracking_refresh_s=2,
    )
    yield from _serve(settings)


@pytest.fixture(scope="module")
def network_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app on the Monaco road network (``LASTMILE_NETWORK``), otherwise as ``server``."""
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    folder = tmp_path_factory.mktemp("browser-network")
    settings = Settings(
        database_url=f"sqlite:///{folder / 'lastmile.db'}",
        planning_executor="thread",
        default_time_limit_s=2.0,
        network=str(MONACO),
        traffic="none",
    )
    yield from _serve(settings)


@dataclass
class Org:
    """An organisation with an admin, a dispatcher and a driver, and API tokens."""

    server: LiveServer
    org_id: uuid.UUID
    slug: str
    emails: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def api(self, who: str = "admin") -> httpx.Client:
        """An API client with ``who``'s bearer token (closed after the test)."""
        if who not in self.clients:
            self.clients[who] = self.server.api(self.tokens[who])
        return self.clients[who]


def _new_org(server: LiveServer) -> Iterator[Org]:
    slug = f"org-{secrets.token_hex(4)}"
    emails = {}
    with server.app.state.sessionmaker() as session:
        made = create_org(session, name=f"Bakery {slug}", slug=slug, timezone="Europe/Helsinki")
        for who, role in (
            ("admin", Role.ADMIN),
            ("dispatcher", Role.DISPATCHER),
            ("driver", Role.DRIVER),
        ):
            user = create_user(
                session,
                org_id=made.id,
                email=f"{who}@{slug}.example",
                password=PASSWORD,
                role=role,
                name=who.title(),
            )
            emails[who] = user.email
    found = Org(server=server, org_id=made.id, slug=slug, emails=emails)
    for who, email in emails.items():
        r = httpx.post(f"{server.url}/auth/login", json={"email": email, "password": PASSWORD})
        r.raise_for_status()
        found.tokens[who] = r.json()["access_token"]
    yield found
    for client in found.clients.values():
        client.close()


@pytest.fixture
def org(server: LiveServer) -> Iterator[Org]:
    yield from _new_org(server)


@pytest.fixture
def network_org(network_server: LiveServer) -> Iterator[Org]:
    """As ``org``, on ``network_server``."""
    yield from _new_org(network_server)


def _only_this_machine(route: Any) -> None:
    host = urllib.parse.urlsplit(route.request.url).hostname
    if host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort("blockedbyclient")


def _pages(chromium: Any, server: LiveServer) -> Iterator[Any]:
    contexts = []

    def make(width: int = 1280, height: int = 800, **options: Any) -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": height}, base_url=server.url, **options
        )
        contexts.append(context)
        page = context.new_page()
        page.blocked = []

        def route(r: Any) -> None:
            host = urllib.parse.urlsplit(r.request.url).hostname
            if host not in ("127.0.0.1", "localhost"):
                page.blocked.append(r.request.url)
            _only_this_machine(r)

        context.route("**/*", route)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def new_page(chromium: Any, server: LiveServer) -> Iterator[Any]:
    """``new_page(width=1280, height=800)``: a page in a fresh browser context (its
    own cookies) whose requests leave only for 127.0.0.1; every request that was
    refused is listed in ``page.blocked``."""
    yield from _pages(chromium, server)


@pytest.fixture
def network_page(chromium: Any, network_server: LiveServer) -> Iterator[Any]:
    """As ``new_page``, on ``network_server``."""
    yield from _pages(chromium, network_server)


def _sign_in(page: Any, email: str, next_url: str = "/") -> None:
    page.goto(f"/login?next={urllib.parse.quote(next_url)}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def _shot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def sign_in() -> Any:
    """``sign_in(page, email, next_url="/")``: sign in through the login page."""
    return _sign_in


@pytest.fixture
def shot() -> Any:
    """``shot(page, name)``: a full-page screenshot, test-output/screenshots/<name>.png."""
    return _shot


AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def _axe(page: Any, *, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        """async (exclude) => await axe.run(
            {exclude: exclude.map(s => [s])},
            {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""",
        list(exclude),
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


@pytest.fixture
def axe() -> Any:
    """``axe(page, exclude=(css selectors,))``: axe-core's WCAG 2.1 A/AA violations on
    the page as it is now (an empty list when it has none)."""
    return _axe
