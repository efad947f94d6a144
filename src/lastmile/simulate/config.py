"""What a simulated day is like: :class:`TwinConfig`, every field checked."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field

from lastmile.exceptions import InputError
from lastmile.travel.noise import TravelNoise
from lastmile.travel.weather import WeatherTable, parse_conditions


@dataclass(frozen=True)
class TwinConfig:
    """What the simulated day is like (every field is checked; a bad one names itself).

    ``noise``: per-leg travel-time variation. ``weather``: conditions all day
    (``"rain"``, ``"snow+strong_wind"``; ``"clear"``: none), slowing every leg
    by :class:`~lastmile.travel.weather.WeatherTable`'s multiplier.
    ``absent_rate``: share of customer stops (deliveries, customers' pickups)
    where nobody answers; ``scan_failure_rate``: share of deliveries whose
    parcel fails the scan; a failed attempt costs ``failed_attempt_s`` at the
    door (never more than the planned service). ``overtime_s``: how far past
    its shift's end a driver still goes to a stop.
    ``ping_every_s``: GPS pings (0: none) with ``gps_sigma_m`` metres of noise.
    ``eta_every_s``: how often ETAs are predicted for the record (0: never).
    Incidents: ``breakdowns``, ``road_closures`` (each closed ``closure_s``
    seconds; on matrices the leg is ``closure_slowdown`` times slower) and
    ``urgent_orders`` (due within ``urgent_window_s``), drawn between
    ``incident_window`` (seconds since midnight). ``replan``: breakdowns and
    urgent orders are re-planned with :mod:`lastmile.planning.live` (off: the
    broken vehicle's stops are not reached, urgent orders wait for someone
    to insert them through :meth:`lastmile.simulate.twin.Twin.replace_plan`). ``transfer_s``: the
    goods on board a broken vehicle are handed over to another one where it
    stands, in that many seconds (None: they stay on board, not reached). ``day``/``timezone``
    date the record (default: the truth's day, else :data:`lastmile.simulate.twin.DEFAULT_DAY`).
    """

    noise: TravelNoise = field(default_factory=TravelNoise)
    weather: str = "clear"
    absent_rate: float = 0.03
    scan_failure_rate: float = 0.005
    failed_attempt_s: int = 120
    overtime_s: int = 0
    ping_every_s: int = 30
    gps_sigma_m: float = 5.0
    eta_every_s: int = 900
    breakdowns: int = 0
    road_closures: int = 0
    closure_s: int = 7200
    closure_slowdown: float = 3.0
    urgent_orders: int = 0
    urgent_window_s: int = 4 * 3600
    urgent_service_s: int = 180
    incident_window: tuple[int, int] = (9 * 3600, 15 * 3600)
    replan: bool = True
    transfer_s: int | None = 600
    day: dt.date | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if not isinstance(self.noise, TravelNoise):
            raise InputError("must be a TravelNoise", where="config.noise")
        parse_conditions(self.weather, where="config.weather")
        for name in ("absent_rate", "scan_failure_rate"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 <= value <= 1):
                raise InputError(f"{value!r} is not between 0 and 1", where=f"config.{name}")
        for name in (
            "failed_attempt_s",
            "overtime_s",
            "ping_every_s",
            "eta_every_s",
            "breakdowns",
            "road_closures",
            "closure_s",
            "urgent_orders",
            "urgent_window_s",
            "urgent_service_s",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"{value!r} is not a whole number >= 0", where=f"config.{name}")
        if not (math.isfinite(self.gps_sigma_m) and self.gps_sigma_m >= 0):
            raise InputError(f"{self.gps_sigma_m!r} is not >= 0", where="config.gps_sigma_m")
        if not (math.isfinite(self.closure_slowdown) and self.closure_slowdown >= 1):
            raise InputError(
                f"{self.closure_slowdown!r} is not >= 1", where="config.closure_slowdown"
            )
        if self.transfer_s is not None and (
            not isinstance(self.transfer_s, int) or self.transfer_s < 0
        ):
            raise InputError(
                f"{self.transfer_s!r} is not a whole number >= 0", where="config.transfer_s"
            )
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise InputError(
                f"{self.timezone!r} is not a time zone", where="config.timezone"
            ) from exc
        start, end = self.incident_window
        if not 0 <= start <= end:
            raise InputError(
                f"{self.incident_window!r} is not (start, end) with start <= end",
                where="config.incident_window",
            )

    @property
    def weather_multiplier(self) -> float:
        """Speed multiplier of :attr:`weather` (1.0 when clear)."""
        conditions = parse_conditions(self.weather, where="config.weather")
        return WeatherTable().multiplier(conditions)

    def describe(self) -> str:
        parts = [self.noise.describe()]
        if self.weather_multiplier != 1:
            parts.append(f"{self.weather} (speeds x{self.weather_multiplier:g})")
        return ", ".join(parts)
