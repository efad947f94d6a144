"""API fuzzing from the OpenAPI schema: every operation, as every role, against the app.

Schemathesis generates requests from ``/openapi.json`` (bodies, query strings,
path parameters, multipart uploads) for each of the service's operations, sent
as an organisation's admin, dispatcher, driver and as an anonymous caller.
Path parameters are half of the time the fuzzing organisation's real objects
(its depot, order, route, plan, ...) so the generated bodies reach the
handlers behind the 404s, state-changing and destructive operations
included: the organisation is made for the run and its data may be deleted.

Each answer is checked for: no 5xx, a documented status code, a documented
content type and a body matching its schema. Known failures that are being
fixed elsewhere are listed in ``KNOWN`` with the issue item they belong to;
anything else is a new failure.

The CI test (``tests/service/test_fuzz_api.py``) runs a small budget with a
fixed seed; this script runs a longer one on a fresh SQLite (or the given
PostgreSQL) database and prints operations / examples / failures:

    python benchmarks/fuzz_api.py [--examples 100] [--seed 13] [--database-url URL]
        [--operation 'POST /orders' ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis.core.failures import FailureGroup

ROLES = ("admin", "dispatcher", "driver", "anonymous")

# Operations not fuzzed, with the reason.
SKIPPED: dict[str, str] = {
    "GET /live": "an endless event stream (tests/service/tracking/test_live.py covers it)",
}

# Operations fuzzed after all others (they end the fuzzing session).
LAST = {"POST /auth/logout"}

SERVER_ERROR = "Server error"

# Known failures: (operation, failure title) -> the item of issue 13 that fixes it (or where it
# is reported). A failure listed here is counted and printed but not reported as new; remove
# the entry once its fix is in, so the fuzzing guards it from then on.
KNOWN: dict[tuple[str, str], str] = {}

# Checks run on each answer.
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)

DAY = dt.date(2025, 5, 2)
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Failure:
    """One distinct failure: the operation, who called it, what was wrong, how to reproduce."""

    operation: str
    role: str
    title: str
    status: int
    curl: str
    known: str | None = None

    def describe(self) -> str:
        where = f"{self.operation} as {self.role}: {self.title} (HTTP {self.status})"
        return f"{where} [known: {self.known}]" if self.known else f"{where}\n    {self.curl}"


@dataclass
class Report:
    """What a run covered and found."""

    operations: int = 0
    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[tuple[str, str, str], Failure] = field(default_factory=dict)

    @property
    def new(self) -> list[Failure]:
        return [f for f in self.failures.values() if f.known is None]

    @property
    def known(self) -> list[Failure]:
        return [f for f in self.failures.values() if f.known is not None]


@dataclass
class Target:
    """The fuzzing organisation: tokens per role and the ids of its objects by parameter name."""

    headers: dict[str, dict[str, str]]
    objects: dict[str, str]


def _request_kwargs(case: schemathesis.Case, headers: Mapping[str, str]) -> dict[str, Any]:
    """The case as keyword arguments of a Starlette ``TestClient.request``."""
    kw = case.as_transport_kwargs(base_url="http://testserver", headers=dict(headers))
    out: dict[str, Any] = {"method": kw["method"], "url": kw["url"], "headers": kw["headers"]}
    if kw.get("params"):
        out["params"] = kw["params"]
    if kw.get("cookies"):
        out["headers"] = out["headers"] | {
            "Cookie": "; ".join(f"{k}={v}" for k, v in kw["cookies"].items())
        }
    if "json" in kw:
        out["json"] = kw["json"]
    if kw.get("files"):
        out["files"] = [(name, _part(*part)) for name, part in kw["files"]]
    data = kw.get("data")
    if isinstance(data, bytes | str):
        out["content"] = data
    elif data:
        out["data"] = data
    return out


def _part(filename: str | None, content: Any, *rest: Any) -> tuple[Any, ...]:
    """A multipart part whose content is text or bytes (generated form values may be numbers)."""
    if not isinstance(content, bytes | str):
        content = json.dumps(content)
    return (filename, content, *rest)


def _strategy(operation: Any, objects: Mapping[str, str]) -> st.SearchStrategy[Any]:
    generated = operation.as_strategy()
    names = [p.name for p in operation.path_parameters]
    if not names or not all(n in objects for n in names):
        return generated  # type: ignore[no-any-return]
    real = operation.as_strategy(path_parameters={n: objects[n] for n in names})
    return st.one_of(real, generated)


def fuzz(
    send: Callable[..., Any],
    spec: dict[str, Any],
    target: Target,
    *,
    examples: int,
    seed: int,
    only: Iterable[str] = (),
    roles: Iterable[str] = ROLES,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Fuzz each operation of ``spec`` as each role; ``send(**kwargs)`` makes one request."""
    schema = schemathesis.openapi.from_dict(spec)
    wanted = set(only)
    report = Report()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Logging out ends the session the other operations are fuzzed with: last.
    operations.sort(key=lambda operation: operation.label in LAST)
    for operation in operations:
        if operation.label in SKIPPED or (wanted and operation.label not in wanted):
            continue
        report.operations += 1
        strategy = _strategy(operation, target.objects)
        for role in roles:
            if progress is not None:
                progress(f"{operation.label} as {role}")
            _runner(
                send,
                report,
                strategy,
                operation.label,
                role,
                target.headers.get(role, {}),
                examples=examples,
                seed=seed,
            )()
    return report


