"""Signing in from a browser; the docs page offline; a form from another site."""

from __future__ import annotations

from typing import Any

from lastmile.service import cookies


def test_a_dispatcher_signs_in_and_out(new_page: Any, org: Any, sign_in: Any, shot: Any) -> None:
    page = new_page()
    page.goto("/")
    assert "/login" in page.url
    shot(page, "login")
    sign_in(page, org.emails["dispatcher"], "/auth/me")
    assert page.url.endswith("/auth/me")
    assert '"role":"dispatcher"' in page.content().replace(" ", "")
    stored = {c["name"]: c for c in page.context.cookies()}
    assert stored[cookies.SESSION_COOKIE]["httpOnly"] is True
    assert stored[cookies.SESSION_COOKIE]["sameSite"] == "Lax"
    # Page scripts cannot read the session, only the CSRF token.
    readable = page.evaluate("document.cookie")
    assert cookies.SESSION_COOKIE not in readable and cookies.CSRF_COOKIE in readable
    assert page.blocked == []


def test_the_login_page_is_accessible_and_usable_by_keyboard(new_page: Any, axe: Any) -> None:
    page = new_page()
    page.goto("/login")
    assert axe(page) == []
    # The e-mail field has focus; Tab reaches the password and then the button.
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"


def test_a_wrong_password_is_told_in_the_page(new_page: Any, org: Any) -> None:
    page = new_page()
    page.goto("/login")
    page.fill("#email", org.emails["admin"])
    page.fill("#password", "not it")
    page.click("button[type=submit]")
    assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."


def test_a_form_posted_from_another_page_without_the_csrf_token_is_refused(
    new_page: Any, org: Any, sign_in: Any
) -> None:
    page = new_page()
    sign_in(page, org.emails["admin"], "/auth/me")
    # A hostile form, as another site would make it: the browser adds the cookie.
    page.set_content(
        '<form method="post" action="/depots" enctype="text/plain">'
        '<input name=\'{"name":"evil","lon":2,"lat":48,"x":"\' value=\'"}\'>'
        "<button>go</button></form>"
    )
    with page.expect_navigation():
        page.click("button")
    assert "CSRF" in page.content()
    depots = org.api("admin").get("/depots").json()
    assert depots == []
    # The same request from the page's own script, with the token, goes through.
    status = page.evaluate(
        """async () => {
            const csrf = document.cookie.split('; ').find(c => c.startsWith('lastmile_csrf='))
                .split('=')[1];
            const r = await fetch('/depots', {method: 'POST', headers: {
                'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
                body: JSON.stringify({name: 'ok', lon: 2, lat: 48})});
            return r.status;
        }"""
    )
    assert status == 201


def test_the_api_docs_render_offline(new_page: Any, shot: Any) -> None:
    page = new_page()
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "lastmile" in page.inner_text(".swagger-ui .info .title")
    assert page.blocked == []
    shot(page, "api-docs")
