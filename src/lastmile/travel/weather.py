"""Weather: conditions through the day, and what they do to road speeds.

A :class:`WeatherSource` answers "which conditions when" as a
:class:`WeatherSeries` (periods with a set of :class:`Condition`). A
:class:`WeatherTable` turns a set of conditions into one speed multiplier,
applied on top of the traffic factor of every road: the product of the
conditions' multipliers (heavy rain and strong wind both slow traffic), never
below ``floor``.

Default multipliers (:data:`DEFAULT_MULTIPLIERS`) are round numbers within the
ranges the US FHWA Road Weather Management Program reports for urban roads
(arterial speeds 10-25 % lower on wet pavement, 30-40 % lower on snowy or slushy
pavement, 10-12 % lower in low visibility); ice is set at half speed. They are
configurable: :meth:`WeatherTable.from_csv` or :meth:`WeatherTable.from_mapping`.

Sources: :class:`StaticWeather` (the same conditions all day, clear by
default), :class:`FileWeather` (CSV or JSON periods, or a saved Open-Meteo
answer) and :class:`OpenMeteoWeather` (Open-Meteo's forecast API over httpx; the
transport is a constructor argument so tests pass a fake).
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import httpx

from lastmile.exceptions import FormatError, InputError, LastmileError


class WeatherUnavailable(LastmileError):
    """A weather service could not be reached or answered with an error."""


class Condition(StrEnum):
    """Weather conditions that change how fast traffic moves."""

    CLEAR = "clear"
    DRIZZLE = "drizzle"
    RAIN = "rain"
    HEAVY_RAIN = "heavy_rain"
    SNOW = "snow"
    HEAVY_SNOW = "heavy_snow"
    ICE = "ice"
    FOG = "fog"
    STRONG_WIND = "strong_wind"
    THUNDERSTORM = "thunderstorm"


#: Speed multiplier per condition (see the module docstring for where they come from).
DEFAULT_MULTIPLIERS: dict[Condition, float] = {
    Condition.CLEAR: 1.0,
    Condition.DRIZZLE: 0.95,
    Condition.RAIN: 0.9,
    Condition.HEAVY_RAIN: 0.8,
    Condition.SNOW: 0.7,
    Condition.HEAVY_SNOW: 0.6,
    Condition.ICE: 0.5,
    Condition.FOG: 0.85,
    Condition.STRONG_WIND: 0.9,
    Condition.THUNDERSTORM: 0.8,
}


def parse_condition(text: str, *, where: str) -> Condition:
    try:
        return Condition(text.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        known = ", ".join(c.value for c in Condition)
        raise InputError(f"unknown condition {text!r} (use {known})", where=where) from None


def parse_conditions(text: str | Sequence[str], *, where: str) -> frozenset[Condition]:
    """``"rain+strong_wind"`` (also ``;`` or ``,`` separated), a list, or empty for clear."""
    if isinstance(text, str):
        for sep in (";", ","):
            text = text.replace(sep, "+")
        parts: Sequence[str] = [p for p in text.split("+") if p.strip()]
    else:
        parts = text
    conds = {parse_condition(p, where=where) for p in parts}
    conds.discard(Condition.CLEAR)
    return frozenset(conds)


class WeatherTable:
    """Speed multiplier per condition; a set of conditions multiplies, floored at ``floor``."""

    def __init__(
        self, multipliers: Mapping[Condition, float] | None = None, *, floor: float = 0.2
    ) -> None:
        table = dict(DEFAULT_MULTIPLIERS)
        table.update(multipliers or {})
        for cond, m in table.items():
            if not (math.isfinite(m) and 0 < m <= 1.5):
                raise InputError(f"multiplier must be in (0, 1.5], got {m}", where=str(cond))
        if not 0 < floor <= 1:
            raise InputError(f"must be in (0, 1], got {floor}", where="floor")
        self.multipliers = table
        self.floor = floor

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, float], *, floor: float = 0.2) -> WeatherTable:
        """Override defaults from ``{"rain": 0.85, ...}``."""
        table = {
            parse_condition(k, where=f"weather table {k!r}"): float(v) for k, v in mapping.items()
        }
        return cls(table, floor=floor)

    @classmethod
    def from_csv(cls, path: str | Path, *, floor: float = 0.2) -> WeatherTable:
        """Override defaults from rows ``condition,multiplier``."""
        path = Path(path)
        table: dict[Condition, float] = {}
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"condition", "multiplier"} <= set(reader.fieldnames):
                raise FormatError("needs columns condition,multiplier", where=str(path))
            for lineno, row in enumerate(reader, start=2):
                where = f"{path.name}:{lineno}"
                cond = parse_condition(row["condition"] or "", where=f"{where} column condition")
                try:
                    table[cond] = float(row["multiplier"] or "")
                except ValueError:
                    raise FormatError(
                        f"not a number: {row['multiplier']!r}", where=f"{where} column multiplier"
                    ) from None
        return cls(table, floor=floor)

    def multiplier(self, conditions: Iterable[Condition]) -> float:
        m = 1.0
        for c in conditions:
            m *= self.multipliers[c]
        return max(self.floor, m)


@dataclass(frozen=True, slots=True)
class WeatherPeriod:
    """Conditions holding over ``[start, end)``."""

    start: dt.datetime
    end: dt.datetime
    conditions: frozenset[Condition]


class WeatherSeries:
    """Non-overlapping periods of conditions; outside every period it is ``default``.

    Period times are all naive (local wall clock) or all timezone-aware.
    """

    def __init__(
        self,
        periods: Iterable[WeatherPeriod],
        *,
        default: frozenset[Condition] = frozenset(),
        source: str = "",
    ) -> None:
        self.periods = tuple(sorted(periods, key=lambda p: p.start))
        self.default = default
        self.source = source
        aware = {p.start.tzinfo is not None for p in self.periods}
        if len(aware) > 1:
            raise InputError("mixes naive and timezone-aware times", where="weather periods")
        for i, p in enumerate(self.periods):
            if p.end <= p.start:
                raise InputError(f"end {p.end} is not after start {p.start}", where=f"period {i}")
            if i and p.start < self.periods[i - 1].end:
                raise InputError(f"overlaps the period before, at {p.start}", where=f"period {i}")
        self._starts = [p.start for p in self.periods]

    @property
    def is_aware(self) -> bool:
        return bool(self.periods) and self.periods[0].start.tzinfo is not None

    def conditions_at(self, when: dt.datetime) -> frozenset[Condition]:
        """Conditions at ``when``; a naive/aware mismatch compares wall clocks."""
        if not self.periods:
            return self.default
        if self.is_aware and when.tzinfo is None:
            when = when.replace(tzinfo=self.periods[0].start.tzinfo)
        elif not self.is_aware and when.tzinfo is not None:
            when = when.replace(tzinfo=None)
        i = bisect.bisect_right(self._starts, when) - 1
        if i >= 0 and when < self.periods[i].end:
            return self.periods[i].conditions
        return self.default

    def __len__(self) -> int:
        return len(self.periods)


class WeatherSource(Protocol):
    """Where weather comes from: a file, a constant, a forecast service."""

    @property
    def description(self) -> str:
        """One line naming the source (shown in outputs)."""
        ...

    def forecast(self, *, start: dt.datetime, end: dt.datetime) -> WeatherSeries:
        """Conditions over ``[start, end)`` (the series may cover more)."""
        ...


class StaticWeather:
    """The same conditions all the time (clear by default)."""

    def __init__(self, conditions: Iterable[Condition | str] = ()) -> None:
        self.conditions = frozenset(
            parse_condition(str(c), where="static weather") for c in conditions
        ) - {Condition.CLEAR}

    @property
    def description(self) -> str:
        return "weather: " + ("+".join(sorted(self.conditions)) if self.conditions else "clear")

    def forecast(self, *, start: dt.datetime, end: dt.datetime) -> WeatherSeries:
        del start, end
        return WeatherSeries((), default=self.conditions, source=self.description)


def _parse_time(text: str, *, where: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"expected an ISO date-time, got {text!r}", where=where) from None


class FileWeather:
    """Periods read from a file.

    CSV: columns ``start,end,conditions`` (ISO date-times, conditions joined by
    ``+``, empty for clear). JSON: ``{"periods": [{"start", "end",
    "conditions": [...]}, ...]}`` or a bare list of such periods, or a saved
    Open-Meteo forecast answer (it has an ``hourly`` block).
    """

    def __init__(self, path: str | Path, *, thresholds: OpenMeteoThresholds | None = None) -> None:
        self.path = Path(path)
        self.thresholds = thresholds or OpenMeteoThresholds()
        self._series: WeatherSeries | None = None

    @property
    def description(self) -> str:
        return f"weather from {self.path.name}"

    def forecast(self, *, start: dt.datetime, end: dt.datetime) -> WeatherSeries:
        del start, end
        if self._series is None:
            self._series = self._read()
        return self._series

    def _read(self) -> WeatherSeries:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", where=str(self.path)) from None
        if self.path.suffix.lower() == ".json":
            return self._read_json(text)
        return self._read_csv(text)

    def _read_csv(self, text: str) -> WeatherSeries:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or not {"start", "end", "conditions"} <= set(reader.fieldnames):
            raise FormatError("needs columns start,end,conditions", where=str(self.path))
        periods = []
        for lineno, row in enumerate(reader, start=2):
            where = f"{self.path.name}:{lineno}"
            periods.append(
                WeatherPeriod(
                    _parse_time(row["start"] or "", where=f"{where} column start"),
                    _parse_time(row["end"] or "", where=f"{where} column end"),
                    parse_conditions(row["conditions"] or "", where=f"{where} column conditions"),
                )
            )
        return WeatherSeries(periods, source=self.description)

    def _read_json(self, text: str) -> WeatherSeries:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FormatError(
                f"invalid JSON: {exc.msg} (line {exc.lineno})", where=str(self.path)
            ) from None
        if isinstance(doc, dict) and "hourly" in doc:
            return parse_open_meteo(doc, thresholds=self.thresholds, source=self.description)
        items = doc.get("periods") if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise FormatError("expected a list of periods", where=str(self.path))
        periods = []
        for i, item in enumerate(items):
            where = f"{self.path.name} periods[{i}]"
            if not isinstance(item, dict) or not {"start", "end"} <= item.keys():
                raise FormatError("a period needs start and end", where=where)
            periods.append(
                WeatherPeriod(
                    _parse_time(str(item["start"]), where=f"{where}.start"),
                    _parse_time(str(item["end"]), where=f"{where}.end"),
                    parse_conditions(item.get("conditions", []), where=f"{where}.conditions"),
                )
            )
        return WeatherSeries(periods, source=self.description)


# -- Open-Meteo -------------------------------------------------------------------------

#: WMO weather interpretation codes (as Open-Meteo reports them) -> conditions.
WMO_CONDITIONS: dict[int, frozenset[Condition]] = {
    0: frozenset(),  # clear sky
    1: frozenset(),  # mainly clear
    2: frozenset(),  # partly cloudy
    3: frozenset(),  # overcast
    45: frozenset({Condition.FOG}),
    48: frozenset({Condition.FOG, Condition.ICE}),  # depositing rime fog
    51: frozenset({Condition.DRIZZLE}),
    53: frozenset({Condition.DRIZZLE}),
    55: frozenset({Condition.RAIN}),  # dense drizzle
    56: frozenset({Condition.ICE}),  # freezing drizzle
    57: frozenset({Condition.ICE}),
    61: frozenset({Condition.RAIN}),
    63: frozenset({Condition.RAIN}),
    65: frozenset({Condition.HEAVY_RAIN}),
    66: frozenset({Condition.ICE}),  # freezing rain
    67: frozenset({Condition.ICE}),
    71: frozenset({Condition.SNOW}),
    73: frozenset({Condition.SNOW}),
    75: frozenset({Condition.HEAVY_SNOW}),
    77: frozenset({Condition.SNOW}),  # snow grains
    80: frozenset({Condition.RAIN}),  # rain showers
    81: frozenset({Condition.RAIN}),
    82: frozenset({Condition.HEAVY_RAIN}),  # violent rain showers
    85: frozenset({Condition.SNOW}),
    86: frozenset({Condition.HEAVY_SNOW}),
    95: frozenset({Condition.THUNDERSTORM}),
    96: frozenset({Condition.THUNDERSTORM}),  # with hail
    99: frozenset({Condition.THUNDERSTORM}),
}


@dataclass(frozen=True, slots=True)
class OpenMeteoThresholds:
    """Measured values that add a condition whatever the weather code says.

    ``heavy_rain_mm_h``: 7.6 mm/h is the usual "heavy rain" rate.
    ``strong_wind_kph``: 50 km/h is Beaufort 7 (near gale).
    ``fog_visibility_m``: below 1 km is fog by the meteorological definition.
    ``snow_cm_h``: any measurable snowfall makes it snow.
    """

    heavy_rain_mm_h: float = 7.6
    strong_wind_kph: float = 50.0
    fog_visibility_m: float = 1000.0
    snow_cm_h: float = 0.1


#: Hourly variables requested (current names, and the older ones still accepted in answers).
OPEN_METEO_HOURLY = ("weather_code", "precipitation", "snowfall", "wind_speed_10m", "visibility")
_ALIASES = {"weather_code": "weathercode", "wind_speed_10m": "windspeed_10m"}


def _column(hourly: Mapping[str, Any], name: str, n: int) -> list[float | None] | None:
    values = hourly.get(name, hourly.get(_ALIASES.get(name, ""), None))
    if values is None:
        return None
    if not isinstance(values, list) or len(values) != n:
        raise FormatError(f"expected {n} values", where=f"open-meteo hourly.{name}")
    for i, v in enumerate(values):
        if v is not None and not _finite_number(v):
            where = f"open-meteo hourly.{name}[{i}]"
            raise FormatError(f"expected a finite number or null, got {v!r}", where=where)
    return [None if v is None else float(v) for v in values]


def _finite_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def wmo_conditions(code: int) -> frozenset[Condition]:
    """Conditions for a WMO weather code (unknown codes: none)."""
    return WMO_CONDITIONS.get(code, frozenset())


def parse_open_meteo(
    doc: Mapping[str, Any],
    *,
    thresholds: OpenMeteoThresholds | None = None,
    source: str = "open-meteo",
) -> WeatherSeries:
    """Turn an Open-Meteo forecast answer (``hourly`` block) into hourly periods.

    Times are local to the answer's ``utc_offset_seconds`` and come back
    timezone-aware with that fixed offset.
    """
    th = thresholds or OpenMeteoThresholds()
    hourly = doc.get("hourly")
    if not isinstance(hourly, dict) or not isinstance(hourly.get("time"), list):
        raise FormatError("no hourly.time in the answer", where="open-meteo response")
    times = hourly["time"]
    n = len(times)
    offset = doc.get("utc_offset_seconds", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or abs(offset) >= 86_400:
        raise FormatError(
            f"not an integer within a day: {offset!r}", where="open-meteo utc_offset_seconds"
        )
    tz = dt.timezone(dt.timedelta(seconds=offset))
    codes = _column(hourly, "weather_code", n)
    rain = _column(hourly, "precipitation", n)
    snow = _column(hourly, "snowfall", n)
    wind = _column(hourly, "wind_speed_10m", n)
    vis = _column(hourly, "visibility", n)
    periods = []
    for i, raw in enumerate(times):
        where = f"open-meteo hourly.time[{i}]"
        try:
            if isinstance(raw, int) and not isinstance(raw, bool):
                start = dt.datetime.fromtimestamp(raw, tz)
            else:
                start = _parse_time(str(raw), where=where)
                start = start.replace(tzinfo=tz) if start.tzinfo is None else start
            end = start + dt.timedelta(hours=1)
        except (OverflowError, OSError, ValueError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"not a time this can place: {raw!r}", where=where) from None
        conds: set[Condition] = set()
        code = codes[i] if codes else None
        if code is not None:
            conds |= wmo_conditions(int(code))
        precip = rain[i] if rain else None
        if precip is not None and precip >= th.heavy_rain_mm_h:
            conds.discard(Condition.RAIN)
            conds.discard(Condition.DRIZZLE)
            if not conds & {Condition.SNOW, Condition.HEAVY_SNOW, Condition.ICE}:
                conds.add(Condition.HEAVY_RAIN)
        snowfall = snow[i] if snow else None
        if snowfall is not None and snowfall >= th.snow_cm_h and Condition.HEAVY_SNOW not in conds:
            conds.add(Condition.SNOW)
        speed = wind[i] if wind else None
        if speed is not None and speed >= th.strong_wind_kph:
            conds.add(Condition.STRONG_WIND)
        visibility = vis[i] if vis else None
        if visibility is not None and visibility < th.fog_visibility_m:
            conds.add(Condition.FOG)
        periods.append(WeatherPeriod(start, end, frozenset(conds)))
    return WeatherSeries(periods, source=source)


class OpenMeteoWeather:
    """Hourly forecast from Open-Meteo's ``/v1/forecast`` endpoint.

    ``base_url`` points at the service (or a self-hosted instance, or a test
    server); ``transport`` is passed to :class:`httpx.Client` (tests give an
    :class:`httpx.MockTransport`). ``timezone`` is sent as is; ``auto`` makes the
    service answer in the location's local time.
    """

    def __init__(
        self,
        *,
        latitude: float,
        longitude: float,
        base_url: str = "https://api.open-meteo.com",
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 10.0,
        timezone: str = "auto",
        thresholds: OpenMeteoThresholds | None = None,
    ) -> None:
        if not -90 <= latitude <= 90:
            raise InputError(f"must be in [-90, 90], got {latitude}", where="latitude")
        if not -180 <= longitude <= 180:
            raise InputError(f"must be in [-180, 180], got {longitude}", where="longitude")
        self.latitude = latitude
        self.longitude = longitude
        self.base_url = base_url.rstrip("/")
        self.transport = transport
        self.timeout_s = timeout_s
        self.timezone = timezone
        self.thresholds = thresholds or OpenMeteoThresholds()

    @property
    def description(self) -> str:
        return f"Open-Meteo forecast at {self.latitude:.4f},{self.longitude:.4f}"

    def forecast(self, *, start: dt.datetime, end: dt.datetime) -> WeatherSeries:
        params: dict[str, str | float] = {
            "latitude": self.latitude,
            "longitude": self.longitude,
            "hourly": ",".join(OPEN_METEO_HOURLY),
            "timezone": self.timezone,
            "start_date": start.date().isoformat(),
            "end_date": max(end, start).date().isoformat(),
        }
        url = f"{self.base_url}/v1/forecast"
        try:
            with httpx.Client(transport=self.transport, timeout=self.timeout_s) as client:
                response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise WeatherUnavailable(f"cannot reach {url}: {exc}") from exc
        if response.status_code != 200:
            reason = ""
            try:
                reason = str(response.json().get("reason", ""))
            except (ValueError, AttributeError):
                reason = response.text[:200]
            raise WeatherUnavailable(f"{url} answered {response.status_code}: {reason}")
        try:
            doc = response.json()
        except ValueError:
            raise FormatError("the answer is not JSON", where="open-meteo response") from None
        if not isinstance(doc, dict):
            raise FormatError("the answer is not a JSON object", where="open-meteo response")
        return parse_open_meteo(doc, thresholds=self.thresholds, source=self.description)
