"""Login, sessions, API keys, roles, rate limits."""

from __future__ import annotations

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from lastmile.service.app import create_app
from lastmile.service.auth.models import ApiKey, SessionToken
from lastmile.service.ratelimit import RateLimiter
from lastmile.service.security import digest, hash_password

from ..conftest import Tenant, make_settings  # type: ignore[import-not-found]


def test_passwords_are_hashed_with_argon2id() -> None:
    production = PasswordHasher()
    stored = production.hash("s3cret-password")
    assert stored.startswith("$argon2id$")
    assert production.verify(stored, "s3cret-password")
    assert hash_password("x" * 8) != hash_password("x" * 8)  # salted


def test_login_opens_a_session_and_logout_ends_it(client: TestClient, tenant: Tenant) -> None:
    email = f"admin@{tenant.slug}.example"
    r = client.post(
        "/auth/login", json={"email": email.upper(), "password": "correct horse battery"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["user"]["role"] == "admin"
    token = body["access_token"]
    assert token.startswith("lms_") and len(token) >= 40
    headers = {"Authorization": f"Bearer {token}"}
    me = client.get("/auth/me", headers=headers).json()
    assert me["user"]["email"] == email and me["org_id"] == str(tenant.org_id)
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/auth/me", headers=headers).status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, tenant: Tenant) -> None:
    wrong = client.post(
        "/auth/login", json={"email": f"admin@{tenant.slug}.example", "password": "nope-nope"}
    )
    unknown = client.post("/auth/login", json={"email": "ghost@nowhere.example", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "wrong e-mail or password", "errors": []}


def test_session_tokens_are_stored_hashed(app: FastAPI, tenant: Tenant) -> None:
    token = tenant.tokens["admin"]
    with app.state.sessionmaker() as session:
        hashes = list(session.scalars(select(SessionToken.token_hash)))
    assert digest(token) in hashes
    assert token not in hashes


def test_deactivating_a_user_ends_their_sessions(tenant: Tenant) -> None:
    me = tenant.ok("get", "/auth/me", "dispatcher")
    tenant.ok("patch", f"/users/{me['user']['id']}", json={"active": False})
    assert tenant.get("/auth/me", "dispatcher").status_code == 401


def test_admin_manages_users_and_emails_are_unique(tenant: Tenant) -> None:
    body = {"email": "New.Person@Example.com", "role": "dispatcher", "password": "longenough"}
    user = tenant.ok("post", "/users", json=body, status=201)
    assert user["email"] == "new.person@example.com"
    again = tenant.post("/users", json=body)
    assert again.status_code == 409
    short = tenant.post("/users", json=body | {"email": "b@example.com", "password": "short"})
    assert short.status_code == 422
    assert any(e["column"] == "body.password" for e in short.json()["errors"])
    assert len(tenant.ok("get", "/users")) == 5


def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    app: FastAPI, client: TestClient, tenant: Tenant
) -> None:
    created = tenant.ok(
        "post", "/api-keys", json={"name": "shop", "role": "dispatcher"}, status=201
    )
    key = created["key"]
    assert key.startswith("lmk_") and key.startswith(created["prefix"])
    assert all("key" not in k for k in tenant.ok("get", "/api-keys"))
    with app.state.sessionmaker() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == created["prefix"]))
        assert row is not None and row.key_hash == digest(key)
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get("/depots", headers=headers).status_code == 200
    assert client.get("/users", headers=headers).status_code == 403  # dispatcher key
    me = client.get("/auth/me", headers=headers).json()
    assert me["api_key_id"] == created["id"] and me["user"] is None
    tenant.ok("delete", f"/api-keys/{created['id']}")
    assert client.get("/depots", headers=headers).status_code == 401


def test_driver_keys_cannot_be_made(tenant: Tenant) -> None:
    assert tenant.post("/api-keys", json={"name": "x", "role": "driver"}).status_code == 422


