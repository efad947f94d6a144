"""Who may travel which OpenStreetMap way, in which direction and how fast.

Routing profiles (car, van, bike / cargo bike) and the tag rules that turn a
way's OSM tags (``highway``, ``oneway``, access keys, ``maxspeed``) into the
directions a profile may use and its free-flow speed along each.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lastmile.exceptions import InputError

#: Road classes (OSM ``highway`` values) with stable codes: ``edge_class`` indexes this.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "track",
    "cycleway",
    "path",
    "pedestrian",
    "footway",
    "bridleway",
)


@dataclass(frozen=True)
class Profile:
    """Who travels: which roads, how fast, which one-way rules.

    ``speeds_kph`` lists the usable road classes with their default speed (used
    when a way has no ``maxspeed``). With ``maxspeed`` the speed is
    ``maxspeed * maxspeed_factor`` (a posted limit is not an average speed). Every
    speed is capped at ``max_speed_kph``. ``mode`` is "motor" or "bicycle".
    ``explicit_only`` classes are usable only when the way explicitly allows the
    mode (``bicycle=yes`` on a footway).
    """

    name: str
    mode: str
    speeds_kph: Mapping[str, float]
    max_speed_kph: float
    maxspeed_factor: float = 1.0
    access_keys: tuple[str, ...] = ("access",)
    explicit_only: frozenset[str] = frozenset()

    def fingerprint(self) -> str:
        """Stable text of every setting (part of the cache key)."""
        data = {
            "name": self.name,
            "mode": self.mode,
            "speeds_kph": sorted(self.speeds_kph.items()),
            "max_speed_kph": self.max_speed_kph,
            "maxspeed_factor": self.maxspeed_factor,
            "access_keys": list(self.access_keys),
            "explicit_only": sorted(self.explicit_only),
        }
        return json.dumps(data, sort_keys=True)


# Default speeds follow OSRM's car profile; a posted limit counts at 80 % as there.
_CAR_SPEEDS_KPH: dict[str, float] = {
    "motorway": 90,
    "motorway_link": 45,
    "trunk": 85,
    "trunk_link": 40,
    "primary": 65,
    "primary_link": 30,
    "secondary": 55,
    "secondary_link": 25,
    "tertiary": 40,
    "tertiary_link": 20,
    "unclassified": 25,
    "residential": 25,
    "living_street": 10,
    "service": 15,
    "road": 20,
}

# A cargo bike: about 15 km/h on roads (electric assist stops at 25 km/h, and it
# is heavy); walking pace where it may only be pushed among pedestrians.
_BIKE_SPEEDS_KPH: dict[str, float] = {
    "primary": 15,
    "primary_link": 15,
    "secondary": 15,
    "secondary_link": 15,
    "tertiary": 15,
    "tertiary_link": 15,
    "unclassified": 15,
    "residential": 15,
    "living_street": 10,
    "service": 12,
    "road": 12,
    "track": 10,
    "cycleway": 16,
    "path": 10,
    "pedestrian": 6,
    "footway": 6,
    "bridleway": 6,
    "trunk": 15,
    "trunk_link": 15,
}

PROFILES: dict[str, Profile] = {
    "car": Profile(
        name="car",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=130.0,
        maxspeed_factor=0.8,
        access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    ),
    # A delivery van: the car's roads, ``goods`` access tags, and a speed cap.
    "van": Profile(
        name="van",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=90.0,
        maxspeed_factor=0.8,
        access_keys=("goods", "motor_vehicle", "vehicle", "access"),
    ),
    "bike": Profile(
        name="bike",
        mode="bicycle",
        speeds_kph=_BIKE_SPEEDS_KPH,
        max_speed_kph=20.0,
        maxspeed_factor=1.0,
        access_keys=("bicycle", "vehicle", "access"),
        explicit_only=frozenset({"pedestrian", "footway", "bridleway", "trunk", "trunk_link"}),
    ),
}
PROFILES["cargo_bike"] = PROFILES["bike"]


def get_profile(profile: str | Profile) -> Profile:
    """The named profile ("car", "van", "bike"/"cargo_bike"), or ``profile`` itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {profile!r}; known: {known}", where="profile") from None


# ---------------------------------------------------------------------------- tags

