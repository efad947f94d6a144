"""The service test suite runs once per database backend.

* SQLite: always (a fresh file per test run).
* PostgreSQL: at ``LASTMILE_TEST_POSTGRES_URL`` (default
  ``postgresql+psycopg://postgres@localhost:5432/test``), in a schema of its
  own created for this run and dropped after it, so runs never collide. When
  the server is unreachable these tests fail under ``CI=true`` and are skipped
  (with the reason) elsewhere.

Each backend gets one app (migrated once) shared by the tests; tests isolate
themselves by creating their own organisations, which is what tenancy
guarantees anyway.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service import security
from lastmile.service.app import create_app
from lastmile.service.auth.models import Role
from lastmile.service.auth.service import create_user
from lastmile.service.notifications.settings import NotifySettings
from lastmile.service.orgs.service import create_org
from lastmile.service.settings import Settings

PG_URL = os.environ.get(
    "LASTMILE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/test"
)
DAY = dt.date(2025, 5, 2)
PARIS = "Europe/Paris"


def pytest_configure(config: pytest.Config) -> None:
    del config
    # Hashing cost is not what these tests measure; production parameters are
    # checked in test_auth.py::test_passwords_are_hashed_with_argon2id.
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _pg_error() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg is not installed: {exc}"
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as exc:
        return f"PostgreSQL is not reachable at {PG_URL}: {exc}".strip()
    return None


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)]
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database for this test run: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'lastmile.db'}"
        return
    problem = _pg_error()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem} (CI=true: the PostgreSQL tests must run)")
        pytest.skip(f"{problem}; the PostgreSQL variant of the service tests is skipped")
    import psycopg

    schema = f"lastmile_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    options = urllib.parse.quote(f"-csearch_path={schema}")
    try:
        yield f"{PG_URL}{sep}options={options}"
    finally:
        with psycopg.connect(_libpq(PG_URL), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class FakeGeocoder:
    """Known addresses -> (lon, lat); anything else is not found."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[float, float]] = {
            "1 rue de rivoli, paris": (2.3522, 48.8566),
            "10 avenue foch, paris": (2.2885, 48.8718),
            "5 place d'italie, paris": (2.3556, 48.8310),
        }
        self.calls: list[str] = []

    def __call__(self, address: str) -> tuple[float, float] | None:
        self.calls.append(address)
        return self.known.get(address.strip().lower())


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        # Plans are searched in a thread of the test process: no worker process to
        # start per job (seconds each on a busy machine, which 0.5 s plans cannot
        # spare). tests/service/plans/ runs the real worker processes.
        "planning_executor": "thread",
        "solver_workers": 1,
        "default_time_limit_s": 1.0,
        "login_attempts_per_minute": 10_000,
        "login_attempts_per_address_per_minute": 10_000,
        "tracking_requests_per_minute": 10_000,
        "public_base_url": "https://track.example",
        # Apps of this suite share a database: each takes only the planning jobs it
        # queued (its own queue), and a job left by a dead process is not started
        # again (tests/service/plans/test_queue.py covers retries).
        "planning_queue": f"tests-{secrets.token_hex(4)}",
        "planning_attempts": 1,
        # The scheduled plans are driven by the tests, on a fake clock
        # (tests/service/automation).
        "automation_tick_s": 0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def geocoder() -> FakeGeocoder:
    return FakeGeocoder()


@pytest.fixture(scope="session")
def client(database_url: str, geocoder: FakeGeocoder) -> Iterator[TestClient]:
    """A client of the started app (database migrated, job runner running)."""
    app = create_app(make_settings(database_url), geocode=geocoder)
    # The tests' webhook receivers listen on 127.0.0.1: permitted on purpose.
    app.state.notify_settings = NotifySettings(webhook_allow="127.0.0.1/32")
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def app(client: TestClient) -> FastAPI:
    started: FastAPI = client.app  # type: ignore[assignment]
    return started


