"""Dependencies shared by the routers, as ``Annotated`` aliases.

``SessionDep`` is a database session; ``CurrentUser`` is whoever is calling
(a logged-in user or an API key), ``StaffUser`` an admin or dispatcher,
``AdminUser`` an admin. Anonymous calls get 401, calls with the wrong role 403.

Callers prove who they are with ``Authorization: Bearer <token>`` or, from a
browser page, with the session cookie (:mod:`lastmile.service.cookies`);
a cookie-borne request that changes something must carry the session's CSRF
token in ``X-CSRF-Token`` (403 otherwise).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from lastmile.service import cookies
from lastmile.service.auth.models import Role
from lastmile.service.auth.principal import Principal as Principal
from lastmile.service.auth.service import authenticate
from lastmile.service.errors import Forbidden, NotAuthenticated
from lastmile.service.schemas import MAX_INT, answer_in
from lastmile.service.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token from POST /auth/login (lms_...) or an API key (lmk_...).",
)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]


def client_address(request: Request, settings: Settings) -> str:
    """The caller's address for rate limits (X-Forwarded-For only when trusted)."""
    if settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


def limit_login_attempts(request: Request, settings: Settings, email: str) -> None:
    """Count one login attempt, per client address and per (address, e-mail): one address
    can neither guess one account's password quickly nor try many accounts (429 over
    either limit)."""
    address = client_address(request, settings)
    state = request.app.state
    state.login_address_limiter.hit(f"login:{address}", what="login attempts from this address")
    state.login_limiter.hit(f"login:{address}:{email.strip().lower()}", what="login attempts")


async def get_credentials(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> HTTPAuthorizationCredentials | None:
    """The caller's token: the bearer token, else the browser's session cookie
    (CSRF-checked when the method changes something)."""
    if bearer is not None and bearer.credentials:
        return bearer
    token = cookies.session_token_of(request)
    if token is None:
        return None
    if request.method not in cookies.SAFE_METHODS and not cookies.csrf_matches(
        token, request.headers.get(cookies.CSRF_HEADER)
    ):
        raise Forbidden(
            f"a request from a signed-in browser that changes something needs the session's "
            f"CSRF token in the {cookies.CSRF_HEADER} header"
        )
    return HTTPAuthorizationCredentials(scheme="Cookie", credentials=token)


CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(get_credentials)]


def get_principal(session: SessionDep, credentials: CredentialsDep) -> Principal:
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("not authenticated: send Authorization: Bearer <token>")
    principal = authenticate(session, token=credentials.credentials)
    answer_in(principal.timezone)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def ensure_role(principal: Principal, *roles: Role) -> Principal:
    """``principal`` if it holds one of ``roles`` (403 otherwise)."""
    if principal.role not in roles:
        names = ", ".join(r.value for r in roles)
        raise Forbidden(f"needs role {names}; you are {principal.role.value}")
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 for the others)."""

    async def check(principal: CurrentUser) -> Principal:
        return ensure_role(principal, *roles)

    return check


StaffUser = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.DISPATCHER))]
AdminUser = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


@dataclass(frozen=True, slots=True)
class Page:
    """``limit``/``offset`` paging of list endpoints."""

    limit: int
    offset: int


async def get_page(
    limit: Annotated[int, Query(ge=1, le=1000, description="Most items to return.")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT, description="Items to skip.")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(get_page)]
