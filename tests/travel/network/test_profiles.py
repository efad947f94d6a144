"""Routing profiles and OSM tag rules: maxspeed, access, one-way streets, speeds, size limits."""

from __future__ import annotations

import dataclasses

import pytest

from lastmile.exceptions import InputError
from lastmile.travel.network.profiles import (
    PROFILE_NAMES,
    PROFILES,
    RULES_VERSION,
    Profile,
    get_profile,
    parse_height_m,
    parse_maxspeed_kph,
    parse_weight_t,
    way_directions,
    way_speeds_kph,
)

CAR, VAN, TRUCK = PROFILES["car"], PROFILES["van"], PROFILES["truck"]
BIKE, BICYCLE, FOOT = PROFILES["cargo_bike"], PROFILES["bicycle"], PROFILES["foot"]


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
        # Bicycles: cycleways yes, motorways and motor roads never.
        ({"highway": "cycleway"}, BICYCLE, (True, True)),
        ({"highway": "motorway"}, BICYCLE, (False, False)),
        ({"highway": "motorway_link", "bicycle": "yes"}, BIKE, (False, False)),
        ({"highway": "primary", "motorroad": "yes"}, BICYCLE, (False, False)),
        ({"highway": "primary", "motorroad": "yes"}, VAN, (True, True)),
        ({"highway": "cycleway", "bicycle": "use_sidepath"}, BICYCLE, (False, False)),
        ({"highway": "steps"}, BICYCLE, (False, False)),
        # On foot: footways, pedestrian streets, paths and steps both ways whatever
        # ``oneway`` says; only ``oneway:foot`` counts.
        ({"highway": "footway"}, FOOT, (True, True)),
        ({"highway": "pedestrian"}, FOOT, (True, True)),
        ({"highway": "steps"}, FOOT, (True, True)),
        ({"highway": "path"}, FOOT, (True, True)),
        ({"highway": "residential", "oneway": "yes"}, FOOT, (True, True)),
        ({"highway": "primary", "junction": "roundabout"}, FOOT, (True, True)),
        ({"highway": "footway", "oneway:foot": "yes"}, FOOT, (True, False)),
        ({"highway": "footway", "oneway:foot": "-1"}, FOOT, (False, True)),
        ({"highway": "motorway"}, FOOT, (False, False)),
        ({"highway": "motorway", "foot": "yes"}, FOOT, (False, False)),
        ({"highway": "primary", "foot": "no"}, FOOT, (False, False)),
        ({"highway": "primary", "motorroad": "yes"}, FOOT, (False, False)),
        ({"highway": "trunk"}, FOOT, (False, False)),
        ({"highway": "trunk", "foot": "yes"}, FOOT, (True, True)),
        ({"highway": "cycleway"}, FOOT, (False, False)),
        ({"highway": "cycleway", "foot": "designated"}, FOOT, (True, True)),
        ({"highway": "footway", "access": "private"}, FOOT, (False, False)),
        # A truck: ``hgv`` decides before ``goods``; no footways or cycleways.
        ({"highway": "residential", "hgv": "no"}, TRUCK, (False, False)),
        ({"highway": "residential", "hgv": "no"}, VAN, (True, True)),
        ({"highway": "service", "hgv": "yes", "access": "private"}, TRUCK, (True, True)),
        ({"highway": "cycleway"}, TRUCK, (False, False)),
        # Weight and height limits below the vehicle close the way to it.
        ({"highway": "service", "maxheight": "3.2"}, TRUCK, (False, False)),
        ({"highway": "service", "maxheight": "3.2"}, VAN, (True, True)),
        ({"highway": "service", "maxheight": "3.5"}, TRUCK, (True, True)),
        ({"highway": "service", "maxheight": "2.5"}, VAN, (False, False)),
        ({"highway": "service", "maxheight": "2.5"}, CAR, (True, True)),
        ({"highway": "service", "maxheight": "2.5"}, BICYCLE, (True, True)),
        ({"highway": "service", "maxheight:physical": "3.1"}, TRUCK, (False, False)),
        ({"highway": "service", "maxheight": "11'6\""}, TRUCK, (True, True)),
        ({"highway": "service", "maxheight": "10'"}, TRUCK, (False, False)),
        ({"highway": "service", "maxheight": "default"}, TRUCK, (True, True)),
        ({"highway": "residential", "maxweight": "3.5"}, TRUCK, (False, False)),
        ({"highway": "residential", "maxweight": "3.5"}, VAN, (True, True)),
        ({"highway": "residential", "maxweight": "3000 kg"}, VAN, (False, False)),
        ({"highway": "residential", "maxweight": "10"}, TRUCK, (True, True)),
        ({"highway": "residential", "maxweight:hgv": "7"}, TRUCK, (False, False)),
        ({"highway": "residential", "maxweight:hgv": "7"}, VAN, (True, True)),
        ({"highway": "residential", "maxweight": "none"}, TRUCK, (True, True)),
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


