"""Walk every route of the app: anonymous -> 401, another tenant's object -> 404,
a driver touching another driver's route (or a staff-only route) -> 403. Pages
(routes outside the API schema) send an anonymous browser to the login page.

A new route with a new path parameter must add an object for it to the
world's ``objects`` (conftest.build_world), or this test fails naming it.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from lastmile.service.app import create_app

PUBLIC = {
    ("POST", "/auth/login"),
    ("GET", "/track/{token}"),
    ("GET", "/health"),
    # Called by SMS gateways and inbound-mail services: the secret in the address is
    # the credential (a wrong one answers 401; an organisation's secret reaches only
    # its own orders): tests/service/notifications/test_gateways.py.
    ("POST", "/sms/status/{secret}"),
    ("POST", "/sms/inbound/{secret}"),
    ("POST", "/email/inbound/{secret}"),
}
#: What a driver may call (the route ones only for their own routes).
DRIVER_ALLOWED = {
    ("GET", "/auth/me"),
    ("POST", "/auth/logout"),
    ("GET", "/org"),
    ("GET", "/me/routes"),
    ("GET", "/map/roads"),
}
#: Pages anyone may open (the sign-in form, the API docs) or post to, and the
#: customer's tracking page, whose link token is the credential
#: (tests/service/web/test_tracking_page.py).
PUBLIC_PAGES = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/docs"),
    ("GET", "/driver/sw.js"),  # the driver app's service worker and manifest: no data
    ("GET", "/driver/manifest.webmanifest"),
    ("GET", "/track/{token}"),
    ("POST", "/track/{token}/replies"),
    ("GET", "/track/{token}/roads"),  # the link is the credential; roads near its stop
}
_PARAM = re.compile(r"{(\w+)}")
#: Path parameters that name nothing a tenant owns (a day, a figure): every
#: organisation has its own day; what such a route may name of a tenant comes as
#: ``?plan_id=``, which must answer 404 for another tenant's plan.
NOT_OBJECTS = {"date", "name"}
#: Path parameters that name a message template of the caller's own organisation
#: (kind, channel, language): they cannot reach another tenant's, which
#: tests/service/notifications/test_message_templates.py checks by editing one.
OWN_NAMES = {"kind", "channel", "language"}


def endpoints(app: FastAPI, *, pages: bool = False) -> list[tuple[str, str]]:
    """(method, path) of every API route (``pages``: of every page instead), included
    routers flattened."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema != pages:
            assert context.path is not None and context.methods is not None
            for method in sorted(context.methods - {"HEAD", "OPTIONS"}):
                found.append((method, context.path))
    return found


def fill(path: str, objects: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in objects, f"no test object for path parameter {name!r} in {path}"
        return objects[name]

    return _PARAM.sub(one, path)


def test_pages_send_anonymous_browsers_to_the_login_page(  # type: ignore[no-untyped-def]
    app: FastAPI, client: TestClient, world
) -> None:
    browser = TestClient(app, follow_redirects=False)
    checked = 0
    for method, path in endpoints(app, pages=True):
        if (method, path) in PUBLIC_PAGES:
            continue
        r = browser.request(method, fill(path, world.objects))
        if method == "GET":
            assert r.status_code == 303, (method, path, r.status_code, r.text)
            assert r.headers["location"].startswith("/login?next="), (method, path)
        else:
            assert r.status_code in (401, 403), (method, path, r.status_code, r.text)
        checked += 1
    assert checked >= 1


def test_the_walk_covers_the_whole_api() -> None:
    found = endpoints(create_app(geocode=None))
    assert len(found) >= 50
    assert set(found) >= PUBLIC


def test_anonymous_calls_get_401(app: FastAPI, client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for method, path in endpoints(app):
        if (method, path) in PUBLIC:
            continue
        url = fill(path, world.objects)
        for headers in ({}, {"Authorization": "Bearer lms_not-a-token"}):
            r = client.request(method, url, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text)
            assert r.headers.get("www-authenticate") == "Bearer"
        checked += 1
    assert checked >= 45
    for odd in ("Basic eDp5", "Bearer lmk_unknown", "Bearer malformed"):
        r = client.get("/orders", headers={"Authorization": odd})
        assert r.status_code == 401, odd


def test_another_tenants_objects_do_not_exist(  # type: ignore[no-untyped-def]
    app: FastAPI, client: TestClient, world, other_world
) -> None:
    checked = by_plan = 0
    for method, path in endpoints(app):
        if (method, path) in PUBLIC or not _PARAM.search(path):
            continue
        if set(_PARAM.findall(path)) <= OWN_NAMES:
            continue
        url = fill(path, other_world.objects)
        if set(_PARAM.findall(path)) <= NOT_OBJECTS:
            url += f"?plan_id={other_world.objects['plan_id']}"
            by_plan += 1
        r = client.request(method, url, headers=world.tenant.headers("admin"))
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        checked += 1
    assert checked >= 30 and by_plan >= 2
    # The other tenant's objects are untouched and still reachable by their owner.
    assert other_world.tenant.get(f"/plans/{other_world.objects['plan_id']}").status_code == 200


def test_drivers_reach_only_their_own_routes(app: FastAPI, client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    route_paths = 0
    for method, path in endpoints(app):
        if (method, path) in PUBLIC or (method, path) in DRIVER_ALLOWED:
            continue
        url = fill(path, world.objects)  # route_id is d1's route
        r = client.request(method, url, headers=world.tenant.headers("d2"))
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        route_paths += "{route_id}" in path
    assert route_paths >= 3
    own = world.tenant.get(f"/routes/{world.objects['route_id']}", "d1")
    assert own.status_code == 200
    mine = world.tenant.ok("get", "/me/routes", "d1")
    assert [r["id"] for r in mine] == [world.objects["route_id"]]


def test_dispatchers_are_refused_admin_routes(app: FastAPI, client: TestClient, world) -> None:  # type: ignore[no-untyped-def]
    admin_only = [
        (m, p)
        for m, p in endpoints(app)
        if p.startswith(("/users", "/api-keys"))
        or (m, p) in (("PATCH", "/org"), ("POST", "/traffic/learn"))
        or (p.startswith("/message-templates/{") and m in ("PUT", "DELETE"))
    ]
    assert len(admin_only) >= 9
    for method, path in admin_only:
        r = client.request(
            method, fill(path, world.objects), headers=world.tenant.headers("dispatcher")
        )
        assert r.status_code == 403, (method, path, r.status_code, r.text)
