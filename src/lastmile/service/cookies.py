"""Sessions for people in a browser: the session cookie and its CSRF token.

A browser signs in through the login page and keeps the same session token the
API hands out (``lms_...``) in a cookie the page's scripts cannot read
(HttpOnly, SameSite=Lax, Secure when the request came over TLS). Because a
browser sends that cookie with every request to the site, a request that
changes something must also prove it comes from one of our pages: it carries
the session's CSRF token in the ``X-CSRF-Token`` header. The CSRF token is
derived from the session token (a keyed digest), so it needs no storage, is
different for every session, and cannot be computed by another site, which
sees neither cookie. Pages read it from the readable ``lastmile_csrf`` cookie or
from the page itself. Bearer tokens (the API) need no CSRF token: a browser
never adds them on its own.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response

from lastmile.service.security import SESSION_PREFIX, same

SESSION_COOKIE = "lastmile_session"
CSRF_COOKIE = "lastmile_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: Methods that change nothing, and so need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session (HMAC-SHA-256 keyed with the session token)."""
    return hmac.new(session_token.encode(), b"lastmile csrf", hashlib.sha256).hexdigest()


def session_token_of(request: Request) -> str | None:
    """The session token the browser sent in the cookie (only session tokens count)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    return token if token.startswith(SESSION_PREFIX) else None


def csrf_matches(session_token: str, sent: str | None) -> bool:
    """Whether ``sent`` is the CSRF token of ``session_token``."""
    return bool(sent) and same(csrf_token(session_token), sent or "")


def is_secure(request: Request) -> bool:
    """Whether the request came over TLS (behind a proxy: run uvicorn with
    ``--proxy-headers`` so the scheme is the client's)."""
    return request.url.scheme == "https"


def set_session_cookies(
    response: Response, request: Request, *, session_token: str, max_age_s: int
) -> None:
    """Put the session and its CSRF token in the browser."""
    secure = is_secure(request)
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        max_age=max_age_s,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf_token(session_token),
        max_age=max_age_s,
        path="/",
        httponly=False,
        secure=secure,
        samesite="strict",
    )


def clear_session_cookies(response: Response, request: Request) -> None:
    secure = is_secure(request)
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", httponly=httponly, secure=secure, samesite="lax")
