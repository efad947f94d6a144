"""Dependencies shared by the routers, as ``Annotated`` aliases.

``SessionDep`` is a database session; ``CurrentUser`` is whoever is calling
(a logged-in user or an API key), ``StaffUser`` an admin or dispatcher,
``AdminUser`` an admin. Anonymous calls get 401, calls with the wrong role 403.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.service.auth.models import ApiKey, Role, SessionToken, User
from lastmile.service.db import utcnow
from lastmile.service.errors import Forbidden, NotAuthenticated
from lastmile.service.fleet.models import Driver
from lastmile.service.security import API_KEY_PREFIX, SESSION_PREFIX, digest
from lastmile.service.settings import Settings

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token from POST /auth/login (lms_...) or an API key (lmk_...).",
)
#: API key use is recorded at most this often, to spare a write per request.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``driver_id`` is set for users with the driver role."""

    org_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    driver_id: uuid.UUID | None = None
    session_token_id: uuid.UUID | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.DISPATCHER)


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
    token = credentials.credentials
    now = utcnow()
    if token.startswith(SESSION_PREFIX):
        row = session.execute(
            select(SessionToken, User)
            .join(User, User.id == SessionToken.user_id)
            .where(SessionToken.token_hash == digest(token))
        ).first()
        if row is None:
            raise NotAuthenticated("unknown session token")
        tok, user = row
        if tok.revoked_at is not None or tok.expires_at <= now:
            raise NotAuthenticated("session expired: log in again")
        if not user.active:
            raise NotAuthenticated("user is deactivated")
        role = Role(user.role)
        driver_id = None
        if role is Role.DRIVER:
            driver_id = session.scalar(select(Driver.id).where(Driver.user_id == user.id))
        return Principal(
            org_id=user.org_id,
            role=role,
            user_id=user.id,
            driver_id=driver_id,
            session_token_id=tok.id,
        )
    if token.startswith(API_KEY_PREFIX):
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(token)))
        if key is None or key.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked API key")
        if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
            key.last_used_at = now
            session.commit()
        return Principal(org_id=key.org_id, role=Role(key.role), api_key_id=key.id)
    raise NotAuthenticated("malformed token")


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
