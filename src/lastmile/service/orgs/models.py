"""Organisations: the tenants. Every other row belongs to exactly one."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.service.db import Base, UTCDateTime, utcnow
from lastmile.service.orgs.schemas import OrgSettings


class Organisation(Base):
    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: Capacity dimensions, e.g. ["weight_kg", "volume_l"]; amounts follow this order.
    dimensions: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["units"])
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Raised by every write to what plans are built from (fleet, depots, orders'
    #: stops...), in the writing transaction (see ``TenantBase.changes_planning``).
    planning_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Options (see :class:`~lastmile.service.orgs.schemas.OrgSettings`); a missing
    #: key has its default.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    @property
    def waiting_costs_like_driving(self) -> bool:
        """Whether plans charge waiting like driving (on unless switched off)."""
        return bool((self.settings or {}).get("waiting_costs_like_driving", True))

    @property
    def options(self) -> OrgSettings:
        """The options, defaults filled in (keys no longer known are ignored)."""
        known = OrgSettings.model_fields
        return OrgSettings.model_validate(
            {k: v for k, v in (self.settings or {}).items() if k in known}
        )
