"""Command-line glue: road network, departure, traffic and weather options -> a travel model.

``add_network_arguments(parser)`` adds::

    --network PATH.osm.pbf     plan on this road network (coordinates required)
    --depart YYYY-MM-DDTHH:MM  the plan's day and default departure (default: today 08:00);
                               problem times are seconds since that day's midnight
    --traffic default|none|PATH.csv   speed factors per road class and 15-min slice
    --weather clear|CONDITIONS|open-meteo|PATH.csv|PATH.json
    --weather-table PATH.csv   condition,multiplier overrides
    --open-meteo-url URL       forecast service (default: Open-Meteo's public API)
    --holiday YYYY-MM-DD       a public holiday (weekend traffic); repeatable

``build_travel_model(args)`` returns a
:class:`~lastmile.travel.time_dependent.TimeDependentModel` when ``--network`` is
given, else the straight-line :class:`~lastmile.travel.HaversineModel`. A
time-dependent model plans with
``solve_time_dependent(problem, model.bind(problem.locations), ...)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from lastmile.exceptions import InputError
from lastmile.travel.base import TravelModel
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import (
    FileWeather,
    OpenMeteoWeather,
    StaticWeather,
    WeatherSource,
    WeatherTable,
    parse_conditions,
)

DEFAULT_DEPARTURE = dt.time(8, 0)


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the road network, departure, traffic and weather options to ``parser``."""
    group = parser.add_argument_group("road network, traffic and weather")
    group.add_argument(
        "--network", metavar="PATH.osm.pbf", help="plan on this OpenStreetMap road network"
    )
    group.add_argument(
        "--depart",
        metavar="YYYY-MM-DDTHH:MM",
        help="day of the plan and default departure (default: today 08:00); "
        "problem times count from that day's midnight",
    )
    group.add_argument(
        "--traffic",
        default="default",
        metavar="default|none|PATH.csv",
        help="speed factors per road class and time slice (default: built-in rush hours)",
    )
    group.add_argument(
        "--weather",
        default="clear",
        metavar="clear|CONDITIONS|open-meteo|PATH",
        help="e.g. rain+strong_wind, a CSV/JSON file of periods, or the live forecast",
    )
    group.add_argument("--weather-table", metavar="PATH.csv", help="condition,multiplier rows")
    group.add_argument(
        "--open-meteo-url",
        default="https://api.open-meteo.com",
        metavar="URL",
        help="forecast service for --weather open-meteo",
    )
    group.add_argument(
        "--holiday",
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help="a public holiday: weekend traffic (repeatable)",
    )


def departure_of(args: argparse.Namespace) -> tuple[dt.datetime, int]:
    """(epoch = midnight of the plan's day, default departure in seconds since it)."""
    text = getattr(args, "depart", None)
    if not text:
        when = dt.datetime.combine(dt.date.today(), DEFAULT_DEPARTURE)
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"expected YYYY-MM-DDTHH:MM, got {text!r}", where="--depart") from None
    epoch = when.replace(hour=0, minute=0, second=0, microsecond=0)
    return epoch, int((when - epoch).total_seconds())


def traffic_of(args: argparse.Namespace) -> TrafficProfile:
    choice = getattr(args, "traffic", "default") or "default"
    if choice == "default":
        return TrafficProfile.default()
    if choice == "none":
        return TrafficProfile.free_flow()
    return TrafficProfile.from_csv(Path(choice))


def weather_of(args: argparse.Namespace, *, lon: float, lat: float) -> WeatherSource:
    """The weather source ``--weather`` names; ``lon``/``lat`` place a live forecast."""
    choice = getattr(args, "weather", "clear") or "clear"
    if choice == "open-meteo":
        return OpenMeteoWeather(
            latitude=lat,
            longitude=lon,
            base_url=getattr(args, "open_meteo_url", "https://api.open-meteo.com"),
        )
    if Path(choice).suffix.lower() in (".csv", ".json"):
        if not Path(choice).is_file():
            raise InputError("no such file", where=f"--weather {choice}")
        return FileWeather(Path(choice))
    return StaticWeather(parse_conditions(choice, where="--weather"))


def holidays_of(args: argparse.Namespace) -> list[dt.date]:
    days = []
    for text in getattr(args, "holiday", []) or []:
        try:
            days.append(dt.date.fromisoformat(text))
        except ValueError:
            raise InputError(f"expected YYYY-MM-DD, got {text!r}", where="--holiday") from None
    return days


def build_travel_model(args: argparse.Namespace) -> TravelModel:
    """The travel model the options describe (see the module docstring)."""
    network_path = getattr(args, "network", None)
    if not network_path:
        return HaversineModel()
    from lastmile.travel.network import RoadNetwork

    network = RoadNetwork.from_pbf(Path(network_path))
    epoch, departure_s = departure_of(args)
    lon = float(network.node_lon.mean())
    lat = float(network.node_lat.mean())
    table = getattr(args, "weather_table", None)
    return TimeDependentModel(
        network,
        traffic_of(args),
        weather_of(args, lon=lon, lat=lat),
        epoch=epoch,
        weather_table=WeatherTable.from_csv(Path(table)) if table else None,
        holidays=holidays_of(args),
        departure_s=departure_s,
    )
