"""TravelNoise: the spread of leg times, its quantiles and its samples agree."""

from __future__ import annotations

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.noise import TravelNoise


@pytest.mark.parametrize("distribution", ["lognormal", "gamma"])
def test_samples_follow_the_quantiles(distribution: str) -> None:
    noise = TravelNoise.parse(f"{distribution}:sigma=0.3")
    rng = np.random.default_rng(7)
    leg_s, t = 600.0, 12 * 3600.0
    draws = np.array([noise.sample(rng, leg_s, t) for _ in range(40_000)])
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(draws, q) == pytest.approx(noise.quantile(leg_s, t, q), rel=0.02)
    assert np.std(np.log(draws)) == pytest.approx(0.3, rel=0.08)


def test_longer_legs_and_quiet_hours_vary_less() -> None:
    noise = TravelNoise()
    noon, rush = 12 * 3600, 8 * 3600
    assert noise.sigma_of(2400, noon) == pytest.approx(noise.sigma_of(600, noon) / 2)
    assert noise.sigma_of(600, rush) == pytest.approx(1.5 * noise.sigma_of(600, noon))
    assert noise.sigma_of(1, noon) == noise.max_sigma
    assert noise.quantile(600, noon, 0.9) > noise.quantile(600, noon, 0.5) == 1.0


def test_none_is_no_noise() -> None:
    noise = TravelNoise.parse("none")
    rng = np.random.default_rng(0)
    assert noise.is_none and noise.sample(rng, 600, 0) == 1.0
    assert noise.quantile(600, 0, 0.99) == 1.0


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("normal", "noise.distribution"),
        ("lognormal:sigma=-1", "noise.sigma"),
        ("lognormal:sigma=abc", "noise.sigma"),
        ("lognormal:colour=3", "noise"),
        ("lognormal:median=0", "noise.median"),
    ],
)
def test_a_bad_noise_names_the_field(text: str, where: str) -> None:
    with pytest.raises(InputError) as caught:
        TravelNoise.parse(text)
    assert caught.value.where == where
