"""The command-line options for road networks, traffic and weather build the right model."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pytest

from lastmile.exceptions import InputError
from lastmile.travel import HaversineModel
from lastmile.travel.network_options import (
    add_network_arguments,
    build_travel_model,
    build_travel_models,
    departure_of,
    weather_of,
)
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.weather import Condition, FileWeather, OpenMeteoWeather

MONACO = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_network_arguments(parser)
    return parser.parse_args(argv)


def test_without_a_network_travel_is_straight_line() -> None:
    assert isinstance(build_travel_model(parse()), HaversineModel)


def test_departure_and_weather_options(tmp_path: Path) -> None:
    epoch, depart = departure_of(parse("--depart", "2024-03-05T07:30"))
    assert epoch == dt.datetime(2024, 3, 5) and depart == 7 * 3600 + 1800
    with pytest.raises(InputError, match="--depart"):
        departure_of(parse("--depart", "tomorrow"))
    rainy = weather_of(parse("--weather", "rain+strong_wind"), lon=7.4, lat=43.7)
    when = dt.datetime(2024, 3, 5, 9)
    assert rainy.forecast(start=when, end=when).conditions_at(when) == {
        Condition.RAIN,
        Condition.STRONG_WIND,
    }
    live = weather_of(parse("--weather", "open-meteo"), lon=7.4, lat=43.7)
    assert isinstance(live, OpenMeteoWeather) and live.latitude == 43.7
    path = tmp_path / "w.csv"
    path.write_text("start,end,conditions\n", encoding="utf-8")
    assert isinstance(weather_of(parse("--weather", str(path)), lon=0, lat=0), FileWeather)
    with pytest.raises(InputError, match="no such file"):
        weather_of(parse("--weather", str(tmp_path / "none.csv")), lon=0, lat=0)
    with pytest.raises(InputError, match="unknown condition"):
        weather_of(parse("--weather", "sunshine"), lon=0, lat=0)


def test_network_options_build_a_time_dependent_model(tmp_path: Path) -> None:
    pbf = tmp_path / MONACO.name
    pbf.write_bytes(MONACO.read_bytes())  # the network cache is written beside it
    traffic = tmp_path / "traffic.csv"
    traffic.write_text("day_type,road_class,start,end,factor\n*,*,08:00,09:00,0.5\n")
    args = parse(
        "--network",
        str(pbf),
        "--depart",
        "2024-03-09T08:00",
        "--traffic",
        str(traffic),
        "--weather",
        "snow",
        "--holiday",
        "2024-03-11",
    )
    model = build_travel_model(args)
    assert isinstance(model, TimeDependentModel)
    assert model.epoch == dt.datetime(2024, 3, 9) and model.departure_s == 8 * 3600
    # 0.5 traffic x 0.7 snow on every road at 08:00.
    assert model.speed_multiplier("primary", 8 * 3600 + 60) == pytest.approx(0.35)
    assert dt.date(2024, 3, 11) in model.holidays
    assert "snow" in model.description


def test_each_profile_gets_its_own_network_and_only_motor_traffic_is_slowed(
    tmp_path: Path,
) -> None:
    pbf = tmp_path / MONACO.name
    pbf.write_bytes(MONACO.read_bytes())
    args = parse("--network", str(pbf), "--depart", "2024-03-05T08:00", "--weather", "rain")
    models = build_travel_models(args, ["van", "cargo_bike", "bike", "bicycle", "foot", "van"])
    assert sorted(models) == ["bicycle", "bike", "cargo_bike", "foot", "van"]
    assert models["bike"] is models["bicycle"]
    profiles = {name: m.network.profile for name, m in models.items()}  # type: ignore[attr-defined]
    assert profiles == {
        "van": "van",
        "cargo_bike": "cargo_bike",
        "bike": "bicycle",
        "bicycle": "bicycle",
        "foot": "foot",
    }
    assert models["cargo_bike"].num_edges > models["van"].num_edges
    # Tuesday 08:00: rush hour slows the van on a primary road, not the bike; rain slows both.
    t = 8 * 3600 + 60
    van, bike = models["van"], models["cargo_bike"]
    assert van.speed_multiplier("primary", t) < bike.speed_multiplier("primary", t)
    assert bike.speed_multiplier("primary", t) == pytest.approx(
        bike.speed_multiplier("residential", t)
    )
    assert bike.speed_multiplier("primary", t) < 1.0
    # Walkers cover the gap to the road at walking pace.
    assert models["foot"].access_speed_mps == pytest.approx(5 / 3.6)
    assert van.access_speed_mps == pytest.approx(15 / 3.6)
    assert build_travel_model(args, "cargo_bike").network.profile == "cargo_bike"  # type: ignore[attr-defined]


def test_an_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    pbf = tmp_path / MONACO.name
    pbf.write_bytes(MONACO.read_bytes())
    with pytest.raises(InputError, match="known: bicycle, bike, car, cargo_bike, foot"):
        build_travel_models(parse("--network", str(pbf)), ["van", "hovercraft"])
    with pytest.raises(InputError, match="--network"):
        build_travel_models(parse(), ["van"])
