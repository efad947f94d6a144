"""Dependencies shared by the routers, as ``Annotated`` aliases.

``SessionDep`` is a database session; ``CurrentUser`` is whoever is calling
(a logged-in user or an API key), ``StaffUser`` an admin or dispatcher,
``AdminUser`` an admin. Anonymous calls get 401, calls with the wrong role 403.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from lastmile.service.auth.models import Role
from lastmile.service.auth.principal import Principal as Principal
from lastmile.service.auth.service import authenticate
from lastmile.service.errors import Forbidden, NotAuthenticated
from lastmile.service.schemas import answer_in
from lastmile.service.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token from POST /auth/login (lms_...) or an API key (lmk_...).",
)


def get_settings(request: Request) -> Settings:
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


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise NotAuthenticated("not authenticated: send Authorization: Bearer <token>")
    principal = authenticate(session, token=credentials.credentials)
    answer_in(principal.timezone)
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 for the others)."""
    names = ", ".join(r.value for r in roles)

    def check(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"needs role {names}; you are {principal.role.value}")
        return principal

    return check


StaffUser = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.DISPATCHER))]
AdminUser = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


@dataclass(frozen=True, slots=True)
class Page:
    """``limit``/``offset`` paging of list endpoints."""

    limit: int
    offset: int


def get_page(
    limit: Annotated[int, Query(ge=1, le=1000, description="Most items to return.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(get_page)]
