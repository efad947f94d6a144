"""Who may travel which OpenStreetMap way, in which direction and how fast.

Routing profiles (``car``, ``van``, ``truck``, ``cargo_bike``, ``bicycle``,
``foot``; ``bike`` is another name for ``bicycle``) and the tag rules that turn
a way's OSM tags (``highway``, ``oneway``, access keys, ``maxspeed``,
``maxweight``, ``maxheight``) into the directions a profile may use and its
free-flow speed along each. docs/traffic.md ("Routing profiles") lists each
profile's roads, speeds and limits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from lastmile.exceptions import InputError

#: Version of the tag rules below (``way_directions``, ``way_speeds_kph``, the
#: tag parsers). It is part of every profile's fingerprint, so a road network
#: cached under older rules is never reused: raise it whenever the rules change.
RULES_VERSION = 2

#: Road classes (OSM ``highway`` values) with stable codes: ``edge_class`` indexes this.
#: New classes go at the end, so the codes of the others never change.
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
    "steps",
)

#: Travel modes: how one-way streets, ``maxspeed`` and the access keys apply.
MODES = ("motor", "bicycle", "foot")


@dataclass(frozen=True)
class Profile:
    """Who travels: which roads, how fast, which one-way rules, which size.

    ``speeds_kph`` lists the usable road classes with their default speed (used
    when a way has no ``maxspeed``). A motor vehicle with a posted limit drives
    ``maxspeed * maxspeed_factor`` (a posted limit is not an average speed); a
    bicycle rides its class speed unless the limit is lower; on foot the class
    speed always holds. ``maxspeed_keys`` are the limits read (the lowest one
    present counts, e.g. ``maxspeed:hgv`` for a truck). Every speed is capped
    at ``max_speed_kph``. ``mode`` is "motor", "bicycle" or "foot".
    ``access_keys`` are read in order, the first present decides (``goods``
    before ``motor_vehicle`` before ``access``). ``explicit_only`` classes are
    usable only when the way explicitly allows the mode (``bicycle=yes`` on a
    footway). ``weight_t`` and ``height_m`` are the vehicle's laden weight and
    height: a way whose ``maxweight`` (or ``maxweight:hgv`` when
    ``hgv_limits``) is below ``weight_t``, or whose ``maxheight`` /
    ``maxheight:physical`` is below ``height_m``, is not used at all. None: no
    such limit applies. ``access_speed_kph`` is the speed of the off-road gap
    between a location and the road (walking for ``foot``).
    """

    name: str
    mode: str
    speeds_kph: Mapping[str, float]
    max_speed_kph: float
    maxspeed_factor: float = 1.0
    access_keys: tuple[str, ...] = ("access",)
    explicit_only: frozenset[str] = frozenset()
    maxspeed_keys: tuple[str, ...] = ("maxspeed",)
    weight_t: float | None = None
    height_m: float | None = None
    hgv_limits: bool = False
    access_speed_kph: float = 15.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"must be one of {', '.join(MODES)}, got {self.mode!r}", where="mode")
        unknown = sorted(set(self.speeds_kph) - set(ROAD_CLASSES))
        if unknown:
            raise InputError(f"unknown road classes {unknown}", where="speeds_kph")
        for name in ("weight_t", "height_m"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"must be > 0, got {value}", where=name)

    def fingerprint(self) -> str:
        """Stable text of every setting and of the rules version (part of the cache key)."""
        data = {
            "rules": RULES_VERSION,
            "name": self.name,
            "mode": self.mode,
            "speeds_kph": sorted(self.speeds_kph.items()),
            "max_speed_kph": self.max_speed_kph,
            "maxspeed_factor": self.maxspeed_factor,
            "access_keys": list(self.access_keys),
            "explicit_only": sorted(self.explicit_only),
            "maxspeed_keys": list(self.maxspeed_keys),
            "weight_t": self.weight_t,
            "height_m": self.height_m,
            "hgv_limits": self.hgv_limits,
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

# A truck: the car's roads, a little slower where it is free to go fast.
_TRUCK_SPEEDS_KPH: dict[str, float] = {
    **_CAR_SPEEDS_KPH,
    "motorway": 80,
    "trunk": 70,
    "primary": 55,
    "secondary": 45,
    "tertiary": 35,
}

# A cargo bike: about 15 km/h on roads (electric assist stops at 25 km/h, and it
# is heavy); walking pace where it may only be pushed among pedestrians.
_CARGO_BIKE_SPEEDS_KPH: dict[str, float] = {
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

# A bicycle (a courier's, lightly loaded): OSRM's bicycle profile cruises at 15 km/h;
# a courier rides faster, 18 km/h on roads and cycleways.
_BICYCLE_SPEEDS_KPH: dict[str, float] = {
    **{k: 18.0 for k in _CARGO_BIKE_SPEEDS_KPH},
    "living_street": 10,
    "service": 14,
    "road": 14,
    "track": 12,
    "path": 12,
    "pedestrian": 6,
    "footway": 6,
    "bridleway": 6,
}

# On foot: 5 km/h everywhere a pedestrian may walk, steps at 3 km/h (a parcel in
# hand). No motorway, no motor road; trunk roads, cycleways and bridleways only
# where ``foot=yes`` (or designated/permissive) says so.
_FOOT_SPEEDS_KPH: dict[str, float] = {
    **{k: 5.0 for k in ROAD_CLASSES if k not in ("motorway", "motorway_link", "steps")},
    "steps": 3.0,
}

_BIKE_EXPLICIT = frozenset({"pedestrian", "footway", "bridleway", "trunk", "trunk_link"})

PROFILES: dict[str, Profile] = {
    "car": Profile(
        name="car",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=130.0,
        maxspeed_factor=0.8,
        access_keys=("motorcar", "motor_vehicle", "vehicle", "access"),
    ),
    # A delivery van (3.5 t gross, 2.8 m high roof): the car's roads, ``goods``
    # access tags, weight and height limits, and a speed cap.
    "van": Profile(
        name="van",
        mode="motor",
        speeds_kph=_CAR_SPEEDS_KPH,
        max_speed_kph=90.0,
        maxspeed_factor=0.8,
        access_keys=("goods", "motor_vehicle", "vehicle", "access"),
        weight_t=3.5,
        height_m=2.8,
    ),
    # A 7.5 t rigid box truck, 3.5 m high: ``hgv`` access tags, ``maxspeed:hgv``,
    # ``maxweight:hgv``, and ways limited below its weight or height avoided.
    "truck": Profile(
        name="truck",
        mode="motor",
        speeds_kph=_TRUCK_SPEEDS_KPH,
        max_speed_kph=80.0,
        maxspeed_factor=0.8,
        access_keys=("hgv", "goods", "motor_vehicle", "vehicle", "access"),
        maxspeed_keys=("maxspeed", "maxspeed:hgv"),
        weight_t=7.5,
        height_m=3.5,
        hgv_limits=True,
    ),
    "cargo_bike": Profile(
        name="cargo_bike",
        mode="bicycle",
        speeds_kph=_CARGO_BIKE_SPEEDS_KPH,
        max_speed_kph=20.0,
        access_keys=("bicycle", "vehicle", "access"),
        explicit_only=_BIKE_EXPLICIT,
    ),
    "bicycle": Profile(
        name="bicycle",
        mode="bicycle",
        speeds_kph=_BICYCLE_SPEEDS_KPH,
        max_speed_kph=25.0,
        access_keys=("bicycle", "vehicle", "access"),
        explicit_only=_BIKE_EXPLICIT,
    ),
    "foot": Profile(
        name="foot",
        mode="foot",
        speeds_kph=_FOOT_SPEEDS_KPH,
        max_speed_kph=6.0,
        access_keys=("foot", "access"),
        explicit_only=frozenset({"trunk", "trunk_link", "cycleway", "bridleway"}),
        access_speed_kph=5.0,
    ),
}
#: Other names of the profiles: ``bike`` was the only bicycle profile's name.
ALIASES: dict[str, str] = {"bike": "bicycle"}
for _alias, _name in ALIASES.items():
    PROFILES[_alias] = PROFILES[_name]

#: The profile names a vehicle type may give (aliases included), sorted.
PROFILE_NAMES: tuple[str, ...] = tuple(sorted(PROFILES))


def get_profile(profile: str | Profile) -> Profile:
    """The named profile (see ``PROFILE_NAMES``), or ``profile`` itself."""
    if isinstance(profile, Profile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        known = ", ".join(PROFILE_NAMES)
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


_TONNES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(t|kg|lbs|st)?$")
_UNIT_T = {None: 1.0, "t": 1.0, "kg": 0.001, "lbs": 0.000_453_592_37, "st": 0.907_184_74}
_METRES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m)?$")
_FEET_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:'|ft)\s*(?:(\d+(?:\.\d+)?)\s*(?:\"|in)?)?$")


def parse_weight_t(value: str | None) -> float | None:
    """A ``maxweight`` tag in tonnes, or None when it sets no usable number.

    Understands "7.5", "7.5 t", "3500 kg", "8000 lbs" and "10 st" (short tons);
    "none", "unsigned", "default" and anything unknown give None (no limit).
    """
    if value is None:
        return None
    m = _TONNES_RE.match(value.strip().lower())
    if m is None:
        return None
    tonnes = float(m.group(1)) * _UNIT_T[m.group(2)]
    return tonnes if tonnes > 0 else None


def parse_height_m(value: str | None) -> float | None:
    """A ``maxheight`` tag in metres, or None when it sets no usable number.

    Understands "3.5", "3.5 m", "11'6\"", "11 ft 6 in" and "12'"; "none",
    "default", "below_default" and anything unknown give None (no limit).
    """
    if value is None:
        return None
    text = value.strip().lower()
    m = _METRES_RE.match(text)
    if m is not None:
        metres = float(m.group(1))
    else:
        f = _FEET_RE.match(text)
        if f is None:
            return None
        metres = float(f.group(1)) * 0.3048 + float(f.group(2) or 0) * 0.0254
    return metres if metres > 0 else None


def _lowest(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def too_big(tags: Mapping[str, str], profile: Profile) -> bool:
    """Whether a ``maxweight``/``maxheight`` on the way is below the profile's vehicle.

    Read: ``maxweight`` (and ``maxweight:hgv`` when the profile has
    ``hgv_limits``) against ``weight_t``; ``maxheight`` and
    ``maxheight:physical`` against ``height_m``; the lowest limit tagged counts.
    """
    if profile.weight_t is not None:
        keys = ("maxweight", "maxweight:hgv") if profile.hgv_limits else ("maxweight",)
        limit = _lowest([parse_weight_t(tags.get(k)) for k in keys])
        if limit is not None and limit < profile.weight_t:
            return True
    if profile.height_m is not None:
        limit = _lowest([parse_height_m(tags.get(k)) for k in ("maxheight", "maxheight:physical")])
        if limit is not None and limit < profile.height_m:
            return True
    return False


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
        "use_sidepath",
    }
)
_ALLOW_EXPLICIT = frozenset({"yes", "designated", "permissive", "destination", "dismount"})
_YES = frozenset({"yes", "true", "1"})
_NO = frozenset({"no", "false", "0"})


def way_directions(tags: Mapping[str, str], profile: Profile) -> tuple[bool, bool]:
    """Whether ``profile`` may travel a way forwards / backwards (node order).

    Motor vehicles and bicycles follow ``oneway`` (a bicycle also
    ``oneway:bicycle`` and contraflow cycleways); on foot only ``oneway:foot``
    counts. Motor roads (``motorroad=yes``) are closed to bicycles and feet,
    and a way limited below the vehicle's weight or height to everyone bigger.
    """
    highway = tags.get("highway", "")
    if highway not in profile.speeds_kph or tags.get("area") == "yes":
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
    if profile.mode != "motor" and tags.get("motorroad") == "yes":
        return False, False
    if too_big(tags, profile):
        return False, False
    oneway = tags.get("oneway", "")
    if oneway in ("reversible", "alternating") and profile.mode != "foot":
        # Direction changes during the day: not safe to plan on.
        return False, False
    if profile.mode == "foot":
        of = tags.get("oneway:foot", "")
        return (of != "-1", of not in _YES)
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
    out = []
    for direction in ("forward", "backward"):
        posted = None
        if profile.mode != "foot":
            limits = []
            for key in profile.maxspeed_keys:
                one = parse_maxspeed_kph(tags.get(f"{key}:{direction}"))
                limits.append(one if one is not None else parse_maxspeed_kph(tags.get(key)))
            posted = _lowest(limits)
        if posted is None:
            speed = default
        elif profile.mode == "bicycle":
            speed = min(default, posted)
        else:
            speed = posted * profile.maxspeed_factor
        out.append(max(1.0, min(speed, profile.max_speed_kph)))
    return out[0], out[1]