def _runner(
    send: Callable[..., Any],
    report: Report,
    strategy: st.SearchStrategy[Any],
    label: str,
    role: str,
    headers: dict[str, str],
    *,
    examples: int,
    seed: int,
) -> Callable[[], None]:
    """A Hypothesis test sending ``examples`` cases of one operation as one role."""
    from schemathesis import checks as available

    checks = [getattr(available, name) for name in CHECKS]

    def record(case: schemathesis.Case, title: str, status: int, detail: str = "") -> None:
        key = (label, role, title)
        if key not in report.failures:
            curl = case.as_curl_command(headers=headers) + detail
            known = KNOWN.get((label, title))
            report.failures[key] = Failure(label, role, title, status, curl, known)

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    @given(case=strategy)
    def run(case: schemathesis.Case) -> None:
        report.examples += 1
        try:
            response = send(**_request_kwargs(case, headers))
        except Exception as exc:  # the app raised: a server answers that with a 500
            report.statuses[500] = report.statuses.get(500, 0) + 1
            record(case, SERVER_ERROR, 500, f"\n    raised {exc!r}")
            return
        status = response.status_code
        response.request.read()  # a multipart body is a stream; the report quotes it
        report.statuses[status] = report.statuses.get(status, 0) + 1
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                record(case, failure.title, status)

    return run  # type: ignore[no-any-return]


# -- the fuzzing organisation -----------------------------------------------------------------


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json() if response.content else None


def _plan(client: Any, headers: dict[str, str], wait_s: float) -> dict[str, Any]:
    """A planned (not yet dispatched) plan for DAY; longer time limits if the machine is busy.
    Four orders in a thread of this process (``planning_executor="thread"``) need no
    more than the shortest: a solve takes its whole limit, so it is tried first."""
    for time_limit_s in (0.5, 2.0, 5.0, 15.0):
        body = {"date": str(DAY), "time_limit_s": time_limit_s}
        plan: dict[str, Any] = _ok(client.post("/plans", json=body, headers=headers), 202)
        deadline = time.monotonic() + wait_s
        url = f"/plans/{plan['id']}/job"
        while (job := _ok(client.get(url, headers=headers)))["status"] not in FINISHED:
            assert time.monotonic() < deadline, f"plan still running after {wait_s} s"
            time.sleep(0.05)
        if job["status"] == "succeeded":
            return plan
    raise AssertionError(f"no plan for the fuzzing organisation: {job}")


FINISHED = ("succeeded", "failed", "cancelled")


