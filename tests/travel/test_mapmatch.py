"""Map matching on the Monaco extract: known paths driven at known speeds, pinged with
GPS noise, recovered edge by edge; legs cut at stop events with their true durations;
a fit on matched legs that predicts held-out legs better than the prior."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lastmile.domain import VisitKind
from lastmile.domain.day import DayRecord, Position, RouteOutcome, StopOutcome, StopStatus
from lastmile.exceptions import InputError
from lastmile.travel.learning import learn_traffic, profile_error
from lastmile.travel.mapmatch import (
    MapMatcher,
    Ping,
    StopEvent,
    drive_positions,
    edge_accuracy,
    legs_between_stops,
    read_events_csv,
    read_pings_csv,
    simulate_day,
    traces_of_day,
    write_events_csv,
    write_pings_csv,
)
from lastmile.travel.network import RoadNetwork
from lastmile.travel.synthetic import grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

from .road_helpers import MONACO  # type: ignore[import-not-found]

TUESDAY = dt.datetime(2024, 3, 5)


@pytest.fixture(scope="module")
def monaco() -> RoadNetwork:
    return RoadNetwork.from_pbf(MONACO, profile="car")


@pytest.fixture(scope="module")
def model(monaco: RoadNetwork) -> TimeDependentModel:
    return TimeDependentModel(monaco, TrafficProfile.default(), epoch=TUESDAY)


@pytest.fixture(scope="module")
def matcher(monaco: RoadNetwork) -> MapMatcher:
    return MapMatcher(monaco)


def trips(model: TimeDependentModel, n: int, seed: int) -> list[tuple[list[int], float]]:
    """``n`` fastest paths between random nodes at least 800 m apart, leaving at 08:00-17:00."""
    rng = np.random.default_rng(seed)
    nodes = model._largest_component()
    out: list[tuple[list[int], float]] = []
    while len(out) < n:
        a, b = (int(x) for x in rng.choice(nodes, size=2, replace=False))
        depart = float(rng.uniform(8, 17) * 3600)
        edges, _ = model.fastest_path(a, b, depart)
        if model._length[edges].sum() >= 800:
            out.append((edges, depart))
    return out


def pinged(
    model: TimeDependentModel,
    edges: list[int],
    depart: float,
    interval: float,
    noise: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    _, _, arrival = drive_positions(model, edges, depart, np.array([depart]))
    times = np.append(np.arange(depart, arrival, interval), arrival)
    lon, lat, _ = drive_positions(model, edges, depart, times)
    lat0 = np.radians(lat.mean())
    lon = lon + rng.normal(0, noise, len(times)) / (111_195.0 * np.cos(lat0))
    lat = lat + rng.normal(0, noise, len(times)) / 111_195.0
    return times, lon, lat


def test_the_matcher_recovers_known_paths_from_noisy_pings(
    model: TimeDependentModel, matcher: MapMatcher
) -> None:
    """10 m of GPS noise per axis, a ping every 10 s (50-150 m apart in town).

    Threshold: a matcher that snaps each ping to its nearest road and joins the
    snapped points by shortest paths (``max_candidates=1``) gets 0.53 on average
    on these 8 trips (0.24 at worst: the wrong direction of a two-way street, a
    parallel ramp); the HMM gets 0.95 (0.80 at worst, on a trip through a dense
    interchange). 0.85 on average and 0.7 at worst leave room for other seeds
    and still fail a matcher whose transitions do not work."""
    scores = []
    nearest_only = MapMatcher(model.network, max_candidates=1)
    naive = []
    for k, (edges, depart) in enumerate(trips(model, 8, seed=3)):
        t, lon, lat = pinged(model, edges, depart, 10.0, 10.0, seed=k)
        result = matcher.match(t, lon, lat)
        assert len(result.segments) == 1
        scores.append(edge_accuracy(result.segments[0].edges, edges))
        crude = nearest_only.match(t, lon, lat)
        naive.append(
            np.mean([edge_accuracy(s.edges, edges) for s in crude.segments])
            if crude.segments
            else 0
        )
        assert 3 < result.sigma_m < 20  # estimated from the trace (true 10 m per axis)
    assert np.mean(scores) >= 0.85 and min(scores) >= 0.7
    assert np.mean(scores) > np.mean(naive) + 0.2


def test_exact_pings_give_the_exact_path(model: TimeDependentModel, matcher: MapMatcher) -> None:
    for k, (edges, depart) in enumerate(trips(model, 3, seed=11)):
        t, lon, lat = pinged(model, edges, depart, 5.0, 0.0, seed=k)
        seg = matcher.match(t, lon, lat).segments
        assert len(seg) == 1
        assert edge_accuracy(seg[0].edges, edges) >= 0.95
        assert (np.diff(seg[0].ping_offset_m) >= 0).all()


def test_a_jump_breaks_the_trace(model: TimeDependentModel, matcher: MapMatcher) -> None:
    (e1, d1), (e2, _) = trips(model, 2, seed=5)
    t1, lon1, lat1 = pinged(model, e1, d1, 5.0, 3.0, seed=1)
    t2, lon2, lat2 = pinged(model, e2, d1, 5.0, 3.0, seed=2)
    # The second trip "starts" 5 s after the first ends, wherever it is: not drivable.
    t = np.concatenate([t1, t2 - t2[0] + t1[-1] + 5.0])
    far = np.hypot(lon2[0] - lon1[-1], lat2[0] - lat1[-1]) * 80_000
    if far < 300:
        pytest.skip("the random trips happen to join up")
    result = matcher.match(t, np.concatenate([lon1, lon2]), np.concatenate([lat1, lat2]))
    assert len(result.segments) == 2
    assert edge_accuracy(result.segments[0].edges, e1) >= 0.8
    assert edge_accuracy(result.segments[1].edges, e2) >= 0.8


def test_legs_between_stop_events_have_their_true_durations(
    model: TimeDependentModel, matcher: MapMatcher
) -> None:
    nodes = model._largest_component()
    stops = [int(x) for x in np.random.default_rng(7).choice(nodes, size=6, replace=False)]
    day = simulate_day(model, stops, depart_s=8 * 3600, interval_s=5.0, noise_m=5.0, seed=1)
    report = legs_between_stops(matcher, day.pings, day.events)
    assert len(report.legs) == len(day.legs) == 5
    assert report.broken == report.too_few_pings == report.unpaired_events == 0
    for leg, (edges, departed, duration) in zip(report.legs, day.legs, strict=True):
        assert leg.departed == departed
        assert leg.duration_s == pytest.approx(duration, abs=1e-3)
        assert edge_accuracy(leg.edges, edges) >= 0.8
        obs = leg.observed
        assert obs is not None and set(obs.edges) <= set(leg.edges)
        # The whole edges' own time under the true speeds, from when the leg says it
        # entered them: the interpolation between 5-s pings is off by seconds only.
        start = (obs.departure - TUESDAY).total_seconds()
        true = model.path_duration(list(obs.edges), start)
        assert obs.duration_s == pytest.approx(true, abs=max(8.0, 0.1 * true))
        assert obs.duration_s <= leg.duration_s + 1e-6


def test_learning_from_matched_days_lowers_the_error() -> None:
    """Vans drive a grid town whose streets are slower than the prior says; legs matched
    from their pings teach a profile that predicts held-out legs better."""
    net = grid_network(rows=12, cols=12, seed=2)
    prior = TrafficProfile.default()
    factors = np.array(prior.factors)
    factors[:, prior.class_index("residential"), :] *= 0.7
    factors[:, prior.class_index("primary"), 28:40] *= 0.8
    truth = TrafficProfile(road_classes=prior.road_classes, factors=factors)
    matcher = MapMatcher(net)
    rng = np.random.default_rng(0)
    pings: list[Ping] = []
    events: list[StopEvent] = []
    for d in range(3):
        epoch = TUESDAY + dt.timedelta(days=d)
        day_model = TimeDependentModel(net, truth, epoch=epoch)
        for v in range(4):
            stops = [int(x) for x in rng.choice(net.num_nodes, size=12, replace=False)]
            sim = simulate_day(
                day_model,
                stops,
                vehicle=f"d{d}v{v}",
                depart_s=7.5 * 3600,
                interval_s=15.0,
                noise_m=10.0,
                seed=10 * d + v,
            )
            pings.extend(sim.pings)
            events.extend(sim.events)
    report = legs_between_stops(matcher, pings, events)
    legs = report.observed
    assert len(legs) >= 35
    learned = learn_traffic(net, legs, prior=prior, holdout_share=0.25, seed=1)
    assert learned.before is not None and learned.after is not None
    assert learned.after.median_abs_s < 0.5 * learned.before.median_abs_s
    assert learned.improved and learned.fit.cells_with_data > 0
    seen = learned.fit.weight > 1.0  # cells with a leg's worth of data or more
    assert seen.any()
    assert profile_error(learned.profile, truth, mask=seen) < 0.5 * profile_error(
        prior, truth, mask=seen
    )
    assert any("error after" in line for line in learned.lines())


def test_trace_files_round_trip_and_bad_rows_are_named(tmp_path: Path) -> None:
    when = dt.datetime(2024, 3, 5, 8, 0)
    pings = [
        Ping("v1", when + dt.timedelta(seconds=5 * k), 7.42 + k * 1e-4, 43.73) for k in range(3)
    ]
    events = [StopEvent("v1", when, "departed", "a"), StopEvent("v1", when, "arrived", "b")]
    write_pings_csv(tmp_path / "p.csv", pings)
    write_events_csv(tmp_path / "e.csv", events)
    assert read_pings_csv(tmp_path / "p.csv") == pings
    assert read_events_csv(tmp_path / "e.csv") == events
    aware = tmp_path / "aware.csv"
    aware.write_text("vehicle,time,lon,lat\nv1,2024-03-05T07:00:00+00:00,7.42,43.73\n")
    got = read_pings_csv(aware, timezone=dt.timezone(dt.timedelta(hours=1)))
    assert got[0].t == dt.datetime(2024, 3, 5, 8, 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("vehicle,time,lon,lat\nv1,2024-03-05T08:00,7.42,north\n")
    with pytest.raises(InputError, match=r"bad\.csv:2"):
        read_pings_csv(bad)
    bad.write_text("vehicle,time,kind\nv1,2024-03-05T08:00,parked\n")
    with pytest.raises(InputError, match=r"bad\.csv:2 column kind: unknown kind"):
        read_events_csv(bad)
    bad.write_text("vehicle,when,lon,lat\n")
    with pytest.raises(InputError, match="missing column"):
        read_pings_csv(bad)
    with pytest.raises(InputError, match="ping 2"):
        MapMatcher(grid_network(rows=3, cols=3)).match([0, 5, 4], [7.42] * 3, [43.735] * 3)


def test_a_day_record_gives_the_same_legs_as_its_events() -> None:
    """The twin's (or the service's) DayRecord: positions and stop outcomes become pings
    and stop events, so a simulated day is learned from like a tracked one."""
    net = grid_network(rows=8, cols=8, seed=1)
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=TUESDAY)
    stops = [0, 20, 45, 63, 7]
    sim = simulate_day(model, stops, vehicle="van", interval_s=10.0, noise_m=5.0, seed=3)
    secs = [int((p.t - TUESDAY).total_seconds()) for p in sim.pings]
    arrivals = [int((e.t - TUESDAY).total_seconds()) for e in sim.events if e.is_arrival]
    departures = [int((e.t - TUESDAY).total_seconds()) for e in sim.events if e.is_departure]
    outcomes = tuple(
        StopOutcome(
            order_id=f"o{k}",
            vehicle_id="van",
            kind=VisitKind.DELIVERY,
            status=StopStatus.DONE,
            planned_arrival=a,
            planned_start=a,
            planned_departure=a + 180,
            arrival=a,
            start=a,
            departure=departures[k + 1] if k + 1 < len(departures) else a + 180,
        )
        for k, a in enumerate(arrivals)
    )
    route = RouteOutcome("van", departures[0], arrivals[-1], 0, 0, actual_start=departures[0])
    record = DayRecord(
        day=TUESDAY.date(),
        timezone="Europe/Monaco",
        routes=(route,),
        stops=outcomes,
        positions=tuple(
            Position("van", t, p.lon, p.lat) for t, p in zip(secs, sim.pings, strict=True)
        ),
    )
    pings, events = traces_of_day(record)
    matcher = MapMatcher(net)
    from_record = legs_between_stops(matcher, pings, events)
    from_sim = legs_between_stops(matcher, sim.pings, sim.events)
    assert len(from_record.legs) == len(from_sim.legs) == len(stops) - 1
    for a, b in zip(from_record.legs, from_sim.legs, strict=True):
        assert abs(a.duration_s - b.duration_s) <= 1.0  # the record keeps whole seconds
        assert a.edges == b.edges
