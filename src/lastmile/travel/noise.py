"""How much a leg's real travel time varies around the predicted one.

A real leg takes ``predicted * X``, with ``X`` a random factor. By default ``X``
is log-normal: its log has standard deviation ``sigma_of(leg_s, t)`` and its
median is ``median`` (1.0: half the legs are faster than predicted, and the
mean is above the prediction, the right-skew every delivery day shows). The
spread shrinks with the leg's length, as the sum of ``leg_s / reference_s``
independent pieces would (``sigma * sqrt(reference_s / leg_s)``, capped at
``max_sigma``), and grows in busy hours (``busy`` periods multiply it).
``gamma`` draws from a gamma distribution with the same median and spread in
logs instead.

The digital twin draws from it (:meth:`TravelNoise.sample`); robust planning
sizes buffers from its quantiles (:meth:`TravelNoise.quantile`). Both see the
same model, so a plan made to hold 90 % of the time can be checked by
simulating it.

    TravelNoise.parse("lognormal")                       # the defaults
    TravelNoise.parse("lognormal:sigma=0.3,median=1.05")
    TravelNoise.parse("none")                            # no noise
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from statistics import NormalDist
from typing import Any

import numpy as np

from lastmile.exceptions import InputError

DISTRIBUTIONS = ("lognormal", "gamma", "none")
_STANDARD_NORMAL = NormalDist()

#: Morning and evening peaks, seconds since midnight, and how much they widen the spread.
DEFAULT_BUSY: tuple[tuple[int, int, float], ...] = (
    (7 * 3600, 9 * 3600 + 1800, 1.5),
    (16 * 3600 + 1800, 19 * 3600, 1.5),
)


@dataclass(frozen=True, slots=True)
class TravelNoise:
    """Random variation of travel times per leg (see the module docstring)."""

    distribution: str = "lognormal"
    sigma: float = 0.25
    reference_s: float = 600.0
    max_sigma: float = 0.6
    median: float = 1.0
    busy: tuple[tuple[int, int, float], ...] = DEFAULT_BUSY

    def __post_init__(self) -> None:
        if self.distribution not in DISTRIBUTIONS:
            raise InputError(
                f"{self.distribution!r} is not one of {', '.join(DISTRIBUTIONS)}",
                where="noise.distribution",
            )
        for name in ("sigma", "max_sigma"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 3):
                raise InputError(f"{value} is not between 0 and 3", where=f"noise.{name}")
        for name in ("reference_s", "median"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{value} is not a positive number", where=f"noise.{name}")
        for start, end, factor in self.busy:
            if not (0 <= start < end and factor > 0 and math.isfinite(factor)):
                raise InputError(
                    f"({start}, {end}, {factor}) is not a busy period", where="noise.busy"
                )

    @classmethod
    def parse(cls, text: str) -> TravelNoise:
        """``NAME`` or ``NAME:key=value,...`` with keys ``sigma``, ``reference_s``,
        ``max_sigma``, ``median``; ``none`` is no noise."""
        name, _, rest = text.strip().partition(":")
        noise = cls(distribution=name.strip().lower())
        if noise.distribution == "none":
            return replace(noise, sigma=0.0, max_sigma=0.0)
        known = {f.name for f in fields(cls)} - {"distribution", "busy"}
        values: dict[str, Any] = {}
        for item in filter(None, (p.strip() for p in rest.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in known:
                raise InputError(
                    f"{item!r}: expected KEY=VALUE with KEY one of {', '.join(sorted(known))}",
                    where="noise",
                )
            try:
                values[key] = float(value)
            except ValueError as exc:
                raise InputError(f"{value!r} is not a number", where=f"noise.{key}") from exc
        return replace(noise, **values)

    @property
    def is_none(self) -> bool:
        return self.distribution == "none" or self.sigma == 0

    def sigma_of(self, leg_s: float, t: float = 0.0) -> float:
        """The spread (standard deviation of the log factor) of a leg of
        ``leg_s`` predicted seconds starting at ``t`` seconds since midnight."""
        if self.is_none or leg_s <= 0:
            return 0.0
        spread = self.sigma * math.sqrt(self.reference_s / max(leg_s, 1.0))
        clock = t % 86_400
        for start, end, factor in self.busy:
            if start <= clock < end:
                spread *= factor
                break
        return min(spread, self.max_sigma)

    def quantile(self, leg_s: float, t: float, q: float) -> float:
        """The factor ``x`` with ``P(X <= x) = q`` for such a leg."""
        if not 0 < q < 1:
            raise InputError(f"{q} is not strictly between 0 and 1", where="quantile")
        s = self.sigma_of(leg_s, t)
        if s == 0:
            return self.median
        if self.distribution == "gamma":
            shape, scale = self._gamma(s)
            from scipy import stats  # only for gamma: scipy.stats costs 0.3 s to import

            return float(stats.gamma.ppf(q, shape, scale=scale))
        return float(self.median * math.exp(s * _STANDARD_NORMAL.inv_cdf(q)))

    def sample(self, rng: np.random.Generator, leg_s: float, t: float) -> float:
        """One random factor for such a leg."""
        s = self.sigma_of(leg_s, t)
        if s == 0:
            return self.median
        if self.distribution == "gamma":
            shape, scale = self._gamma(s)
            return float(rng.gamma(shape, scale))
        return float(self.median * math.exp(s * rng.standard_normal()))

    def _gamma(self, s: float) -> tuple[float, float]:
        """Gamma shape and scale whose log has about standard deviation ``s``
        (trigamma(k) = s^2) and whose median is ``median``."""
        shape = 1.0 / (s * s) + 0.5  # trigamma(k) ~ 1/k + 1/(2k^2): inverted to first order
        from scipy import stats

        base_median = float(stats.gamma.median(shape))
        return shape, self.median / base_median

    def describe(self) -> str:
        if self.is_none:
            return "no noise"
        return (
            f"{self.distribution}, sigma {self.sigma:g} for a {self.reference_s:g} s leg "
            f"(at most {self.max_sigma:g}), median x{self.median:g}"
        )