def test_speeds_per_mode() -> None:
    # A bicycle rides faster than a cargo bike; both only slower than a posted limit.
    assert way_speeds_kph({"highway": "cycleway"}, BICYCLE)[0] == 18.0
    assert way_speeds_kph({"highway": "cycleway"}, BIKE)[0] == 16.0
    assert way_speeds_kph({"highway": "residential", "maxspeed": "10"}, BICYCLE)[0] == 10.0
    # On foot the posted limit does not matter; steps are slower.
    assert way_speeds_kph({"highway": "primary", "maxspeed": "50"}, FOOT) == (5.0, 5.0)
    assert way_speeds_kph({"highway": "steps"}, FOOT) == (3.0, 3.0)
    # A truck: its own class speeds, capped at 80, and the lower of maxspeed / maxspeed:hgv.
    assert way_speeds_kph({"highway": "motorway"}, TRUCK)[0] == 80.0
    assert way_speeds_kph({"highway": "motorway", "maxspeed": "130"}, TRUCK)[0] == 80.0
    fwd, _ = way_speeds_kph({"highway": "primary", "maxspeed": "90", "maxspeed:hgv": "60"}, TRUCK)
    assert fwd == pytest.approx(48.0)
    assert way_speeds_kph({"highway": "primary", "maxspeed:hgv": "60"}, CAR)[0] == 65.0
    # Every profile is slower than the car on an open road, the car fastest.
    open_road = {"highway": "primary"}
    speeds = {n: way_speeds_kph(open_road, PROFILES[n])[0] for n in ("car", "truck", "foot")}
    assert speeds["car"] > speeds["truck"] > way_speeds_kph(open_road, BICYCLE)[0] > speeds["foot"]


@pytest.mark.parametrize(
    ("tag", "tonnes"),
    [
        ("7.5", 7.5),
        ("3.5 t", 3.5),
        ("12t", 12.0),
        ("3500 kg", 3.5),
        ("10 st", 9.0718474),
        ("8000 lbs", 3.62873896),
        ("none", None),
        ("unsigned", None),
        ("0", None),
        (None, None),
    ],
)
def test_maxweight_parsing(tag: str | None, tonnes: float | None) -> None:
    got = parse_weight_t(tag)
    assert got == (None if tonnes is None else pytest.approx(tonnes))


@pytest.mark.parametrize(
    ("tag", "metres"),
    [
        ("3.5", 3.5),
        ("2.2 m", 2.2),
        ("11'6\"", 3.5052),
        ("12'", 3.6576),
        ("11 ft 6 in", 3.5052),
        ("default", None),
        ("below_default", None),
        ("none", None),
        (None, None),
    ],
)
def test_maxheight_parsing(tag: str | None, metres: float | None) -> None:
    got = parse_height_m(tag)
    assert got == (None if metres is None else pytest.approx(metres))


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(InputError) as caught:
        get_profile("hovercraft")
    assert caught.value.where == "profile"
    assert "known: bicycle, bike, car, cargo_bike, foot, truck, van" in str(caught.value)
    assert PROFILE_NAMES == ("bicycle", "bike", "car", "cargo_bike", "foot", "truck", "van")
    assert get_profile("cargo_bike") is BIKE
    # ``bike`` stays a name of the bicycle profile.
    assert get_profile("bike") is get_profile("bicycle") is BICYCLE
    assert get_profile(TRUCK) is TRUCK
    for name in PROFILE_NAMES:
        assert get_profile(name).name in ("car", "van", "truck", "cargo_bike", "bicycle", "foot")


def test_fingerprint_holds_the_rules_version_and_every_setting() -> None:
    assert f'"rules": {RULES_VERSION}' in TRUCK.fingerprint()
    prints = {p.fingerprint() for p in PROFILES.values()}
    assert len(prints) == 6  # bike and bicycle are one profile
    taller = dataclasses.replace(TRUCK, height_m=4.0)
    assert taller.fingerprint() != TRUCK.fingerprint()


def test_a_profile_checks_its_settings() -> None:
    with pytest.raises(InputError, match="mode"):
        Profile("boat", "sail", {"residential": 5.0}, 10.0)
    with pytest.raises(InputError, match="unknown road classes"):
        Profile("boat", "foot", {"canal": 5.0}, 10.0)
    with pytest.raises(InputError, match="height_m"):
        dataclasses.replace(TRUCK, height_m=0.0)
