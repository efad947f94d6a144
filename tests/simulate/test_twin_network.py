"""The twin on a road network (the Monaco extract): positions on the roads, legs
driven as edge paths timed by the time-dependent model, closed roads driven around."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lastmile.domain import Plan
from lastmile.planning import solve
from lastmile.planning.problem import PlanningProblem
from lastmile.simulate import CitySpec, city_day
from lastmile.simulate.truth import Closures, NetworkTruth
from lastmile.simulate.twin import TwinConfig, simulate_day
from lastmile.travel.network import RoadNetwork
from lastmile.travel.noise import TravelNoise
from lastmile.travel.time_dependent import BoundModel, TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

MONACO = Path(__file__).resolve().parents[1] / "data" / "osm" / "monaco.osm.pbf"
EPOCH = dt.datetime(2024, 3, 5)  # a Tuesday


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return RoadNetwork.from_pbf(MONACO, profile="car")


@pytest.fixture(scope="module")
def monaco_day(network: RoadNetwork) -> tuple[PlanningProblem, Plan, BoundModel]:
    city = CitySpec("Monaco", 7.4215, 43.7370, 0.9)
    problem = city_day(n_orders=14, n_vans=2, n_bikes=1, seed=2, city=city, breaks=False)
    model = TimeDependentModel(network, TrafficProfile.default(), epoch=EPOCH)
    bound = model.bind(problem.locations)
    matrix = bound.departure_matrix([9 * 3600] * bound.size)
    problem = dataclasses.replace(problem, matrices={"van": matrix, "bike": matrix})
    plan = solve(problem, time_limit=1.0, seed=0, workers=1)
    return problem, plan, bound


def test_positions_lie_on_the_roads_and_legs_are_edge_paths(
    network: RoadNetwork, monaco_day: tuple[PlanningProblem, Plan, BoundModel]
) -> None:
    problem, plan, bound = monaco_day
    config = TwinConfig(noise=TravelNoise.parse("none"), gps_sigma_m=0.0, ping_every_s=10)
    result = simulate_day(problem, plan, config=config, truth={"van": bound, "bike": bound})
    record = result.record
    assert record.day == EPOCH.date()
    lon = np.array([p.lon for p in record.positions])
    lat = np.array([p.lat for p in record.positions])
    assert len(lon) > 100
    off = network.snap(lon, lat).distance_m
    # On the road, except at the stops and on the short way between a stop and its road.
    assert float(off.max()) <= float(bound.gap_m.max()) + 1.0
    places = np.array([(p.lon, p.lat) for p in problem.locations])
    metres = np.hypot(
        (lon[:, None] - places[None, :, 0]) * 111_320 * np.cos(np.radians(43.74)),
        (lat[:, None] - places[None, :, 1]) * 111_320,
    ).min(axis=1)
    driving = off[metres > bound.gap_m.max() + 1.0]
    assert len(driving) > 50
    assert float(np.median(driving)) < 0.5
    assert float(np.mean(driving < 1.0)) > 0.95

    legs = result.legs
    assert legs
    tail, head = np.asarray(network.edge_tail), np.asarray(network.edge_head)
    model = bound.model
    for leg in legs:
        edges = np.asarray(leg.edges)
        assert tail[edges[0]] == bound.nodes[leg.origin]
        assert head[edges[-1]] == bound.nodes[leg.destination]
        assert (head[edges[:-1]] == tail[edges[1:]]).all()
        # Without noise, the true duration is the time-dependent model's on that path.
        expected = model.path_duration(edges, leg.departure_s)
        assert leg.duration_s == pytest.approx(expected, abs=2.0)
    observed = result.observed_legs()
    assert len(observed) == len(legs)
    assert observed[0].departure.date() == EPOCH.date()


def test_noise_and_weather_show_in_the_observed_legs(
    monaco_day: tuple[PlanningProblem, Plan, BoundModel],
) -> None:
    problem, plan, bound = monaco_day
    config = TwinConfig(noise=TravelNoise.parse("none"), weather="snow", ping_every_s=0)
    result = simulate_day(problem, plan, config=config, truth={"van": bound, "bike": bound})
    ratios = [
        leg.duration_s / bound.model.path_duration(leg.edges, leg.departure_s)
        for leg in result.legs
        if len(leg.edges) > 3
    ]
    assert ratios
    assert all(leg.weather_multiplier == pytest.approx(0.7) for leg in result.legs)
    assert float(np.median(ratios)) == pytest.approx(1 / 0.7, rel=0.02)
    assert not result.record.positions


def test_a_closed_road_is_driven_around(
    monaco_day: tuple[PlanningProblem, Plan, BoundModel],
) -> None:
    problem, _, bound = monaco_day
    truth = NetworkTruth({"van": bound, "bike": bound}, problem.locations)
    van = problem.vehicles[0]
    closures = Closures()
    a, b = 2, 9
    before = truth.leg(van, a, b, 10 * 3600, closures)
    detail = truth.close(van, a, b, 10 * 3600, 11 * 3600, closures)
    assert detail is not None and "closed" in detail
    (blocked, _, _) = closures.edges[0]
    assert before.geometry is not None and not blocked.isdisjoint(before.geometry.edges)
    during = truth.leg(van, a, b, 10 * 3600 + 60, closures)
    after = truth.leg(van, a, b, 11 * 3600 + 60, closures)
    assert during.geometry is not None and blocked.isdisjoint(during.geometry.edges)
    assert during.duration_s >= before.duration_s
    reopened = truth.leg(van, a, b, 11 * 3600 + 60, Closures())
    assert after.geometry is not None and reopened.geometry is not None
    assert after.geometry.edges == reopened.geometry.edges


def test_closed_roads_never_strand_a_leg(
    monaco_day: tuple[PlanningProblem, Plan, BoundModel],
) -> None:
    problem, plan, bound = monaco_day
    config = TwinConfig(road_closures=6, ping_every_s=0, incident_window=(8 * 3600, 16 * 3600))
    for seed in range(3):
        record = simulate_day(
            problem, plan, config=config, seed=seed, truth={"van": bound, "bike": bound}
        ).record
        assert any("closed near" in i.detail for i in record.incidents)
        legs = [s.leg_travel_s for s in record.stops if s.leg_travel_s is not None]
        assert legs and max(legs) < 3600
