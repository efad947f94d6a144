"""Depots: where vehicles load and return."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.service.db import TenantBase, UTCDateTime, utcnow


class Depot(TenantBase):
    __tablename__ = "depots"

    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    #: Opening hours as seconds after local midnight (organisation time zone).
    opens_s: Mapped[int] = mapped_column(Integer, default=0)
    closes_s: Mapped[int] = mapped_column(Integer, default=86_400)
    reload_time_s: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def changes_planning(self, *, new: bool, deleted: bool) -> bool:
        return True
