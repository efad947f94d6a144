"""Users, login sessions and API keys."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lastmile.service.auth.models import ApiKey, Role, SessionToken, User
from lastmile.service.auth.principal import Principal
from lastmile.service.auth.schemas import UserUpdate
from lastmile.service.db import utcnow
from lastmile.service.errors import Conflict, NotAuthenticated, NotFound
from lastmile.service.fleet.models import Driver
from lastmile.service.orgs.models import Organisation
from lastmile.service.security import (
    API_KEY_PREFIX,
    SESSION_PREFIX,
    digest,
    hash_password,
    needs_rehash,
    new_token,
    verify_password,
)

#: API key use is recorded at most this often, to spare a write per request.
_LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


#: Who a session token belongs to, with their organisation's time zone.
_SESSION = (
    select(
        SessionToken.id,
        SessionToken.revoked_at,
        SessionToken.expires_at,
        User.id.label("user_id"),
        User.org_id,
        User.role,
        User.active,
        Organisation.timezone,
    )
    .join(User, User.id == SessionToken.user_id)
    .outerjoin(Organisation, Organisation.id == User.org_id)
    .where(SessionToken.token_hash == bindparam("token_hash"))
)


def _timezone(session: Session, org_id: uuid.UUID) -> str:
    """The organisation's time zone (its answers show times in it)."""
    org = session.get(Organisation, org_id)
    return org.timezone if org is not None else "UTC"


def authenticate(session: Session, *, token: str) -> Principal:
    """Who ``token`` (a session token or an API key) belongs to (401 when nobody)."""
    now = utcnow()
    if token.startswith(SESSION_PREFIX):
        # Every request comes here: one query (built once), plain columns, on the
        # session's connection (without the ORM's per-statement work).
        row = session.connection().execute(_SESSION, {"token_hash": digest(token)}).first()
        if row is None:
            raise NotAuthenticated("unknown session token")
        if row.revoked_at is not None or row.expires_at <= now:
            raise NotAuthenticated("session expired: log in again")
        if not row.active:
            raise NotAuthenticated("user is deactivated")
        role = Role(row.role)
        driver_id = None
        if role is Role.DRIVER:
            driver_id = session.scalar(select(Driver.id).where(Driver.user_id == row.user_id))
        return Principal(
            org_id=row.org_id,
            role=role,
            user_id=row.user_id,
            driver_id=driver_id,
            session_token_id=row.id,
            timezone=row.timezone if row.timezone is not None else "UTC",
        )
    if token.startswith(API_KEY_PREFIX):
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(token)))
        if key is None or key.revoked_at is not None:
            raise NotAuthenticated("unknown or revoked API key")
        if not _creator_vouches_for(session, key):
            raise NotAuthenticated(
                "API key stopped: the user who made it is deactivated or no longer holds its role"
            )
        if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
            key.last_used_at = now
            session.commit()
        return Principal(
            org_id=key.org_id,
            role=Role(key.role),
            api_key_id=key.id,
            timezone=_timezone(session, key.org_id),
        )
    raise NotAuthenticated("malformed token")


_RANK = {Role.DRIVER: 0, Role.DISPATCHER: 1, Role.ADMIN: 2}


def _creator_vouches_for(session: Session, key: ApiKey) -> bool:
    """Whether the user who made ``key`` still stands behind it: active, and holding at
    least the key's role. Keys made from the command line (no creator) always do."""
    if key.created_by_id is None:
        return True
    creator = session.get(User, key.created_by_id)
    if creator is None:
        return True
    return creator.active and _RANK[Role(creator.role)] >= _RANK[Role(key.role)]


