"""Key figures in words and numbers people read: labels, units, formatting.

Shared by the command's table and the HTML report, so both say the same.
"""

from __future__ import annotations

from collections.abc import Callable

from lastmile.analytics.kpis import Kpis

Formatter = Callable[[float], str]

MISSING = "—"


def _int(x: float) -> str:
    return f"{int(x):,}"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _seconds(x: float) -> str:
    return f"{x:,.0f} s"


def _signed_seconds(x: float) -> str:
    return f"{x:+,.0f} s"


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _km(x: float) -> str:
    return f"{x:,.1f} km"


def _hours(x: float) -> str:
    return f"{x:,.2f} h"


def _minutes_of_hours(x: float) -> str:
    return f"{x * 60:,.1f} min"


def _plain(x: float) -> str:
    return f"{x:,.2f}"


#: (field, label, formatter) in reading order. ``load_utilisation`` expands per dimension.
ROWS: tuple[tuple[str, str, Formatter], ...] = (
    ("days", "days", _int),
    ("routes", "routes", _int),
    ("stops_planned", "stops planned", _int),
    ("stops_done", "stops done", _int),
    ("stops_failed", "stops failed", _int),
    ("stops_not_reached", "stops not reached", _int),
    ("stops_moved", "stops moved to another vehicle", _int),
    ("on_time_rate", "on time", _pct),
    ("lateness_p50_s", "lateness, median", _seconds),
    ("lateness_p90_s", "lateness, 90th percentile", _seconds),
    ("lateness_max_s", "lateness, worst", _seconds),
    ("first_attempt_success_rate", "first-attempt success", _pct),
    ("planned_cost", "cost, planned", _money),
    ("actual_cost", "cost, actual", _money),
    ("planned_distance_km", "distance, planned", _km),
    ("distance_km", "distance, actual", _km),
    ("planned_driving_h", "driving, planned", _hours),
    ("driving_h", "driving, actual", _hours),
    ("planned_route_h", "route time, planned", _hours),
    ("route_h", "route time, actual", _hours),
    ("planned_waiting_h", "waiting, planned", _hours),
    ("waiting_h", "waiting, actual", _hours),
    ("cost_per_stop", "cost per stop done", _money),
    ("km_per_stop", "km per stop done", _km),
    ("hours_per_stop", "route time per stop done", _minutes_of_hours),
    ("stops_per_hour", "stops done per route hour", _plain),
    ("load_utilisation", "peak load / capacity", _pct),
    ("time_utilisation", "route time / shift", _pct),
    ("eta_samples", "ETA samples", _int),
    ("eta_mae_s", "ETA error, mean absolute", _seconds),
    ("eta_p90_abs_error_s", "ETA error, 90th percentile", _seconds),
    ("eta_bias_s", "ETA bias (+: later than told)", _signed_seconds),
    ("promises", "promised ranges", _int),
    ("promises_kept_rate", "promises kept", _pct),
)


def _whole(x: float) -> str:
    return f"{x:,.0f}"


def _one_decimal(x: float) -> str:
    return f"{x:,.1f}"


#: The figures a one-line-per-group table shows: field, short header (with the unit), formatter.
HEADLINE: tuple[tuple[str, str, Formatter], ...] = (
    ("stops_planned", "stops", _int),
    ("on_time_rate", "on time", _pct),
    ("lateness_p90_s", "late p90 s", _whole),
    ("first_attempt_success_rate", "1st try", _pct),
    ("actual_cost", "cost", _whole),
    ("distance_km", "km", _one_decimal),
    ("stops_per_hour", "stops/h", _plain),
    ("eta_mae_s", "ETA MAE s", _whole),
)


def fmt(value: float | int | None, formatter: Formatter) -> str:
    return MISSING if value is None else formatter(value)


def kpi_lines(kpis: Kpis) -> list[tuple[str, str]]:
    """``(label, value)`` for every figure of ``kpis``, ``—`` where it has none."""
    lines: list[tuple[str, str]] = []
    for name, label, formatter in ROWS:
        if name == "load_utilisation":
            for dim, share in kpis.load_utilisation:
                lines.append((f"{label} ({dim})", fmt(share, formatter)))
            continue
        lines.append((label, fmt(getattr(kpis, name), formatter)))
    return lines


def labels_of(kpis_list: list[Kpis]) -> list[str]:
    """The row labels of :func:`kpi_lines` across several groups (dimensions may differ)."""
    seen: dict[str, None] = {}
    for kpis in kpis_list:
        seen.update(dict.fromkeys(label for label, _ in kpi_lines(kpis)))
    return list(seen)


def headline(kpis: Kpis) -> list[tuple[str, str]]:
    """``(short header, value)`` of the :data:`HEADLINE` figures."""
    return [(label, fmt(getattr(kpis, name), f)) for name, label, f in HEADLINE]
