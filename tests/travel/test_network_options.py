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
