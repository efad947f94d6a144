"""Learning speed factors from observed legs: converges to a known truth, shrugs off outliers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.learning import (
    ObservedLeg,
    fit_traffic_profile,
    profile_error,
    simulate_observations,
)
from lastmile.travel.synthetic import grid_network
from lastmile.travel.time_dependent import TimeDependentModel
from lastmile.travel.traffic import TrafficProfile

TUESDAY = dt.date(2024, 3, 5)
NET = grid_network(rows=15, cols=15, seed=4)
PRIOR = TrafficProfile.default()


def truth_profile() -> TrafficProfile:
    """The default with a worse morning rush on primary roads and slower streets all day."""
    f = np.array(PRIOR.factors)
    f[0, PRIOR.class_index("primary"), 28:40] *= 0.8  # 07:00-10:00
    f[0, PRIOR.class_index("residential"), :] *= 0.9
    return TrafficProfile(road_classes=PRIOR.road_classes, factors=f)


TRUTH = truth_profile()


def fit_error(n: int, *, outliers: float = 0.0, seed: int = 1, huber_k: float = 1.345) -> float:
    legs = simulate_observations(NET, TRUTH, n=n, start=TUESDAY, outlier_share=outliers, seed=seed)
    report = fit_traffic_profile(NET, legs, prior=PRIOR, huber_k=huber_k)
    return profile_error(report.profile, TRUTH, mask=report.weight > 0)


def test_fitted_factors_converge_to_the_truth() -> None:
    legs = simulate_observations(NET, TRUTH, n=100, start=TUESDAY, seed=1)
    mask = fit_traffic_profile(NET, legs, prior=PRIOR).weight > 0
    prior_error = profile_error(PRIOR, TRUTH, mask=mask)
    errors = [fit_error(n) for n in (150, 1500, 6000)]
    assert prior_error > 0.05
    assert errors[0] < prior_error
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.025


def test_outliers_do_not_break_the_fit() -> None:
    robust = fit_error(4000, outliers=0.15)
    plain = fit_error(4000, outliers=0.15, huber_k=1e9)
    assert robust < 0.03
    assert plain > 2 * robust


def test_cells_without_data_keep_the_prior() -> None:
    legs = simulate_observations(NET, TRUTH, n=300, start=TUESDAY, hours=(9, 11), seed=2)
    report = fit_traffic_profile(NET, legs, prior=PRIOR)
    untouched = report.weight == 0
    assert untouched.any() and report.cells_with_data > 0
    assert np.array_equal(report.profile.factors[untouched], PRIOR.factors[untouched])
    weekend = PRIOR.day_index("weekend")
    assert (report.weight[weekend] == 0).all()
    assert report.observations == 300 and report.iterations >= 1


def test_tomorrows_plan_uses_what_today_taught(tmp_path: Path) -> None:
    """Durations predicted with the fitted (saved and reloaded) profile beat the prior's."""
    legs = simulate_observations(NET, TRUTH, n=3000, start=TUESDAY, seed=5)
    fitted = fit_traffic_profile(NET, legs, prior=PRIOR).profile
    fitted.to_csv(tmp_path / "learned.csv")
    learned = TrafficProfile.from_csv(tmp_path / "learned.csv")
    epoch = dt.datetime(2024, 3, 12)  # the next Tuesday
    models = {
        name: TimeDependentModel(NET, p, epoch=epoch)
        for name, p in (("truth", TRUTH), ("prior", PRIOR), ("learned", learned))
    }
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, NET.num_nodes, size=(40, 2))
    departs = rng.uniform(7, 19, size=40) * 3600
    err = {"prior": [], "learned": []}
    for (a, b), t in zip(pairs, departs, strict=True):
        true = models["truth"].travel_time(int(a), int(b), t)
        for name in err:
            err[name].append(abs(models[name].travel_time(int(a), int(b), t) - true))
    assert np.mean(err["learned"]) < 0.4 * np.mean(err["prior"])


def test_observed_leg_from_nodes_and_input_checks() -> None:
    model = TimeDependentModel(NET, TRUTH, epoch=dt.datetime(2024, 3, 5))
    leg = ObservedLeg.from_nodes(model, 0, 100, departure_s=8 * 3600, duration_s=400.0)
    assert leg.departure == dt.datetime(2024, 3, 5, 8, 0)
    assert int(NET.edge_tail[leg.edges[0]]) == 0 and int(NET.edge_head[leg.edges[-1]]) == 100
    report = fit_traffic_profile(NET, [leg] * 5, prior=PRIOR)
    assert report.cells_with_data >= 1
    when = dt.datetime(2024, 3, 5, 8)
    with pytest.raises(InputError, match="observation 0"):
        fit_traffic_profile(NET, [ObservedLeg((), when, 10.0)])
    with pytest.raises(InputError, match="observation 1: edge index out of range"):
        fit_traffic_profile(NET, [leg, ObservedLeg((10**6,), when, 10.0)])
    with pytest.raises(InputError, match="observation 0: duration"):
        fit_traffic_profile(NET, [ObservedLeg((0,), when, 0.0)])
    assert fit_traffic_profile(NET, []).profile == PRIOR
