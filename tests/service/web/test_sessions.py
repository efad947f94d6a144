"""Browsers sign in with a form and stay signed in by a cookie; a cookie-borne
request that changes something needs the session's CSRF token."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie

from fastapi import FastAPI
from fastapi.testclient import TestClient

from lastmile.service import cookies
from lastmile.service.web import access

PASSWORD = "correct horse battery"


def browser(app: FastAPI) -> TestClient:
    """A client of its own (its own cookie jar), sharing the app already started."""
    return TestClient(app, follow_redirects=False)


def sign_in(app: FastAPI, email: str, next_url: str = "/") -> TestClient:
    client = browser(app)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "next": next_url})
    assert r.status_code == 303, r.text
    return client


def set_cookie_headers(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0]
        found[name] = header
    return found


def test_the_login_form_sets_an_httponly_session_cookie_and_a_csrf_cookie(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = browser(app)
    page = client.get("/login")
    assert page.status_code == 200
    assert 'name="password"' in page.text and 'type="password"' in page.text
    r = client.post(
        "/login", data={"email": f"dispatcher@{tenant.slug}.example", "password": PASSWORD}
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard"
    headers = set_cookie_headers(r)
    session = headers[cookies.SESSION_COOKIE].lower()
    assert "httponly" in session and "samesite=lax" in session and "path=/" in session
    assert "secure" not in session  # plain http in tests: Secure only over TLS
    csrf = headers[cookies.CSRF_COOKIE].lower()
    assert "httponly" not in csrf and "samesite=strict" in csrf
    token = SimpleCookie(headers[cookies.SESSION_COOKIE])[cookies.SESSION_COOKIE].value
    assert token.startswith("lms_")
    assert client.cookies[cookies.CSRF_COOKIE] == cookies.csrf_token(token)


def test_cookies_are_secure_over_tls(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = client.post("/login", data={"email": f"admin@{tenant.slug}.example", "password": PASSWORD})
    assert r.status_code == 303
    for header in set_cookie_headers(r).values():
        assert "secure" in header.lower()


def test_a_driver_lands_on_the_driver_app_and_next_stays_on_this_site(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = browser(app)
    email = f"d1@{tenant.slug}.example"
    r = client.post("/login", data={"email": email, "password": PASSWORD})
    assert r.headers["location"] == "/driver"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        r = browser(app).post(
            "/login", data={"email": email, "password": PASSWORD, "next": hostile}
        )
        assert r.status_code == 303 and r.headers["location"] == "/driver", hostile
    r = browser(app).post("/login", data={"email": email, "password": PASSWORD, "next": "/orders"})
    assert r.headers["location"] == "/orders"


def test_a_wrong_password_shows_the_form_again_with_the_reason(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = browser(app)
    r = client.post("/login", data={"email": f"admin@{tenant.slug}.example", "password": "nope"})
    assert r.status_code == 401
    assert "Wrong e-mail or password." in r.text
    assert cookies.SESSION_COOKIE not in client.cookies
    assert f"admin@{tenant.slug}.example" in r.text  # the e-mail is kept in the form


def test_the_cookie_authenticates_reads_and_csrf_guards_changes(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(app, f"dispatcher@{tenant.slug}.example")
    me = client.get("/auth/me")
    assert me.status_code == 200 and me.json()["role"] == "dispatcher"
    body = {"name": "Depot by browser", "lon": 2.35, "lat": 48.85}
    # A form post from another site carries the cookie but cannot know the token.
    refused = client.post("/depots", json=body)
    assert refused.status_code == 403
    assert "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.post("/depots", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    form = client.post("/depots", data={"name": "x"})
    assert form.status_code == 403
    csrf = client.cookies[cookies.CSRF_COOKIE]
    made = client.post("/depots", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    # Nothing was made by the refused ones.
    names = [d["name"] for d in tenant.ok("get", "/depots")]
    assert names.count("Depot by browser") == 1


def test_another_sessions_csrf_token_does_not_work(app, tenant) -> None:  # type: ignore[no-untyped-def]
    first = sign_in(app, f"admin@{tenant.slug}.example")
    second = sign_in(app, f"admin@{tenant.slug}.example")
    other = second.cookies[cookies.CSRF_COOKIE]
    assert other != first.cookies[cookies.CSRF_COOKIE]
    r = first.post(
        "/depots", json={"name": "x", "lon": 2.3, "lat": 48.8}, headers={"X-CSRF-Token": other}
    )
    assert r.status_code == 403


def test_bearer_tokens_need_no_csrf_token(tenant) -> None:  # type: ignore[no-untyped-def]
    made = tenant.post("/depots", json={"name": "API depot", "lon": 2.35, "lat": 48.85})
    assert made.status_code == 201


def test_signing_out_needs_the_csrf_token_and_ends_the_session(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(app, f"admin@{tenant.slug}.example")
    assert client.post("/logout", data={}).status_code == 403
    assert client.get("/auth/me").status_code == 200
    r = client.post("/logout", data={"csrf_token": client.cookies[cookies.CSRF_COOKIE]})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    cleared = set_cookie_headers(r)
    for name in (cookies.SESSION_COOKIE, cookies.CSRF_COOKIE):
        assert "max-age=0" in cleared[name].lower(), cleared
    assert cookies.SESSION_COOKIE not in client.cookies


def test_a_revoked_session_cookie_stops_working(app, tenant) -> None:  # type: ignore[no-untyped-def]
    client = sign_in(app, f"admin@{tenant.slug}.example")
    stolen = client.cookies[cookies.SESSION_COOKIE]
    client.post("/logout", data={"csrf_token": cookies.csrf_token(stolen)})
    replay = browser(app)
    replay.cookies.set(cookies.SESSION_COOKIE, stolen)
    assert replay.get("/auth/me").status_code == 401
    assert replay.get("/").headers["location"].startswith("/login")


def test_pages_send_strangers_to_the_login_page(app) -> None:  # type: ignore[no-untyped-def]
    r = browser(app).get("/")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2F"
    stranger = browser(app)
    stranger.cookies.set(cookies.SESSION_COOKIE, "lms_not-a-session")
    assert stranger.get("/").headers["location"].startswith("/login")


def test_the_login_page_speaks_the_browsers_language(app) -> None:  # type: ignore[no-untyped-def]
    fi = browser(app).get("/login", headers={"Accept-Language": "fi-FI,fi;q=0.9,en;q=0.5"})
    assert '<html lang="fi">' in fi.text and "Salasana" in fi.text
    en = browser(app).get("/login", headers={"Accept-Language": "de-DE,en;q=0.3"})
    assert '<html lang="en">' in en.text and "Password" in en.text


def test_the_api_docs_load_nothing_from_another_site(app) -> None:  # type: ignore[no-untyped-def]
    page = browser(app).get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources, page.text
    assert all(s.startswith("/") for s in sources), sources
    for source in sources:
        asset = browser(app).get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 1000 or source.endswith(".svg"), source
    assert browser(app).get("/redoc").status_code == 404


def test_safe_next_only_keeps_paths_of_this_site() -> None:
    assert access.safe_next("/plans?day=2025-05-02") == "/plans?day=2025-05-02"
    for hostile in ("", "http://x", "//x", "/\\x", "x/y", "https:/x"):
        assert access.safe_next(hostile) == "/", hostile
