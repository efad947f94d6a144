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

``build_travel_model(args, profile)`` returns a
:class:`~lastmile.travel.time_dependent.TimeDependentModel` on the road network
of one routing profile (default ``car``) when ``--network`` is given, else the
straight-line :class:`~lastmile.travel.HaversineModel`.
``build_travel_models(args, profiles)`` gives one time-dependent model per
profile name (``car``, ``van``, ``truck``, ``cargo_bike``, ``bicycle``/``bike``,
``foot``), sharing the departure, traffic and weather; a mixed fleet plans with
``solve_time_dependent(problem, {name: model.bind(problem.locations)}, ...)``.

Traffic (``--traffic``) slows motor vehicles only: bicycles and pedestrians
ride and walk at their free-flow speeds whatever the rush hour; weather slows
everyone. Each profile's network, its speeds and its access rules come from
:mod:`lastmile.travel.network.profiles`.

:class:`NetworkSpec` holds the same choices as plain values (it pickles), for
programs that build one model per day from them: the service builds one per
plan day and vehicle profile, and its planning worker builds the same again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lastmile.exceptions import InputError
from lastmile.travel.base import TravelModel
from lastmile.travel.haversine import HaversineModel
from lastmile.travel.network import RoadNetwork, get_profile
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile
from lastmile.travel.weather import (
    FileWeather,
    OpenMeteoWeather,
    StaticWeather,
    WeatherSource,
    WeatherTable,
    WeatherUnavailable,
    parse_conditions,
)

DEFAULT_DEPARTURE = dt.time(8, 0)
OPEN_METEO_URL = "https://api.open-meteo.com"

log = logging.getLogger(__name__)


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
        default=OPEN_METEO_URL,
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
            base_url=getattr(args, "open_meteo_url", OPEN_METEO_URL),
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


@dataclass(frozen=True)
class NetworkSpec:
    """A road network file with its traffic and weather options, as plain values.

    ``traffic`` and ``weather`` take what ``--traffic`` and ``--weather`` take.
    :meth:`check` reads what the options name (the traffic CSV, a weather file
    or condition list) so mistakes show before any model is built.
    """

    network: str
    traffic: str = "default"
    weather: str = "clear"
    open_meteo_url: str = OPEN_METEO_URL
    weather_table: str = ""
    holidays: tuple[dt.date, ...] = ()

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> NetworkSpec:
        table = getattr(args, "weather_table", None)
        return cls(
            network=str(args.network),
            traffic=getattr(args, "traffic", "default") or "default",
            weather=getattr(args, "weather", "clear") or "clear",
            open_meteo_url=getattr(args, "open_meteo_url", OPEN_METEO_URL) or OPEN_METEO_URL,
            weather_table=str(table) if table else "",
            holidays=tuple(holidays_of(args)),
        )

    def _args(self) -> argparse.Namespace:
        return argparse.Namespace(
            traffic=self.traffic, weather=self.weather, open_meteo_url=self.open_meteo_url
        )

    @property
    def time_dependent(self) -> bool:
        """Whether speeds change through the day (traffic, or weather that is not fixed)."""
        return self.traffic != "none" or self.weather == "open-meteo" or self._weather_file

    @property
    def _weather_file(self) -> bool:
        return Path(self.weather).suffix.lower() in (".csv", ".json")

    def check(self) -> TrafficProfile:
        """Read the traffic and weather the options name (not a live forecast); raises
        :class:`~lastmile.exceptions.InputError` naming the option. Returns the traffic."""
        traffic = traffic_of(self._args())
        if self.weather != "open-meteo":
            source = weather_of(self._args(), lon=0.0, lat=0.0)
            now = dt.datetime.now(dt.UTC)
            source.forecast(start=now, end=now + dt.timedelta(hours=1))
        if self.weather_table:
            WeatherTable.from_csv(Path(self.weather_table))
        return traffic

    def load(self, profile: str = "car") -> RoadNetwork:
        """The road network for ``profile`` (from the disk cache beside the file when there)."""
        return RoadNetwork.from_pbf(Path(self.network), profile=profile)

    def model(
        self,
        network: RoadNetwork,
        *,
        epoch: dt.datetime,
        departure_s: int = 0,
        traffic: TrafficProfile | None = None,
        weather_fallback: bool = False,
    ) -> TimeDependentModel:
        """The time-dependent model on ``network`` from ``epoch`` (``traffic``: the
        profile :meth:`check` returned, to skip reading it again).

        With ``weather_fallback`` a forecast service that cannot be reached
        means clear weather (logged) instead of an error.
        """
        lon = float(network.node_lon.mean())
        lat = float(network.node_lat.mean())
        table = WeatherTable.from_csv(Path(self.weather_table)) if self.weather_table else None

        profile = get_profile(network.profile)
        if profile.mode != "motor":  # traffic slows motor vehicles only
            traffic = TrafficProfile.free_flow()

        def build(weather: WeatherSource) -> TimeDependentModel:
            return TimeDependentModel(
                network,
                traffic or traffic_of(self._args()),
                weather,
                epoch=epoch,
                weather_table=table,
                holidays=self.holidays,
                departure_s=departure_s,
                access_speed_kph=profile.access_speed_kph,
            )

        try:
            return build(weather_of(self._args(), lon=lon, lat=lat))
        except WeatherUnavailable as exc:
            if not weather_fallback:
                raise
            log.warning("weather forecast unavailable, planning in clear weather: %s", exc)
            return build(StaticWeather())


def build_travel_model(args: argparse.Namespace, profile: str = "car") -> TravelModel:
    """The travel model the options describe for ``profile`` (see the module docstring)."""
    if not getattr(args, "network", None):
        return HaversineModel()
    return build_travel_models(args, [profile])[profile]


def build_travel_models(
    args: argparse.Namespace, profiles: Iterable[str]
) -> dict[str, TimeDependentModel]:
    """One time-dependent model per profile name, on the ``--network`` extract.

    Names that denote the same profile (``bike`` and ``bicycle``) share one
    model. An unknown name is an :class:`InputError` listing the known ones.
    """

    network_path = getattr(args, "network", None)
    if not network_path:
        raise InputError("a road network is needed for routing profiles", where="--network")
    wanted = {name: get_profile(name) for name in dict.fromkeys(profiles)}
    if not wanted:
        raise InputError("no routing profile asked for", where="profiles")
    epoch, departure_s = departure_of(args)
    table = getattr(args, "weather_table", None)
    weather_table = WeatherTable.from_csv(Path(table)) if table else None
    holidays = holidays_of(args)
    traffic = traffic_of(args)
    weather: WeatherSource | None = None
    by_profile: dict[str, TimeDependentModel] = {}
    models: dict[str, TimeDependentModel] = {}
    for name, profile in wanted.items():
        if profile.name not in by_profile:
            network = RoadNetwork.from_pbf(Path(network_path), profile=profile)
            if weather is None:  # one forecast for every profile, at the area's centre
                lon = float(network.node_lon.mean())
                lat = float(network.node_lat.mean())
                weather = weather_of(args, lon=lon, lat=lat)
            by_profile[profile.name] = TimeDependentModel(
                network,
                traffic if profile.mode == "motor" else TrafficProfile.free_flow(),
                weather,
                epoch=epoch,
                weather_table=weather_table,
                holidays=holidays,
                departure_s=departure_s,
                access_speed_kph=profile.access_speed_kph,
            )
        models[name] = by_profile[profile.name]
    return models
