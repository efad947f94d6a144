"""Pages: sign-in and sign-out for browsers, the start page, and the API docs
served from the app's own files (they work offline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lastmile.service import cookies
from lastmile.service.auth import service as auth
from lastmile.service.auth.models import Role
from lastmile.service.deps import SessionDep, SettingsDep, limit_login_attempts
from lastmile.service.errors import Forbidden, NotAuthenticated, TooManyRequests
from lastmile.service.web.access import (
    BrowserPrincipal,
    home_of,
    login_url,
    page_context,
    safe_next,
)
from lastmile.service.web.rendering import render
from lastmile.service.web.texts import Texts, preferred_language

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
def start(principal: BrowserPrincipal) -> RedirectResponse:
    """The signed-in person's page, or the login page."""
    target = home_of(principal) if principal else login_url("/")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, principal: BrowserPrincipal, next: str = "/", organisation: str = ""
) -> Response:
    """The sign-in form (a signed-in browser goes straight on). ``organisation`` (a slug)
    shows and fills the organisation field, for e-mail addresses used in several."""
    if principal is not None:
        return RedirectResponse(safe_next(next, home_of(principal)), status.HTTP_303_SEE_OTHER)
    context = page_context(
        request,
        None,
        next_url=safe_next(next),
        email="",
        error="",
        organisation=organisation[:64],
        ask_organisation=bool(organisation),
    )
    language = preferred_language(request.headers.get("accept-language"))
    return render(request, "login.html", context, language=language)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2048)] = "/",
    organisation: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the password, put the session in cookies and go on to ``next``."""
    language = preferred_language(request.headers.get("accept-language"))
    texts = Texts(language)
    try:
        limit_login_attempts(request, settings, email)
        token, _, user = auth.login(
            session,
            email=email,
            password=password,
            ttl_s=settings.session_ttl_s,
            organisation=organisation or None,
        )
    except (NotAuthenticated, TooManyRequests) as exc:
        if isinstance(exc, TooManyRequests):
            error, code = texts("common.too_many_attempts", seconds=exc.retry_after_s), 429
        elif isinstance(exc, auth.SeveralOrganisations):
            error, code = texts("common.several_organisations"), 401
        else:
            error, code = texts("common.wrong_password"), 401
        context = page_context(
            request,
            None,
            next_url=safe_next(next),
            email=email,
            error=error,
            organisation=organisation,
            ask_organisation=bool(organisation) or isinstance(exc, auth.SeveralOrganisations),
        )
        return render(request, "login.html", context, language=language, status_code=code)
    home = "/dashboard" if user.role in (Role.ADMIN, Role.DISPATCHER) else "/driver"
    target = safe_next(next, home)
    response = RedirectResponse(home if target == "/" else target, status.HTTP_303_SEE_OTHER)
    cookies.set_session_cookies(
        response, request, session_token=token, max_age_s=settings.session_ttl_s
    )
    return response


@router.post("/logout")
def logout(
    request: Request,
    session: SessionDep,
    principal: BrowserPrincipal,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """End the browser's session (a form post carrying the session's CSRF token)."""
    token = cookies.session_token_of(request)
    if principal is not None and token is not None:
        if not cookies.csrf_matches(token, csrf_token):
            raise Forbidden("signing out needs the session's CSRF token")
        if principal.session_token_id is not None:
            auth.logout(session, session_token_id=principal.session_token_id)
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    cookies.clear_session_cookies(response, request)
    return response


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI for the API, from the app's own static files."""
    del request
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="lastmile API",
        swagger_js_url="/static/vendor/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
    )
