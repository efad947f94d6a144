"""Who is calling: the :class:`Principal` every service that checks access is given."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from lastmile.service.auth.models import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. ``driver_id`` is set for users with the driver role."""

    org_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None = None
    api_key_id: uuid.UUID | None = None
    driver_id: uuid.UUID | None = None
    session_token_id: uuid.UUID | None = None
    #: the organisation's time zone (IANA name): answers show times in it
    timezone: str = "UTC"

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.ADMIN, Role.DISPATCHER)