def make_target(client: Any, sessionmaker: Any, *, plan_wait_s: float = 120.0) -> Target:
    """A fresh organisation with a fleet, orders, a dispatched plan and a started route.

    ``client`` is a ``TestClient`` of the started app, ``sessionmaker`` its
    ``app.state.sessionmaker`` (users are made directly, as ``lastmile admin`` does).
    """
    from lastmile.service.auth.models import Role
    from lastmile.service.auth.service import create_user
    from lastmile.service.orgs.service import create_org

    slug = f"fuzz-{secrets.token_hex(5)}"
    with sessionmaker() as session:
        org = create_org(session, name=f"Fuzz {slug}", slug=slug, timezone="Europe/Paris")
        users = {
            who: create_user(
                session, org_id=org.id, email=f"{who}@{slug}.example", password=PASSWORD, role=role
            ).id
            for who, role in (
                ("admin", Role.ADMIN),
                ("dispatcher", Role.DISPATCHER),
                ("driver", Role.DRIVER),
                ("victim", Role.DISPATCHER),  # the user PATCH /users/{user_id} is fuzzed on
            )
        }
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for who in ("admin", "dispatcher", "driver"):
        body = {"email": f"{who}@{slug}.example", "password": PASSWORD}
        token = _ok(client.post("/auth/login", json=body))["access_token"]
        headers[who] = {"Authorization": f"Bearer {token}"}
    admin = headers["admin"]

    def post(url: str, body: dict[str, Any], status: int = 201, who: str = "admin") -> Any:
        return _ok(client.post(url, json=body, headers=headers[who]), status)

    driver = post("/drivers", {"name": "Fuzz driver", "user_id": str(users["driver"])})
    depot = post("/depots", {"name": "Depot", "lon": 2.35, "lat": 48.85, "opens_s": 6 * 3600})
    vtype = post("/vehicle-types", {"name": "Van", "capacity": [20], "compartments": ["chilled"]})
    vehicle = post("/vehicles", {"name": "Van 1", "type_id": vtype["id"], "depot_id": depot["id"]})
    window = {"start": f"{DAY}T08:00:00+02:00", "end": f"{DAY}T20:00:00+02:00"}
    shift = post(
        "/shifts",
        {
            "driver_id": driver["id"],
            "vehicle_id": vehicle["id"],
            "start_at": window["start"],
            "end_at": window["end"],
        },
    )
    orders = [
        post(
            "/orders",
            {
                "external_id": f"fuzz-{i}",
                "delivery": {"lon": 2.30 + 0.01 * i, "lat": 48.84, "time_windows": [window]},
                "amount": [1],
                "items": [{"barcode": f"FZ{i:03d}"}],
                "customer": {"name": f"Customer {i}", "phone": "+33100000000"},
            },
        )
        for i in range(4)
    ]
    plan = _plan(client, admin, plan_wait_s)
    plan = post(f"/plans/{plan['id']}/dispatch", {}, status=200)
    route = plan["routes"][0]
    post(f"/routes/{route['id']}/start", {}, status=200, who="driver")
    link = post(f"/orders/{orders[0]['id']}/tracking-links", {}, status=201)
    api_key = post("/api-keys", {"name": "fuzz"})
    inbound = post("/messaging/inbound-secret", {}, status=201)
    objects = {
        "user_id": str(users["victim"]),
        "api_key_id": api_key["id"],
        "depot_id": depot["id"],
        "type_id": vtype["id"],
        "vehicle_id": vehicle["id"],
        "driver_id": driver["id"],
        "shift_id": shift["id"],
        "order_id": orders[0]["id"],
        "plan_id": plan["id"],
        "number": "1",
        "route_id": route["id"],
        "token": str(link.get("token") or link["url"].rsplit("/", 1)[-1]),
        # The organisation's inbound secret (the status callback's is the operator's:
        # unset here, so it answers 401 whatever it is given).
        "secret": inbound["secret"],
    }
    return Target(headers, objects)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and role")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--operation", action="append", default=[], help="e.g. 'POST /orders'")
    parser.add_argument("--role", action="append", choices=ROLES, default=[])
    args = parser.parse_args(argv)

    from fastapi.testclient import TestClient

    from lastmile.service.app import create_app
    from lastmile.service.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'fuzz.db'}"
        settings = Settings(
            database_url=url,
            login_attempts_per_minute=100_000,
            tracking_requests_per_minute=100_000,
            public_base_url="https://track.example",
            planning_executor="thread",
        )
        app = create_app(settings, geocode=lambda address: None)
        with TestClient(app) as client:
            target = make_target(client, app.state.sessionmaker)
            started = time.monotonic()
            report = fuzz(
                client.request,
                app.openapi(),
                target,
                examples=args.examples,
                seed=args.seed,
                only=args.operation,
                roles=args.role or ROLES,
                progress=lambda what: print(f"  {what}", file=sys.stderr, flush=True),
            )
            elapsed = time.monotonic() - started
    print(f"seed {args.seed}, {args.examples} examples per operation and role")
    print(f"operations   {report.operations} (skipped: {', '.join(SKIPPED) or 'none'})")
    print(f"examples     {report.examples} in {elapsed:.0f} s")
    print("statuses     " + ", ".join(f"{k}: {v}" for k, v in sorted(report.statuses.items())))
    print(f"failures     {len(report.new)} new, {len(report.known)} known")
    for failure in report.known + report.new:
        print("  " + failure.describe())
    return 1 if report.new else 0


if __name__ == "__main__":
    sys.exit(main())