_MPH_KPH = 1.609344
_KNOT_KPH = 1.852
_SPEED_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?$")
# Implicit limits written as "<country>:<kind>" (e.g. "FR:urban", "DE:zone30").
_ZONE_KPH: dict[str, float] = {
    "urban": 50,
    "rural": 90,
    "trunk": 110,
    "motorway": 130,
    "living_street": 20,
    "bicycle_road": 30,
    "walk": 6,
}
_ZONE_RE = re.compile(r"^zone:?(\d+)$")


def parse_maxspeed_kph(value: str | None) -> float | None:
    """A ``maxspeed`` tag in km/h, or None when it sets no usable number.

    Understands "50", "50 km/h", "30 mph", "10 knots", "walk", "FR:urban",
    "DE:zone30"/"DE:zone:30", and "50;30" (the lowest). "none", "signals",
    "variable" and anything unknown give None (the road class decides).
    """
    if value is None:
        return None
    best: float | None = None
    for part in value.split(";"):
        kph = _parse_one_maxspeed(part.strip().lower())
        if kph is not None and kph > 0 and (best is None or kph < best):
            best = kph
    return best


def _parse_one_maxspeed(text: str) -> float | None:
    if text == "walk":
        return _ZONE_KPH["walk"]
    m = _SPEED_RE.match(text)
    if m:
        number = float(m.group(1))
        unit = m.group(2)
        if unit == "mph":
            return number * _MPH_KPH
        if unit == "knots":
            return number * _KNOT_KPH
        return number
    if ":" in text:
        kind = text.split(":", 1)[1]
        if kind in _ZONE_KPH:
            return _ZONE_KPH[kind]
        z = _ZONE_RE.match(kind)
        if z:
            return float(z.group(1))
    return None


_DENY = frozenset(
    {
        "no",
        "private",
        "agricultural",
        "forestry",
        "emergency",
        "psv",
        "bus",
        "military",
        "discouraged",
    }
)
_ALLOW_EXPLICIT = frozenset({"yes", "designated", "permissive", "destination", "dismount"})
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})


def way_directions(tags: Mapping[str, str], profile: Profile) -> tuple[bool, bool]:
    """Whether ``profile`` may travel a way forwards / backwards (node order)."""
    highway = tags.get("highway", "")
    if highway not in profile.speeds_kph or tags.get("area") == "yes":
        return False, False
    if profile.mode == "bicycle" and tags.get("bicycle") == "use_sidepath":
        return False, False
    decided = ""
    for key in profile.access_keys:
        if key in tags:
            decided = tags[key]
            break
    if decided in _DENY:
        return False, False
    if highway in profile.explicit_only and decided not in _ALLOW_EXPLICIT:
        return False, False
    if profile.mode == "bicycle" and tags.get("motorroad") == "yes":
        return False, False
    oneway = tags.get("oneway", "")
    if oneway in ("reversible", "alternating"):
        # Direction changes during the day: not safe to plan on.
        return False, False
    forward, backward = True, True
    if oneway in _YES:
        backward = False
    elif oneway == "-1" or oneway == "reverse":
        forward = False
    elif oneway not in _NO and (
        tags.get("junction") in ("roundabout", "circular")
        or (profile.mode == "motor" and highway in ("motorway", "motorway_link"))
    ):
        backward = False
    if profile.mode == "bicycle":
        ob = tags.get("oneway:bicycle", "")
        contraflow = any(
            tags.get(k, "").startswith("opposite")
            for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both")
        )
        if ob in _NO or contraflow:
            forward, backward = True, True
        elif ob in _YES:
            backward = False
        elif ob == "-1":
            forward = False
    return forward, backward


def way_speeds_kph(tags: Mapping[str, str], profile: Profile) -> tuple[float, float]:
    """Free-flow speeds forwards / backwards (``maxspeed:forward`` etc. honoured)."""
    default = float(profile.speeds_kph[tags.get("highway", "")])
    both = parse_maxspeed_kph(tags.get("maxspeed"))
    out = []
    for direction in ("forward", "backward"):
        posted = parse_maxspeed_kph(tags.get(f"maxspeed:{direction}"))
        if posted is None:
            posted = both
        if posted is None:
            speed = default
        elif profile.mode == "bicycle":
            speed = min(default, posted)
        else:
            speed = posted * profile.maxspeed_factor
        out.append(max(1.0, min(speed, profile.max_speed_kph)))
    return out[0], out[1]
