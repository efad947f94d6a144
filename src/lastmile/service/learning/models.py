"""The traffic profile learned for an organisation (one row each), with its fit's summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lastmile.service.db import TenantBase, UTCDateTime, utcnow
from lastmile.travel.traffic import TrafficProfile


class LearnedTraffic(TenantBase):
    """The organisation's latest fit. ``profile`` holds the factors (see
    :func:`profile_json`); ``in_use`` says whether plans and ETAs use them (the fit
    predicted held-out legs no worse than the configured profile, from enough legs).
    ``revision`` goes up with every fit stored."""

    __tablename__ = "learned_traffic"
    __table_args__ = (UniqueConstraint("org_id"),)

    revision: Mapped[int] = mapped_column(Integer, default=1)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    in_use: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    fitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Who asked: ``schedule`` or ``user:<id>``.
    trigger: Mapped[str] = mapped_column(String(64), default="")
    #: The trips looked at: stop events and pings recorded in [window_start, window_end).
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: The road network (file name) the legs were matched on.
    network: Mapped[str] = mapped_column(String(200), default="")
    routes: Mapped[int] = mapped_column(Integer, default=0)
    pings: Mapped[int] = mapped_column(Integer, default=0)
    legs_matched: Mapped[int] = mapped_column(Integer, default=0)
    legs_used: Mapped[int] = mapped_column(Integer, default=0)
    legs_held_out: Mapped[int] = mapped_column(Integer, default=0)
    cells_updated: Mapped[int] = mapped_column(Integer, default=0)
    outliers: Mapped[int] = mapped_column(Integer, default=0)
    #: Held-out legs: median and mean absolute error (s), median relative error,
    #: under the configured profile (before) and a fit without them (after).
    error_before_median_s: Mapped[float | None] = mapped_column(Float, default=None)
    error_before_mean_s: Mapped[float | None] = mapped_column(Float, default=None)
    error_before_rel: Mapped[float | None] = mapped_column(Float, default=None)
    error_after_median_s: Mapped[float | None] = mapped_column(Float, default=None)
    error_after_mean_s: Mapped[float | None] = mapped_column(Float, default=None)
    error_after_rel: Mapped[float | None] = mapped_column(Float, default=None)

    def traffic_profile(self) -> TrafficProfile:
        """The stored factors as a profile."""
        p = self.profile
        return TrafficProfile(
            road_classes=p["road_classes"],
            factors=p["factors"],
            slice_s=int(p["slice_s"]),
            day_types=p["day_types"],
        )


def profile_json(profile: TrafficProfile) -> dict[str, Any]:
    """A profile as stored in :attr:`LearnedTraffic.profile`."""
    return {
        "road_classes": list(profile.road_classes),
        "day_types": list(profile.day_types),
        "slice_s": profile.slice_s,
        "factors": profile.factors.tolist(),
    }
