"""Request parameters of the report routes."""

from __future__ import annotations

from enum import StrEnum

#: The longest range of days one request may cover (a quarter).
MAX_DAYS = 92


class GroupBy(StrEnum):
    """What KPI rows are per."""

    DRIVER = "driver"
    VEHICLE = "vehicle"
    DEPOT = "depot"
    DAY = "day"


class FigureName(StrEnum):
    """The figures of a day (PNG)."""

    ROUTE_MAP = "route_map"
    TIMELINE = "timeline"
    ON_TIME_HISTOGRAM = "on_time_histogram"
    PLANNED_VS_ACTUAL = "planned_vs_actual"
    ETA_ERROR_OVER_DAY = "eta_error_over_day"