def create_user(
    session: Session,
    *,
    org_id: uuid.UUID,
    email: str,
    password: str,
    role: Role,
    name: str = "",
) -> User:
    """A new user; e-mail addresses are unique within the organisation (409 when taken
    there). Other organisations' users are neither checked nor revealed: the same address
    may belong to a user of each."""
    email = email.strip().lower()
    taken = f"a user with e-mail {email!r} already exists in this organisation"
    if session.scalar(select(User.id).where(User.org_id == org_id, User.email == email)):
        raise Conflict(taken)
    user = User(
        org_id=org_id,
        email=email,
        name=name,
        role=role.value,
        password_hash=hash_password(password),
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(taken) from None
    return user


class SeveralOrganisations(NotAuthenticated):
    """The e-mail and password open accounts in more than one organisation."""


def login(
    session: Session, *, email: str, password: str, ttl_s: int, organisation: str | None = None
) -> tuple[str, SessionToken, User]:
    """Check the password and open a session; returns the token (shown once).

    ``organisation`` (a slug) picks the account when the same e-mail address has one in
    several organisations; without it, the one account whose password matches is used.
    """
    stmt = select(User).where(User.email == email.strip().lower())
    if organisation:
        stmt = stmt.join(Organisation, Organisation.id == User.org_id).where(
            Organisation.slug == organisation.strip().lower()
        )
    candidates = list(session.scalars(stmt.order_by(User.created_at, User.id)))
    if not candidates:
        verify_password(None, password)  # the same cost as a wrong password
        raise NotAuthenticated("wrong e-mail or password")
    matches = [u for u in candidates if verify_password(u.password_hash, password) and u.active]
    if not matches:
        raise NotAuthenticated("wrong e-mail or password")
    if len(matches) > 1:
        raise SeveralOrganisations(
            "this e-mail and password open accounts in several organisations: "
            "name the organisation (its short name)"
        )
    user = matches[0]
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = new_token(SESSION_PREFIX)
    now = utcnow()
    row = SessionToken(
        org_id=user.org_id,
        user_id=user.id,
        token_hash=digest(token),
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_s),
    )
    session.add(row)
    session.commit()
    return token, row, user


def logout(session: Session, *, session_token_id: uuid.UUID) -> None:
    row = session.get(SessionToken, session_token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()


def list_users(session: Session, *, org_id: uuid.UUID, limit: int, offset: int) -> list[User]:
    stmt = (
        select(User)
        .where(User.org_id == org_id)
        .order_by(User.created_at, User.id)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def get_user(session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise NotFound("user not found")
    return user


def update_user(
    session: Session, *, org_id: uuid.UUID, user_id: uuid.UUID, changes: UserUpdate
) -> User:
    """Apply ``changes``; deactivating or changing the password ends the user's sessions."""
    user = get_user(session, org_id=org_id, user_id=user_id)
    if changes.name is not None:
        user.name = changes.name
    if changes.role is not None:
        user.role = changes.role.value
    end_sessions = False
    if changes.active is not None:
        user.active = changes.active
        end_sessions = not changes.active
    if changes.password is not None:
        user.password_hash = hash_password(changes.password)
        end_sessions = True
    if end_sessions or changes.role is not None:
        session.execute(
            update(SessionToken)
            .where(SessionToken.user_id == user.id, SessionToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    session.commit()
    return user


def create_api_key(
    session: Session,
    *,
    org_id: uuid.UUID,
    name: str,
    role: Role,
    created_by_id: uuid.UUID | None,
) -> tuple[str, ApiKey]:
    """A new API key; returns the key (shown once) and its stored row (hash only)."""
    key = new_token(API_KEY_PREFIX)
    row = ApiKey(
        org_id=org_id,
        name=name,
        role=role.value,
        prefix=key[:10],
        key_hash=digest(key),
        created_by_id=created_by_id,
    )
    session.add(row)
    session.commit()
    return key, row


def list_api_keys(session: Session, *, org_id: uuid.UUID) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at, ApiKey.id)
    return list(session.scalars(stmt))


def get_api_key(session: Session, *, org_id: uuid.UUID, api_key_id: uuid.UUID) -> ApiKey:
    key = session.get(ApiKey, api_key_id)
    if key is None or key.org_id != org_id:
        raise NotFound("API key not found")
    return key


def revoke_api_key(session: Session, *, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.commit()
    return key
