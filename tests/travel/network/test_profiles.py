"""Routing profiles and OSM tag rules: maxspeed, access, one-way streets, speeds."""

from __future__ import annotations

import pytest

from lastmile.exceptions import InputError
from lastmile.travel.network.profiles import (
    PROFILES,
    get_profile,
    parse_maxspeed_kph,
    way_directions,
    way_speeds_kph,
)

CAR, VAN, BIKE = PROFILES["car"], PROFILES["van"], PROFILES["bike"]


@pytest.mark.parametrize(
    ("tag", "kph"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("50 mph", 50 * 1.609344),
        ("30mph", 30 * 1.609344),
        ("10 knots", 18.52),
        ("walk", 6.0),
        ("FR:urban", 50.0),
        ("DE:rural", 90.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("50;30", 30.0),
        ("none", None),
        ("signals", None),
        ("variable", None),
        ("fast", None),
        ("0", None),
        (None, None),
    ],
)
def test_maxspeed_parsing(tag: str | None, kph: float | None) -> None:
    got = parse_maxspeed_kph(tag)
    if kph is None:
        assert got is None
    else:
        assert got == pytest.approx(kph)


@pytest.mark.parametrize(
    ("tags", "profile", "expected"),
    [
        ({"highway": "residential"}, CAR, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, CAR, (True, False)),
        ({"highway": "residential", "oneway": "-1"}, CAR, (False, True)),
        ({"highway": "residential", "oneway": "no"}, CAR, (True, True)),
        ({"highway": "primary", "junction": "roundabout"}, CAR, (True, False)),
        ({"highway": "motorway"}, CAR, (True, False)),
        ({"highway": "motorway", "oneway": "no"}, CAR, (True, True)),
        ({"highway": "residential", "oneway": "reversible"}, CAR, (False, False)),
        ({"highway": "residential", "access": "private"}, CAR, (False, False)),
        ({"highway": "residential", "access": "no", "motor_vehicle": "yes"}, CAR, (True, True)),
        ({"highway": "residential", "access": "destination"}, CAR, (True, True)),
        ({"highway": "residential", "goods": "no"}, VAN, (False, False)),
        ({"highway": "residential", "goods": "no"}, CAR, (True, True)),
        ({"highway": "footway"}, CAR, (False, False)),
        ({"highway": "footway"}, BIKE, (False, False)),
        ({"highway": "footway", "bicycle": "yes"}, BIKE, (True, True)),
        ({"highway": "cycleway"}, BIKE, (True, True)),
        ({"highway": "cycleway"}, CAR, (False, False)),
        ({"highway": "motorway"}, BIKE, (False, False)),
        ({"highway": "residential", "oneway": "yes"}, BIKE, (True, False)),
        ({"highway": "residential", "oneway": "yes", "oneway:bicycle": "no"}, BIKE, (True, True)),
        (
            {"highway": "residential", "oneway": "yes", "cycleway": "opposite_lane"},
            BIKE,
            (True, True),
        ),
        ({"highway": "residential", "bicycle": "no"}, BIKE, (False, False)),
        ({"highway": "residential", "area": "yes"}, CAR, (False, False)),
    ],
)
def test_way_directions(tags: dict[str, str], profile: object, expected: tuple[bool, bool]) -> None:
    assert way_directions(tags, profile) == expected  # type: ignore[arg-type]


def test_way_speeds_use_maxspeed_class_defaults_and_caps() -> None:
    assert way_speeds_kph({"highway": "residential"}, CAR) == (25.0, 25.0)
    assert way_speeds_kph({"highway": "primary", "maxspeed": "50"}, CAR) == (40.0, 40.0)
    fwd, bwd = way_speeds_kph(
        {"highway": "primary", "maxspeed": "50", "maxspeed:backward": "30 mph"}, CAR
    )
    assert fwd == pytest.approx(40.0)
    assert bwd == pytest.approx(30 * 1.609344 * 0.8)
    # 130 km/h posted counts 104 for a car, but a van is capped at 90.
    assert way_speeds_kph({"highway": "motorway", "maxspeed": "130"}, CAR)[0] == pytest.approx(104)
    assert way_speeds_kph({"highway": "motorway", "maxspeed": "130"}, VAN)[0] == 90.0
    # A cargo bike rides its own speed unless the limit is lower.
    assert way_speeds_kph({"highway": "primary", "maxspeed": "50"}, BIKE)[0] == 15.0
    assert way_speeds_kph({"highway": "living_street", "maxspeed": "walk"}, BIKE)[0] == 6.0


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(InputError, match="bike"):
        get_profile("truck")
    assert get_profile("cargo_bike") is BIKE
