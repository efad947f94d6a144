"""The OsmAnd tracking protocol, as OsmAnd, Traccar Client and many GPS boxes speak it.

A position is one HTTP request (GET or POST) to ``/osmand`` with query or form
fields -- ``id`` (or ``deviceid``), ``lat``, ``lon`` (or ``location=lat,lon``),
``timestamp``, ``speed`` (knots), ``bearing``/``heading``, ``altitude``,
``accuracy``, ``batt`` -- following Traccar's decoder, the reference for what
these apps send. Newer Traccar Client versions POST a JSON body instead
(``{"device_id", "location": {"timestamp", "coords": {...}, "battery": {...}}}``,
speed in m/s); both are accepted. lastmile adds one field, ``token``: the
tracker's secret, usually put in the server URL the app is given.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from lastmile.service.errors import FieldError, Unprocessable
from lastmile.service.schemas import utc_in_range
from lastmile.service.tracking.schemas import PingIn

KNOT_KPH = 1.852


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class TrackerFix:
    """One position decoded from an OsmAnd/Traccar request."""

    identifier: str
    token: str
    ping: PingIn


def _number(value: Any, name: str, errors: list[FieldError]) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append(FieldError(reason=f"not a number: {value!r}", column=name))
        return None
    if not math.isfinite(number):
        errors.append(FieldError(reason=f"not a finite number: {value!r}", column=name))
        return None
    return number


def _timestamp(value: Any, errors: list[FieldError], now: dt.datetime) -> dt.datetime:
    """Traccar's rules: seconds or milliseconds since 1970 (below 2^31: seconds),
    ISO 8601, or ``yyyy-MM-dd HH:mm:ss`` in UTC; absent: now. A time outside the
    years the service accepts is an error."""
    if value is None or value == "":
        return now
    when = _moment(value, errors)
    if when is None:
        return now
    try:
        return utc_in_range(when)
    except ValueError as exc:
        errors.append(FieldError(reason=f"{value!r} is {exc}", column="timestamp"))
        return now


def _moment(value: Any, errors: list[FieldError]) -> dt.datetime | None:
    text_value = str(value).strip()
    try:
        number = float(text_value)
    except ValueError:
        try:
            when = dt.datetime.fromisoformat(text_value.replace("Z", "+00:00"))
        except ValueError:
            errors.append(FieldError(reason=f"unknown time format {value!r}", column="timestamp"))
            return None
        return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    if not math.isfinite(number) or number < 0:
        errors.append(FieldError(reason=f"not a time: {value!r}", column="timestamp"))
        return None
    seconds = number if number < 2**31 - 1 else number / 1000
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        errors.append(FieldError(reason=f"not a time: {value!r}", column="timestamp"))
        return None


def credentials(params: Mapping[str, Any], body: Mapping[str, Any] | None) -> tuple[str, str]:
    """The tracker's (identifier, token) from the query/form fields or a JSON body."""
    merged = {**(body or {}), **{k: v for k, v in params.items() if v}}
    identifier = merged.get("id") or merged.get("deviceid") or merged.get("device_id") or ""
    return str(identifier), str(merged.get("token") or "")


def decode_osmand(
    params: Mapping[str, Any], body: Mapping[str, Any] | None, *, now: dt.datetime
) -> TrackerFix:
    """Decode an OsmAnd-protocol position (query string or form fields, as OsmAnd
    and Traccar Client send them) or a Traccar Client JSON body
    (``{"device_id", "location": {"timestamp", "coords": {...}, "battery": {...}}}``).

    Query-string speed is in knots (Traccar's convention), JSON speed in m/s;
    both are stored in km/h. Raises :class:`Unprocessable` listing every bad field.
    """
    errors: list[FieldError] = []
    p: dict[str, Any] = dict(params)
    if body:
        location = body.get("location")
        if isinstance(location, dict):
            coords = _mapping(location.get("coords"))
            power = _mapping(location.get("battery"))
            speed = _number(coords.get("speed"), "location.coords.speed", errors)
            heading = _number(coords.get("heading"), "location.coords.heading", errors)
            level = _number(power.get("level"), "location.battery.level", errors)
            p.setdefault("id", body.get("device_id"))
            p.update(
                {
                    "lat": coords.get("latitude"),
                    "lon": coords.get("longitude"),
                    "timestamp": location.get("timestamp"),
                    "accuracy": coords.get("accuracy"),
                    "altitude": coords.get("altitude"),
                    "_speed_kph": speed * 3.6 if speed is not None and speed >= 0 else None,
                    "bearing": heading if heading is not None and heading >= 0 else None,
                    "batt": level * 100 if level is not None and 0 <= level <= 1 else None,
                    "_uuid": location.get("uuid"),
                }
            )
        else:
            for key, value in body.items():
                p.setdefault(key, value)
    identifier = str(p.get("id") or p.get("deviceid") or p.get("device_id") or "")
    token = str(p.get("token") or "")
    lat = _number(p.get("lat"), "lat", errors)
    lon = _number(p.get("lon"), "lon", errors)
    if (lat is None or lon is None) and p.get("location"):
        parts = str(p["location"]).split(",")
        if len(parts) == 2:
            lat = _number(parts[0], "location", errors)
            lon = _number(parts[1], "location", errors)
    if lat is None or lon is None:
        errors.append(FieldError(reason="give lat and lon (or location=lat,lon)", column="lat"))
    when = _timestamp(p.get("timestamp"), errors, now)
    speed_kph = p.get("_speed_kph")
    if speed_kph is None:
        knots = _number(p.get("speed"), "speed", errors)
        speed_kph = knots * KNOT_KPH if knots is not None and knots >= 0 else None
    heading = _number(p.get("bearing", p.get("heading")), "bearing", errors)
    accuracy = _number(p.get("accuracy"), "accuracy", errors)
    altitude = _number(p.get("altitude"), "altitude", errors)
    battery = _number(p.get("batt"), "batt", errors)
    if errors:
        raise Unprocessable("the position is not valid", errors)
    assert lat is not None and lon is not None
    raw_uuid = p.get("_uuid")
    event_id = f"uuid:{raw_uuid}"[:64] if raw_uuid else f"osmand:{round(when.timestamp() * 1000)}"
    try:
        ping = PingIn(
            event_id=event_id,
            at=when,
            lon=lon,
            lat=lat,
            speed_kph=min(speed_kph, 500.0) if speed_kph is not None else None,
            heading_deg=heading % 360 if heading is not None else None,
            accuracy_m=accuracy if accuracy is not None and accuracy >= 0 else None,
            altitude_m=altitude,
            battery_pct=min(max(battery, 0.0), 100.0) if battery is not None else None,
        )
    except ValidationError as exc:
        raise Unprocessable(
            "the position is not valid",
            [FieldError(reason=str(e["msg"]), column=str(e["loc"][0])) for e in exc.errors()],
        ) from None
    return TrackerFix(identifier=identifier, token=token, ping=ping)
