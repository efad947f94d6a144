"""Robust plans: buffers sized from the noise model, timed and checked on true travel times."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from lastmile.domain import (
    Depot,
    Order,
    OrderKind,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleType,
    VisitKind,
)
from lastmile.exceptions import InputError
from lastmile.planning import PlanningProblem, solve
from lastmile.planning.robust import (
    BufferRule,
    Robustness,
    buffered_problem,
    leg_sigmas,
    noise_text,
    simulate_on_time,
)
from lastmile.planning.solve_time_dependent import solve_time_dependent
from lastmile.planning.validate import validate
from lastmile.simulate.scenario import city_day
from lastmile.travel.noise import TravelNoise
from lastmile.travel.synthetic import grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

H = 3600


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    """A small day with tight windows: 24 orders, 3 vans, no bikes."""
    return city_day(n_orders=24, n_vans=3, n_bikes=0, seed=11)


@pytest.fixture(scope="module")
def plans(day):  # type: ignore[no-untyped-def]
    robust = Robustness(on_time=0.9)
    plain = solve(day, engine="vroom", time_limit=1.0, workers=1)
    sturdy = solve(day, engine="vroom", time_limit=1.0, workers=1, robust=robust)
    return robust, plain, sturdy


def test_sigmas_follow_the_noise_model() -> None:
    noise = TravelNoise(sigma=0.3, max_sigma=0.5)
    legs = np.array([0.0, 30.0, 300.0, 600.0, 1800.0, 7200.0])
    for clock in (3 * H, 8 * H, 12 * H, 17 * H, 32 * H):
        got = leg_sigmas(noise, legs, np.full(legs.shape, float(clock)))
        want = [noise.sigma_of(float(d), clock) for d in legs]
        assert got == pytest.approx(want)


@pytest.mark.parametrize("distribution", ["lognormal", "gamma"])
@pytest.mark.parametrize("clock", [11 * H, 8 * H])
def test_buffers_cover_the_quantile_of_a_drive_of_many_legs(distribution: str, clock: int) -> None:
    """Drives of 1 to 30 legs: the depot buffer plus the legs' buffers reach the
    on-time quantile of the noisy drive (sampled here, independently of the rule)."""
    noise = TravelNoise(distribution=distribution)
    robust = Robustness(on_time=0.9, noise=noise)
    rule = BufferRule.of(robust)
    rng = np.random.default_rng(5)
    # Gamma draws are slow (a quantile per draw): fewer of them.
    runs = 2000 if distribution == "lognormal" else 800
    for n in (1, 3, 10, 30):
        legs = rng.uniform(60, 900, size=n)
        clocks = np.full(n, float(clock))
        slack = rule.depot_s + rule.legs(legs, clocks).sum()
        draws = np.array(
            [sum(d * noise.sample(rng, d, clock) for d in legs) for _ in range(runs // n + 100)]
        )
        on_time = float((draws <= legs.sum() + slack).mean())
        # Within sampling error (and the skew of one or two busy legs) of the target.
        assert on_time >= 0.9 - 0.03, (n, on_time)
    # Busy hours widen the spread: the same legs get larger buffers at 08:00 than at 11:00.
    legs = np.array([300.0, 600.0])
    assert (rule.legs(legs, np.full(2, 8.0 * H)) > rule.legs(legs, np.full(2, 11.0 * H))).all()


def test_without_noise_the_robust_plan_is_the_plain_plan(day) -> None:  # type: ignore[no-untyped-def]
    calm = Robustness(on_time=0.95, noise=TravelNoise.parse("none"))
    assert not calm.active and buffered_problem(day, calm) is day
    plain = solve(day, engine="vroom", time_limit=1.0, workers=1)
    same = solve(day, engine="vroom", time_limit=1.0, workers=1, robust=calm)
    assert validate(day, same).ok
    assert same.routes == plain.routes and same.unassigned == plain.unassigned


def test_robust_plan_validates_on_the_original_times(day, plans) -> None:  # type: ignore[no-untyped-def]
    _, plain, sturdy = plans
    report = validate(day, sturdy)
    assert report.ok, report.violations[:3]
    served = {v.order_id for r in sturdy.routes for v in r.tasks}
    listed = {u.order_id for u in sturdy.unassigned}
    assert served | listed == {o.id for o in day.orders} and not served & listed
    # Timed on the true matrix: every leg takes exactly its matrix duration.
    for route in sturdy.routes:
        dur = day.matrix_for(day.vehicle(route.vehicle_id)).durations
        for prev, cur in itertools.pairwise(route.visits):
            if cur.kind is VisitKind.BREAK or prev.kind is VisitKind.BREAK:
                continue
            assert cur.arrival == prev.departure + dur[prev.location, cur.location]
    # The buffers are slack: the robust plan waits more than the plain one.
    assert sum(r.wait for r in sturdy.routes) > sum(r.wait for r in plain.routes)


def test_robust_plan_is_on_time_as_often_as_asked(day, plans) -> None:  # type: ignore[no-untyped-def]
    robust, plain, sturdy = plans
    plain_mc = simulate_on_time(day, plain, robust.noise, draws=200, seed=1)
    sturdy_mc = simulate_on_time(day, sturdy, robust.noise, draws=200, seed=1)
    assert sturdy_mc.on_time >= robust.on_time - 0.03
    assert sturdy_mc.on_time > plain_mc.on_time
    # The target holds stop by stop (with 200 draws' sampling error), not only on average.
    assert sturdy_mc.worst_stop <= 1 - robust.on_time + 0.06
    assert plain_mc.worst_stop > sturdy_mc.worst_stop


def test_simulation_without_noise_replays_the_plan(day, plans) -> None:  # type: ignore[no-untyped-def]
    _, plain, _ = plans
    exact = simulate_on_time(day, plain, TravelNoise.parse("none"), draws=3)
    assert exact.on_time == 1.0 and exact.worst_stop == 0.0
    # A day driven 30 % slower than planned is late somewhere.
    slow = simulate_on_time(day, plain, TravelNoise.parse("lognormal:sigma=0,median=1.3"), draws=1)
    assert slow.on_time < 1.0


def test_time_dependent_robust_plan_leaves_slack_on_the_true_legs() -> None:
    """Fourteen stops due by 08:00-12:30 on a grid in the morning rush, two vans: the
    plain time-dependent plan packs stops against their deadlines."""
    net = grid_network(rows=10, cols=10, spacing_m=500, seed=3)
    rng = np.random.default_rng(3)
    nodes = [int(x) for x in rng.choice(net.num_nodes, 15, replace=False)]
    model = TimeDependentModel(net, TrafficProfile.default(), epoch=dt.datetime(2024, 3, 5))
    locations = net.locations(nodes)
    bound = model.bind(locations)
    orders = []
    for i in range(14):
        end = int(rng.integers(16, 26)) * H // 2
        stop = Stop(i + 1, service=180, time_windows=(TimeWindow(7 * H, end),))
        orders.append(Order(f"o{i}", OrderKind.DELIVERY, delivery=stop, amount=(1,)))
    van = VehicleType("van", (50,), fixed_cost=10_000, cost_per_hour=3600)
    problem = PlanningProblem(
        locations=tuple(locations),
        matrices={"car": bound.departure_matrix([0] * len(nodes))},
        depots=(Depot("depot", 0),),
        vehicles=tuple(Vehicle(f"v{i}", van, shift=TimeWindow(7 * H, 19 * H)) for i in range(2)),
        orders=tuple(orders),
        dimensions=("parcels",),
    )
    robust = Robustness(on_time=0.9)
    plain = solve_time_dependent(problem, bound, rounds=2, time_limit=1.0, workers=1)
    sturdy = solve_time_dependent(
        problem, bound, rounds=2, time_limit=1.0, workers=1, robust=robust
    )
    assert sturdy.violations() == () and not sturdy.plan.unassigned
    # Every leg takes exactly the true model's time at its real departure.
    for route in sturdy.plan.routes:
        for prev, cur in itertools.pairwise(route.visits):
            if cur.kind is VisitKind.BREAK or prev.location == cur.location:
                continue
            leg = bound.leg_duration(prev.location, cur.location, prev.departure)
            assert cur.arrival == prev.departure + leg

    def driven(result):  # type: ignore[no-untyped-def]
        own = {r.vehicle_id: result.route_problem(r.vehicle_id) for r in result.plan.routes}
        return simulate_on_time(
            problem, result.plan, robust.noise, draws=200, seed=2, route_problems=own
        )

    mc, plain_mc = driven(sturdy), driven(plain)
    assert plain_mc.worst_stop > 0.3  # the plain plan has a stop late in a third of days
    assert mc.worst_stop <= 1 - robust.on_time + 0.06
    assert mc.on_time > plain_mc.on_time


def test_bad_options_name_the_field() -> None:
    with pytest.raises(InputError) as err:
        Robustness(on_time=1.5)
    assert err.value.where == "robust.on_time"
    with pytest.raises(InputError) as err:
        Robustness.parse(0.9, "lognormal:sigma=lots")
    assert err.value.where == "robust.noise.sigma"
    with pytest.raises(InputError) as err:
        Robustness.parse(0.9, "uniform")
    assert err.value.where == "robust.noise.distribution"
    with pytest.raises(InputError) as err:
        Robustness.parse(0.9, "lognormal:speed=2")
    assert err.value.where == "robust.noise"
    with pytest.raises(InputError) as err:
        Robustness(on_time=0.9, horizon_s=1.0)
    assert err.value.where == "robust.horizon_s"


def test_noise_text_round_trips() -> None:
    noise = TravelNoise(distribution="gamma", sigma=0.3, reference_s=900, max_sigma=0.5, median=1.1)
    assert TravelNoise.parse(noise_text(noise)) == noise
    assert noise_text(TravelNoise.parse("none")) == "none"
    robust = Robustness.parse(0.95, "lognormal:sigma=0.2")
    assert Robustness.parse(**robust.to_dict()) == robust  # type: ignore[arg-type]
    assert dataclasses.replace(robust, on_time=0.9).describe().startswith("robust: 90%")


def test_the_command_plans_robustly_and_names_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lastmile.cli import main

    data = Path(__file__).parent.parent / "data" / "C101_10.txt"
    common = ["solve", str(data), "--rounding", "dimacs", "--time-limit", "1"]
    out = tmp_path / "plan.json"
    assert main([*common, "--robust", "0.9", "--noise", "lognormal:sigma=0.3", "-o", str(out)]) == 0
    assert "robust: 90% on time" in capsys.readouterr().err
    # Exit code 0: the plan passed the validator on the instance's own times.
    assert json.loads(out.read_text())["routes"]
    for flags, named in (
        (["--robust", "1.5"], "--robust"),
        (["--robust", "0.9", "--noise", "lognormal:sigma=lots"], "--noise: sigma"),
        (["--noise", "gamma"], "--noise"),
    ):
        assert main([*common, *flags, "-q"]) == 2
        assert named in capsys.readouterr().err


def test_the_command_plans_robustly_on_a_road_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lastmile.cli import main

    data = Path(__file__).parent.parent / "data"
    out = tmp_path / "plan.json"
    argv = [
        "solve",
        str(data / "vroom" / "monaco_coordinates.json"),
        "--network",
        str(data / "osm" / "monaco.osm.pbf"),
        "--depart",
        "2026-11-24T07:00",
        "--time-limit",
        "2",
        "--robust",
        "0.9",
        "-o",
        str(out),
    ]
    # Exit code 0: every route holds on the legs it really drives (no violation).
    assert main(argv) == 0
    assert "robust: 90% on time" in capsys.readouterr().err
    assert json.loads(out.read_text())["routes"]
