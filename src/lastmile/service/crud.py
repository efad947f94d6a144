"""Small helpers every feature's service uses for tenant-scoped rows."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.orm import Session

from lastmile.service.db import TenantBase
from lastmile.service.errors import NotFound

T = TypeVar("T", bound=TenantBase)


def get_owned(
    session: Session, model: type[T], *, org_id: uuid.UUID, id: uuid.UUID, what: str
) -> T:
    """The row ``id`` of ``model`` if it belongs to ``org_id``; otherwise 404.

    Another organisation's rows are reported exactly like missing ones.
    """
    row = session.get(model, id)
    if row is None or row.org_id != org_id:
        raise NotFound(f"{what} not found")
    return row


def list_owned(
    session: Session, model: type[T], *, org_id: uuid.UUID, limit: int, offset: int, **filters: Any
) -> list[T]:
    stmt = select(model).where(model.org_id == org_id)
    for name, value in filters.items():
        if value is not None:
            stmt = stmt.where(getattr(model, name) == value)
    created_at = sa_inspect(model).columns["created_at"]
    stmt = stmt.order_by(created_at, model.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def apply_changes(row: object, changes: BaseModel) -> None:
    """Copy the fields the client sent (``exclude_unset``) onto ``row``.

    An explicit null clears a nullable column and is ignored for the others.
    """
    columns = sa_inspect(type(row)).columns
    for name, value in changes.model_dump(exclude_unset=True).items():
        if value is None and not columns[name].nullable:
            continue
        setattr(row, name, value)
