"""Login, user and API key schemas."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from lastmile.service.auth.models import Role
from lastmile.service.schemas import ApiModel, Instant


def _email(value: str) -> str:
    value = value.strip().lower()
    local, at, domain = value.partition("@")
    if not (local and at and domain) or " " in value:
        raise ValueError("not an e-mail address")
    return value


Email = Annotated[
    str,
    Field(max_length=320, description="E-mail address (case-insensitive)."),
    AfterValidator(_email),
]
Password = Annotated[str, Field(min_length=8, max_length=256, description="At least 8 characters.")]


class LoginRequest(ApiModel):
    """E-mail and password of a user."""

    email: Email
    password: str = Field(max_length=256, description="The user's password.")
    organisation: str | None = Field(
        default=None,
        max_length=64,
        description="The organisation's short name (slug). Needed only when the same e-mail "
        "and password open accounts in several organisations.",
    )


class UserOut(ApiModel):
    """A user of the organisation (never shows the password hash)."""

    id: uuid.UUID = Field(description="User id.")
    org_id: uuid.UUID = Field(description="The user's organisation.")
    email: str = Field(description="Login e-mail address.")
    name: str = Field(description="Display name.")
    role: Role = Field(description="admin, dispatcher or driver.")
    active: bool = Field(description="Deactivated users cannot log in.")
    created_at: Instant = Field(description="When the user was created.")


class LoginResponse(ApiModel):
    """A session token: send it as ``Authorization: Bearer <access_token>``."""

    access_token: str = Field(description="The session token (shown only here).")
    token_type: Literal["bearer"] = Field(default="bearer", description="Always bearer.")
    expires_at: Instant = Field(description="When the token stops working.")
    user: UserOut = Field(description="Who logged in.")


class MeOut(ApiModel):
    """Who the caller is."""

    org_id: uuid.UUID = Field(description="The caller's organisation.")
    role: Role = Field(description="The caller's role.")
    user: UserOut | None = Field(default=None, description="The user, for session tokens.")
    api_key_id: uuid.UUID | None = Field(default=None, description="The key, for API keys.")
    driver_id: uuid.UUID | None = Field(
        default=None, description="The driver record of a user with the driver role."
    )


class UserCreate(ApiModel):
    """A new user of the caller's organisation."""

    email: Email
    name: str = Field(default="", max_length=200, description="Display name.")
    role: Role = Field(description="admin, dispatcher or driver.")
    password: Password


class UserUpdate(ApiModel):
    """Changes to a user; omitted fields stay as they are."""

    name: str | None = Field(default=None, max_length=200, description="New display name.")
    role: Role | None = Field(default=None, description="New role.")
    active: bool | None = Field(default=None, description="False deactivates (and logs out).")
    password: Password | None = Field(default=None, description="New password.")


class ApiKeyCreate(ApiModel):
    """A new API key for an integration."""

    name: str = Field(min_length=1, max_length=200, description="What the key is for.")
    role: Literal[Role.ADMIN, Role.DISPATCHER] = Field(
        default=Role.DISPATCHER, description="What the key may do (admin or dispatcher)."
    )


class ApiKeyOut(ApiModel):
    """An API key as listed (the key itself is never shown again)."""

    id: uuid.UUID = Field(description="Key id.")
    name: str = Field(description="What the key is for.")
    role: Role = Field(description="What the key may do.")
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: Instant = Field(description="When the key was made.")
    last_used_at: Instant | None = Field(description="Last use (to the minute).")
    revoked_at: Instant | None = Field(description="When the key was revoked, if it was.")


class ApiKeyCreated(ApiKeyOut):
    """A new API key, with the key itself: store it now, it is shown only once."""

    key: str = Field(description="The API key; send as Authorization: Bearer <key>.")
