"""Who is looking at a page: the signed-in browser's principal, or the way to the
login page.

Pages answer HTML, so an anonymous visitor is sent (303) to ``/login`` with the
page to come back to, instead of a JSON 401. Only the session cookie counts here:
a bearer token is for the API.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any

from fastapi import Depends, Request

from lastmile.service import cookies
from lastmile.service.auth.principal import Principal
from lastmile.service.auth.service import authenticate
from lastmile.service.deps import SessionDep
from lastmile.service.errors import NotAuthenticated
from lastmile.service.schemas import answer_in


class LoginRequired(Exception):
    """The page needs a signed-in browser; ``next`` is where to come back to."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def safe_next(value: str | None, default: str = "/") -> str:
    """A place on this site to go after signing in (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def browser_principal(request: Request, session: SessionDep) -> Principal | None:
    """The principal of the browser's session cookie, or None."""
    token = cookies.session_token_of(request)
    if token is None:
        return None
    try:
        principal = authenticate(session, token=token)
    except NotAuthenticated:
        return None
    answer_in(principal.timezone)
    return principal


def signed_in(request: Request, session: SessionDep) -> Principal:
    principal = browser_principal(request, session)
    if principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return principal


BrowserPrincipal = Annotated[Principal | None, Depends(browser_principal)]
SignedIn = Annotated[Principal, Depends(signed_in)]


def home_of(principal: Principal) -> str:
    """The page a principal starts from."""
    return "/dashboard" if principal.is_staff else "/driver"


def login_url(next_url: str) -> str:
    return "/login?" + urllib.parse.urlencode({"next": next_url})


def page_context(request: Request, principal: Principal | None, **extra: Any) -> dict[str, Any]:
    """What every template gets: the request, the CSRF token of the session."""
    token = cookies.session_token_of(request)
    return {
        "request": request,
        "principal": principal,
        "csrf_token": cookies.csrf_token(token) if token and principal else "",
        "map_tile_url": request.app.state.settings.map_tile_url,
        **extra,
    }