def test_login_is_rate_limited(database_url: str, tenant: Tenant) -> None:
    app = create_app(make_settings(database_url, login_attempts_per_minute=3), geocode=None)
    with TestClient(app) as client:
        body = {"email": f"admin@{tenant.slug}.example", "password": "wrong-password"}
        codes = [client.post("/auth/login", json=body).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        r = client.post("/auth/login", json=body | {"password": "correct horse battery"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        # Other accounts are not locked out by someone guessing this one.
        other = {"email": f"d1@{tenant.slug}.example", "password": "correct horse battery"}
        assert client.post("/auth/login", json=other).status_code == 200


def test_one_address_cannot_try_many_accounts(database_url: str, tenant: Tenant) -> None:
    settings = make_settings(
        database_url, login_attempts_per_minute=100, login_attempts_per_address_per_minute=3
    )
    with TestClient(create_app(settings, geocode=None)) as client:
        codes = [
            client.post(
                "/auth/login", json={"email": f"guess{i}@example.com", "password": "x"}
            ).status_code
            for i in range(3)
        ]
        assert codes == [401, 401, 401]
        r = client.post(
            "/auth/login",
            json={"email": f"admin@{tenant.slug}.example", "password": "correct horse battery"},
        )
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "from this address" in r.json()["detail"]
        # The browser's sign-in form counts against the same limit.
        page = client.post(
            "/login", data={"email": f"d1@{tenant.slug}.example", "password": "whatever"}
        )
        assert page.status_code == 429


def test_case_variants_of_an_email_share_its_limit(database_url: str, tenant: Tenant) -> None:
    app = create_app(make_settings(database_url, login_attempts_per_minute=2), geocode=None)
    with TestClient(app) as client:
        email = f"admin@{tenant.slug}.example"
        codes = [
            client.post("/login", data={"email": e, "password": "wrong"}).status_code
            for e in (email, email.upper(), f" {email.title()} ")
        ]
        assert codes == [401, 401, 429]


def test_rate_limiter_window_slides() -> None:
    now = [0.0]
    limiter = RateLimiter(limit=2, window_s=10, clock=lambda: now[0])
    limiter.hit("k")
    limiter.hit("k")
    try:
        limiter.hit("k")
        raise AssertionError("third hit should be refused")
    except Exception as exc:
        assert "at most 2 per 10 s" in str(exc)
    limiter.hit("other")
    now[0] = 10.5
    limiter.hit("k")


def _second_admin(client: TestClient, tenant: Tenant) -> tuple[str, dict[str, str]]:
    """A second admin of ``tenant``: (user id, headers with their session token)."""
    email = f"admin2-{tenant.slug}@example.com"
    body = {"email": email, "role": "admin", "password": "another long one"}
    user = tenant.ok("post", "/users", json=body, status=201)
    r = client.post("/auth/login", json={"email": email, "password": "another long one"})
    assert r.status_code == 200, r.text
    return user["id"], {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_api_keys_stop_when_their_creator_is_deactivated(
    client: TestClient, tenant: Tenant
) -> None:
    user_id, admin2 = _second_admin(client, tenant)
    r = client.post("/api-keys", headers=admin2, json={"name": "erp", "role": "admin"})
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['key']}"}
    assert client.get("/users", headers=key).status_code == 200
    tenant.ok("patch", f"/users/{user_id}", json={"active": False})
    stopped = client.get("/users", headers=key)
    assert stopped.status_code == 401
    assert "deactivated" in stopped.json()["detail"]
    tenant.ok("patch", f"/users/{user_id}", json={"active": True})
    assert client.get("/users", headers=key).status_code == 200


def test_api_keys_never_outrank_their_creator(client: TestClient, tenant: Tenant) -> None:
    user_id, admin2 = _second_admin(client, tenant)
    keys = {
        role: client.post("/api-keys", headers=admin2, json={"name": role, "role": role})
        for role in ("admin", "dispatcher")
    }
    headers = {role: {"Authorization": f"Bearer {r.json()['key']}"} for role, r in keys.items()}
    tenant.ok("patch", f"/users/{user_id}", json={"role": "dispatcher"})
    assert client.get("/depots", headers=headers["admin"]).status_code == 401
    assert client.get("/depots", headers=headers["dispatcher"]).status_code == 200


def test_adding_a_user_does_not_reveal_other_organisations(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    theirs = f"dispatcher@{other_tenant.slug}.example"
    body = {"email": theirs, "role": "dispatcher", "password": "our own password"}
    ours = tenant.ok("post", "/users", json=body, status=201)
    assert ours["org_id"] == str(tenant.org_id)
    again = tenant.post("/users", json=body)
    assert again.status_code == 409
    assert "in this organisation" in again.json()["detail"]
    # Each password opens its own organisation's account.
    mine = client.post("/auth/login", json={"email": theirs, "password": "our own password"})
    assert mine.status_code == 200 and mine.json()["user"]["org_id"] == str(tenant.org_id)
    other = client.post("/auth/login", json={"email": theirs, "password": "correct horse battery"})
    assert other.status_code == 200
    assert other.json()["user"]["org_id"] == str(other_tenant.org_id)


def test_one_password_in_two_organisations_needs_the_organisation(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    shared = f"consultant-{tenant.slug}@example.com"
    body = {"email": shared, "role": "dispatcher", "password": "same everywhere"}
    tenant.ok("post", "/users", json=body, status=201)
    other_tenant.ok("post", "/users", json=body, status=201)
    login = {"email": shared, "password": "same everywhere"}
    r = client.post("/auth/login", json=login)
    assert r.status_code == 401 and "name the organisation" in r.json()["detail"]
    for t in (tenant, other_tenant):
        r = client.post("/auth/login", json=login | {"organisation": t.slug})
        assert r.status_code == 200 and r.json()["user"]["org_id"] == str(t.org_id)
    wrong = client.post("/auth/login", json=login | {"organisation": "no-such-org"})
    assert wrong.json() == {"detail": "wrong e-mail or password", "errors": []}
    # The sign-in form asks for the organisation, then signs in to it.
    browser = TestClient(client.app, follow_redirects=False)  # a cookie jar of its own
    page = browser.post("/login", data=login)
    assert page.status_code == 401 and 'name="organisation"' in page.text
    page = browser.post("/login", data=login | {"organisation": other_tenant.slug})
    assert page.status_code == 303 and page.headers["location"] == "/dashboard"
