"""Routes: /auth (login, logout, me), /users and /api-keys (admin)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from lastmile.service.auth import service
from lastmile.service.auth.models import ApiKey, User
from lastmile.service.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    LoginRequest,
    LoginResponse,
    MeOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from lastmile.service.deps import (
    AdminUser,
    CurrentUser,
    PageDep,
    SessionDep,
    SettingsDep,
    limit_login_attempts,
)

router = APIRouter(tags=["auth"])


@router.post("/auth/login", response_model=LoginResponse)
def login(
    body: LoginRequest, request: Request, settings: SettingsDep, session: SessionDep
) -> LoginResponse:
    """Log in with e-mail and password; returns a session token.

    Rate-limited per client address, and per client address and e-mail (429 with
    Retry-After when exceeded).
    """
    limit_login_attempts(request, settings, body.email)
    token, row, user = service.login(
        session,
        email=body.email,
        password=body.password,
        ttl_s=settings.session_ttl_s,
        organisation=body.organisation,
    )
    return LoginResponse(
        access_token=token, expires_at=row.expires_at, user=UserOut.model_validate(user)
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, session: SessionDep) -> None:
    """End the current session (the token stops working). API keys are revoked instead."""
    if user.session_token_id is not None:
        service.logout(session, session_token_id=user.session_token_id)


@router.get("/auth/me", response_model=MeOut)
def me(user: CurrentUser, session: SessionDep) -> MeOut:
    """Who the caller is: organisation, role, user or API key, driver record."""
    account = (
        UserOut.model_validate(service.get_user(session, org_id=user.org_id, user_id=user.user_id))
        if user.user_id is not None
        else None
    )
    return MeOut(
        org_id=user.org_id,
        role=user.role,
        user=account,
        api_key_id=user.api_key_id,
        driver_id=user.driver_id,
    )


# -- users (admin) -----------------------------------------------------------------------


def user_dep(user_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> User:
    return service.get_user(session, org_id=admin.org_id, user_id=user_id)


UserDep = Annotated[User, Depends(user_dep)]


@router.get("/users", response_model=list[UserOut])
def list_users(admin: AdminUser, session: SessionDep, page: PageDep) -> list[UserOut]:
    """Users of the organisation (admin)."""
    users = service.list_users(session, org_id=admin.org_id, limit=page.limit, offset=page.offset)
    return [UserOut.model_validate(u) for u in users]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserOut:
    """Add a user to the organisation (admin). E-mail addresses are unique within the
    organisation (409 if taken there); other organisations' users are never revealed."""
    user = service.create_user(
        session,
        org_id=admin.org_id,
        email=body.email,
        password=body.password,
        role=body.role,
        name=body.name,
    )
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def read_user(user: UserDep) -> UserOut:
    """One user (admin)."""
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(body: UserUpdate, user: UserDep, admin: AdminUser, session: SessionDep) -> UserOut:
    """Change a user's name, role, password or active flag (admin).

    Deactivating, changing the role or the password ends the user's sessions.
    """
    updated = service.update_user(session, org_id=admin.org_id, user_id=user.id, changes=body)
    return UserOut.model_validate(updated)


# -- API keys (admin) --------------------------------------------------------------------


def api_key_dep(api_key_id: uuid.UUID, admin: AdminUser, session: SessionDep) -> ApiKey:
    return service.get_api_key(session, org_id=admin.org_id, api_key_id=api_key_id)


@router.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(admin: AdminUser, session: SessionDep) -> list[ApiKeyOut]:
    """API keys of the organisation, revoked ones included (admin)."""
    return [
        ApiKeyOut.model_validate(k) for k in service.list_api_keys(session, org_id=admin.org_id)
    ]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, admin: AdminUser, session: SessionDep) -> ApiKeyCreated:
    """Make an API key for an integration (admin). The key is shown in this answer only."""
    key, row = service.create_api_key(
        session, org_id=admin.org_id, name=body.name, role=body.role, created_by_id=admin.user_id
    )
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key})


@router.delete("/api-keys/{api_key_id}", response_model=ApiKeyOut)
def revoke_api_key(key: Annotated[ApiKey, Depends(api_key_dep)], session: SessionDep) -> ApiKeyOut:
    """Revoke an API key (admin); it stops working at once."""
    return ApiKeyOut.model_validate(service.revoke_api_key(session, key=key))