@dataclass
class Tenant:
    """An organisation with one user per role (two drivers) and their tokens."""

    client: TestClient
    org_id: uuid.UUID
    slug: str
    tokens: dict[str, str]
    driver_ids: dict[str, uuid.UUID] = field(default_factory=dict)

    def headers(self, who: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, url: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.get(url, headers=self.headers(who), **kw)

    def post(self, url: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.post(url, headers=self.headers(who), **kw)

    def patch(self, url: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.patch(url, headers=self.headers(who), **kw)

    def put(self, url: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.put(url, headers=self.headers(who), **kw)

    def delete(self, url: str, who: str = "admin", **kw: Any) -> Any:
        return self.client.delete(url, headers=self.headers(who), **kw)

    def ok(self, method: str, url: str, who: str = "admin", status: int = 200, **kw: Any) -> Any:
        """Call and check the status; returns the decoded body."""
        response = getattr(self, method)(url, who, **kw)
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    # -- resources ---------------------------------------------------------------------

    def depot(self, **kw: Any) -> dict[str, Any]:
        body = {"name": "Depot", "lon": 2.35, "lat": 48.85, "opens_s": 6 * 3600}
        return self.ok("post", "/depots", json=body | kw, status=201)  # type: ignore[no-any-return]

    def vehicle_type(self, **kw: Any) -> dict[str, Any]:
        body = {"name": "Van", "capacity": [20], "compartments": ["chilled", "ambient"]}
        return self.ok("post", "/vehicle-types", json=body | kw, status=201)  # type: ignore[no-any-return]

    def vehicle(self, type_id: str, depot_id: str, **kw: Any) -> dict[str, Any]:
        body = {"name": f"V-{secrets.token_hex(2)}", "type_id": type_id, "depot_id": depot_id}
        return self.ok("post", "/vehicles", json=body | kw, status=201)  # type: ignore[no-any-return]

    def order(self, i: int, **kw: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "external_id": f"ord-{i}",
            "delivery": {
                "lon": 2.30 + 0.01 * (i % 7),
                "lat": 48.83 + 0.01 * (i % 4),
                "service_s": 240,
                "time_windows": [
                    {"start": f"{DAY}T09:00:00+02:00", "end": f"{DAY}T18:00:00+02:00"}
                ],
            },
            "amount": [1],
            "items": [{"barcode": f"BC{i:04d}", "compartment": "chilled" if i % 2 else None}],
            "customer": {"name": f"Customer {i}", "phone": "+33100000000"},
        }
        return self.ok("post", "/orders", json=body | kw, status=201)  # type: ignore[no-any-return]

    def shift(self, driver: str, vehicle_id: str) -> dict[str, Any]:
        body = {
            "driver_id": str(self.driver_ids[driver]),
            "vehicle_id": vehicle_id,
            "start_at": f"{DAY}T07:00:00+02:00",
            "end_at": f"{DAY}T20:00:00+02:00",
        }
        return self.ok("post", "/shifts", json=body, status=201)  # type: ignore[no-any-return]

    def wait_for_job(self, plan_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
        import time

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.ok("get", f"/plans/{plan_id}/job")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job  # type: ignore[no-any-return]
            time.sleep(0.1)
        raise AssertionError(f"plan {plan_id} still running after {timeout_s} s")


def new_tenant(app: FastAPI, client: TestClient, *, timezone: str = PARIS) -> Tenant:
    """A fresh organisation with an admin, a dispatcher and drivers d1, d2."""
    slug = f"org-{secrets.token_hex(5)}"
    password = "correct horse battery"
    with app.state.sessionmaker() as session:
        org = create_org(session, name=f"Org {slug}", slug=slug, timezone=timezone)
        emails = {}
        for who, role in (
            ("admin", Role.ADMIN),
            ("dispatcher", Role.DISPATCHER),
            ("d1", Role.DRIVER),
            ("d2", Role.DRIVER),
        ):
            user = create_user(
                session, org_id=org.id, email=f"{who}@{slug}.example", password=password, role=role
            )
            emails[who] = (user.email, user.id)
    tokens = {}
    for who, (email, _) in emails.items():
        r = client.post("/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        tokens[who] = r.json()["access_token"]
    tenant = Tenant(client=client, org_id=org.id, slug=slug, tokens=tokens)
    for who in ("d1", "d2"):
        body = {"name": f"Driver {who}", "user_id": str(emails[who][1])}
        driver = tenant.ok("post", "/drivers", json=body, status=201)
        tenant.driver_ids[who] = uuid.UUID(driver["id"])
    return tenant


@pytest.fixture
def tenant(app: FastAPI, client: TestClient) -> Tenant:
    return new_tenant(app, client)


@pytest.fixture
def other_tenant(app: FastAPI, client: TestClient) -> Tenant:
    return new_tenant(app, client)


@dataclass
class World:
    """A tenant with a fleet, orders and a dispatched plan (built once per backend)."""

    tenant: Tenant
    depot: dict[str, Any]
    vehicle_type: dict[str, Any]
    vehicles: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    plan: dict[str, Any]
    objects: dict[str, str]


def build_world(app: FastAPI, client: TestClient, *, time_limit_s: float = 0.5) -> World:
    t = new_tenant(app, client)
    depot = t.depot()
    vtype = t.vehicle_type(capacity=[6])  # 10 orders of 1: both vans are needed
    vehicles = [t.vehicle(vtype["id"], depot["id"], name=f"Van {k}") for k in range(2)]
    t.shift("d1", vehicles[0]["id"])
    t.shift("d2", vehicles[1]["id"])
    orders = [t.order(i) for i in range(10)]
    plan = t.ok("post", "/plans", json={"date": str(DAY), "time_limit_s": time_limit_s}, status=202)
    job = t.wait_for_job(plan["id"])
    assert job["status"] == "succeeded", job.get("error", job)
    plan = t.ok("post", f"/plans/{plan['id']}/dispatch", json={})
    assert len(plan["routes"]) == 2, plan
    api_key = t.ok("post", "/api-keys", json={"name": "erp"}, status=201)
    shifts = t.ok("get", "/shifts")
    users = t.ok("get", "/users")
    route_of = {r["driver_id"]: r["id"] for r in plan["routes"]}
    objects = {
        "depot_id": depot["id"],
        "type_id": vtype["id"],
        "vehicle_id": vehicles[0]["id"],
        "driver_id": str(t.driver_ids["d1"]),
        "shift_id": shifts[0]["id"],
        "order_id": orders[0]["id"],
        "plan_id": plan["id"],
        "number": "1",  # the plan's dispatched version
        "route_id": route_of[str(t.driver_ids["d1"])],
        "user_id": users[0]["id"],
        "api_key_id": api_key["id"],
        "date": str(DAY),  # the plan's day (reports)
        "name": "timeline",  # a figure of a day's report
        # A message template (tests/service/notifications/test_message_templates.py):
        # names inside the caller's own organisation, never another's.
        "kind": "dispatched",
        "channel": "sms",
        "language": "fi",
    }
    return World(t, depot, vtype, vehicles, orders, plan, objects)


@pytest.fixture(scope="session")
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)


@pytest.fixture(scope="session")
def other_world(app: FastAPI, client: TestClient) -> World:
    return build_world(app, client)
