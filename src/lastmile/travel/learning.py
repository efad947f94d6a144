"""Speeds that learn: fit traffic factors from tracked trips.

Each :class:`ObservedLeg` is a path that was driven (edge indices of the
network), when it started and how long it really took. The model is the one
the planner uses: an edge of free-flow time ``tau_e`` entered in cell ``j`` =
(day type, road class, slice) takes ``tau_e / (f_j * weather)``, so a leg's
predicted duration is ``D_i(f) = sum_j a_ij / f_j`` with ``a_ij`` the free-flow
seconds (weather-adjusted) the leg spends in cell ``j``. Which cell an edge
falls in is set by spreading the observed duration along the path in
proportion to the prior's predicted edge times.

Fit: with ``theta = log f``, minimise over the cells that have data::

    sum_i huber((log d_i - log D_i(theta)) / s)  +  lambda * sum_j (theta_j - theta0_j)^2

by iteratively reweighted Gauss-Newton: Huber weights (``huber_k`` = 1.345,
the usual 95 %-efficiency constant) on residuals scaled by ``s``, a robust
scale (1.4826 x the median absolute residual), so a driver's lunch break
inside a leg does not drag its cells down; ``lambda`` = ``prior_strength``
shrinks cells seen in few legs towards the prior (it weighs as much as
``prior_strength`` legs driven entirely in that cell). Cells without data keep
the prior. Residuals are in logs: errors are relative, and a lognormal noise
has a symmetric log.

:func:`simulate_observations` draws legs from a known ground-truth profile
(with noise and outliers) to show the fit converging (tests/travel/test_learning.py,
docs/traffic.md).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.csgraph import dijkstra
from scipy.sparse.linalg import spsolve

from lastmile.exceptions import InputError
from lastmile.travel.time_dependent import RoadGraph, TimeDependentModel
from lastmile.travel.traffic import DAY_S, MAX_FACTOR, TrafficProfile, day_type_of

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_MIN_FACTOR = 0.05
_MIN_SCALE = 0.01


@dataclass(frozen=True)
class ObservedLeg:
    """A path driven (network edge indices, in order), its start and real duration.

    ``departure`` is a local wall-clock time; ``weather_multiplier`` the speed
    multiplier the weather imposed then (1.0 in clear weather), so the fit
    learns traffic, not weather.
    """

    edges: tuple[int, ...]
    departure: dt.datetime
    duration_s: float
    weather_multiplier: float = 1.0

    @classmethod
    def from_nodes(
        cls,
        model: TimeDependentModel,
        a: int,
        b: int,
        *,
        departure_s: float,
        duration_s: float,
    ) -> ObservedLeg:
        """A leg from node ``a`` to ``b``, assumed driven on the model's fastest path.

        ``departure_s`` is seconds since ``model.epoch``.
        """
        edges, _ = model.fastest_path(a, b, departure_s)
        when = model.epoch + dt.timedelta(seconds=departure_s)
        return cls(tuple(edges), when, duration_s)


@dataclass(frozen=True)
class FitReport:
    """The fitted profile and what the data could say.

    ``weight`` has the profile's factor shape: the data weight (in legs'
    worth of free-flow share) behind each cell; 0 where the prior was kept.
    ``outliers`` counts legs the robust loss weighted below one half.
    """

    profile: TrafficProfile
    observations: int
    cells_with_data: int
    weight: FloatArray
    iterations: int
    outliers: int
    scale: float


def _cells(
    network: RoadGraph,
    legs: Sequence[ObservedLeg],
    prior: TrafficProfile,
    holidays: frozenset[dt.date],
) -> tuple[csr_matrix, FloatArray]:
    """Sparse ``a_ij`` (free-flow seconds of leg i in cell j) and observed durations."""
    freeflow = np.asarray(network.edge_freeflow_s, dtype=np.float64)
    rows = prior.class_rows(list(network.class_names))[
        np.asarray(network.edge_class, dtype=np.int64)
    ]
    n_cls, per_day = len(prior.road_classes), prior.slices_per_day
    n_edges = len(freeflow)
    counts = np.empty(len(legs), dtype=np.int64)
    t0 = np.empty(len(legs))
    ordinal = np.empty(len(legs), dtype=np.int64)
    duration = np.empty(len(legs))
    weather = np.empty(len(legs))
    for i, leg in enumerate(legs):
        counts[i] = len(leg.edges)
        if not counts[i]:
            raise InputError("a leg needs at least one edge", where=f"observation {i}")
        if not leg.duration_s > 0 or not leg.weather_multiplier > 0:
            raise InputError(
                "duration and weather multiplier must be > 0", where=f"observation {i}"
            )
        midnight = leg.departure.replace(hour=0, minute=0, second=0, microsecond=0)
        t0[i] = (leg.departure - midnight).total_seconds()
        ordinal[i] = midnight.toordinal()
        duration[i] = leg.duration_s
        weather[i] = leg.weather_multiplier
    e = np.fromiter((x for leg in legs for x in leg.edges), dtype=np.int64, count=counts.sum())
    if e.min() < 0 or e.max() >= n_edges:
        bad = int(np.repeat(np.arange(len(legs)), counts)[(e < 0) | (e >= n_edges)][0])
        raise InputError(f"edge index out of range [0, {n_edges})", where=f"observation {bad}")
    leg_of = np.repeat(np.arange(len(legs)), counts)
    holiday_ordinals = np.array([d.toordinal() for d in holidays], dtype=np.int64)

    def day_rows(day_ordinal: IntArray) -> IntArray:
        weekend = ((day_ordinal + 6) % 7 >= 5) | np.isin(day_ordinal, holiday_ordinals)
        weekday_row = prior.day_index(day_type_of(dt.date(2024, 1, 1)))  # a Monday
        weekend_row = prior.day_index(day_type_of(dt.date(2024, 1, 6)))  # a Saturday
        return np.where(weekend, weekend_row, weekday_row).astype(np.int64)

    tau = freeflow[e] / weather[leg_of]
    k0 = (t0 // prior.slice_s).astype(np.int64) % per_day
    guess = tau / prior.factors[day_rows(ordinal)[leg_of], rows[e], k0[leg_of]]
    # Share of the leg's predicted time before each edge, within its own leg.
    cum = np.cumsum(guess)
    first = np.cumsum(counts) - counts
    before = cum - guess - np.repeat(cum[first] - guess[first], counts)
    total = np.bincount(leg_of, weights=guess, minlength=len(legs))
    enter = t0[leg_of] + duration[leg_of] * before / total[leg_of]
    day_off = (enter // DAY_S).astype(np.int64)
    slot = ((enter % DAY_S) // prior.slice_s).astype(np.int64)
    cells = (day_rows(ordinal[leg_of] + day_off) * n_cls + rows[e]) * per_day + slot
    a = coo_matrix((tau, (leg_of, cells)), shape=(len(legs), prior.factors.size)).tocsr()
    a.sum_duplicates()
    return a, duration


def fit_traffic_profile(
    network: RoadGraph,
    observations: Iterable[ObservedLeg],
    *,
    prior: TrafficProfile | None = None,
    prior_strength: float = 3.0,
    huber_k: float = 1.345,
    max_iterations: int = 50,
    tolerance: float = 1e-5,
    holidays: Iterable[dt.date] = (),
) -> FitReport:
    """Fit speed factors per (day type, road class, slice) to observed legs.

    Returns a profile with the prior's shape (the prior defaults to
    :meth:`TrafficProfile.default`); see the module docstring for the method.
    """
    prior = prior or TrafficProfile.default()
    legs = list(observations)
    if prior_strength <= 0:
        raise InputError(f"must be > 0, got {prior_strength}", where="prior_strength")
    if huber_k <= 0:
        raise InputError(f"must be > 0, got {huber_k}", where="huber_k")
    theta0 = np.log(prior.factors.ravel())
    if not legs:
        return FitReport(prior, 0, 0, np.zeros(prior.factors.shape), 0, 0, 0.0)
    a, observed = _cells(network, legs, prior, frozenset(holidays))
    used = np.flatnonzero(np.asarray(a.sum(axis=0)).ravel() > 0)
    a_used = a[:, used].tocsr()
    y = np.log(observed)
    theta, weights, scale, iterations = _irls(
        a_used, y, theta0[used], prior_strength, huber_k, max_iterations, tolerance
    )
    fitted = theta0.copy()
    fitted[used] = theta
    factors = np.clip(np.round(np.exp(fitted), 4), _MIN_FACTOR, MAX_FACTOR)
    share = np.asarray(
        (diags(1.0 / (a_used @ np.exp(-theta))) @ a_used @ diags(np.exp(-theta))).sum(axis=0)
    ).ravel()
    weight = np.zeros(prior.factors.size)
    weight[used] = share
    profile = TrafficProfile(
        road_classes=prior.road_classes,
        factors=factors.reshape(prior.factors.shape),
        slice_s=prior.slice_s,
        day_types=prior.day_types,
    )
    return FitReport(
        profile=profile,
        observations=len(legs),
        cells_with_data=len(used),
        weight=weight.reshape(prior.factors.shape),
        iterations=iterations,
        outliers=int((weights < 0.5).sum()),
        scale=scale,
    )


def _irls(
    a: csr_matrix,
    y: FloatArray,
    theta0: FloatArray,
    prior_strength: float,
    huber_k: float,
    max_iterations: int,
    tolerance: float,
) -> tuple[FloatArray, FloatArray, float, int]:
    """Minimise the robust loss of the module docstring over ``theta`` (one per column
    of ``a``): iteratively reweighted Gauss-Newton. Returns theta, the legs' Huber
    weights, the residual scale and the iterations run."""
    theta = theta0.copy()
    lam = diags(np.full(len(theta0), prior_strength))
    scale = _MIN_SCALE
    weights = np.ones(a.shape[0])
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        inv = np.exp(-theta)
        predicted = a @ inv
        r = y - np.log(predicted)
        # Residuals scatter around zero at the solution: their median size is the scale
        # (around their own median, a bias shared by every leg would make each an outlier).
        scale = max(_MIN_SCALE, 1.4826 * float(np.median(np.abs(r))))
        z = np.abs(r) / scale
        weights = np.where(z <= huber_k, 1.0, huber_k / np.maximum(z, 1e-12))
        # Jacobian of log D: -p_ij, the share of leg i's predicted time spent in cell j.
        p = diags(1.0 / predicted) @ a @ diags(inv)
        pw = p.T @ diags(weights)
        lhs = (pw @ p + lam).tocsc()
        rhs = -(pw @ r) - prior_strength * (theta - theta0)
        step = np.atleast_1d(np.clip(spsolve(lhs, rhs), -0.7, 0.7))
        theta = np.clip(theta + step, np.log(_MIN_FACTOR), np.log(MAX_FACTOR))
        if float(np.abs(step).max()) < tolerance:
            break
    return theta, weights, scale, iterations


def pooled_prior(
    network: RoadGraph,
    observations: Iterable[ObservedLeg],
    *,
    prior: TrafficProfile | None = None,
    prior_strength: float = 1.0,
    huber_k: float = 1.345,
    holidays: Iterable[dt.date] = (),
) -> TrafficProfile:
    """``prior`` with each (day type, road class) row scaled by one factor fitted to the
    legs: the same robust fit as :func:`fit_traffic_profile`, with one cell per row.

    A few dozen legs say little about each 15-minute cell but much about a whole
    row (vans here are 30 % slower than the prior on every street); the per-cell
    fit started from this prior then learns the shape of the day where the data
    is dense and keeps the scaled prior elsewhere."""
    prior = prior or TrafficProfile.default()
    legs = list(observations)
    if not legs:
        return prior
    a, observed = _cells(network, legs, prior, frozenset(holidays))
    per_day = prior.slices_per_day
    rows = prior.factors.size // per_day
    # Seconds each leg would spend in each row under the prior, per row.
    timed = a @ diags(1.0 / prior.factors.ravel())
    to_row = coo_matrix(
        (
            np.ones(prior.factors.size),
            (np.arange(prior.factors.size), np.arange(rows).repeat(per_day)),
        ),
        shape=(prior.factors.size, rows),
    ).tocsr()
    b = (timed @ to_row).tocsr()
    used = np.flatnonzero(np.asarray(b.sum(axis=0)).ravel() > 0)
    theta, _, _, _ = _irls(
        b[:, used].tocsr(), np.log(observed), np.zeros(len(used)), prior_strength, huber_k, 50, 1e-6
    )
    scale = np.ones(rows)
    scale[used] = np.exp(theta)
    factors = np.clip(
        prior.factors * scale.reshape(prior.factors.shape[:2])[:, :, None], _MIN_FACTOR, MAX_FACTOR
    )
    return TrafficProfile(
        road_classes=prior.road_classes,
        factors=np.round(factors, 4),
        slice_s=prior.slice_s,
        day_types=prior.day_types,
    )


def simulate_observations(
    network: RoadGraph,
    truth: TrafficProfile,
    *,
    n: int,
    start: dt.date,
    days: int = 1,
    hours: tuple[float, float] = (6.0, 20.0),
    noise_sigma: float = 0.1,
    outlier_share: float = 0.0,
    outlier_factor: tuple[float, float] = (2.0, 4.0),
    seed: int = 0,
) -> list[ObservedLeg]:
    """``n`` legs between random nodes, timed exactly under ``truth``, then made noisy.

    Departures are uniform over ``hours`` of ``days`` days from ``start``;
    paths are free-flow fastest paths; each duration is multiplied by a
    lognormal noise (``noise_sigma`` in logs) and, for a share
    ``outlier_share`` of legs, by a factor drawn from ``outlier_factor`` (a stop
    on the way, a detour).
    """
    if n < 1:
        raise InputError(f"must be >= 1, got {n}", where="n")
    rng = np.random.default_rng(seed)
    epoch = dt.datetime.combine(start, dt.time())
    model = TimeDependentModel(network, truth, epoch=epoch, horizon_days=days + 1)
    nodes = model._largest_component()
    src_pool = rng.choice(nodes, size=min(len(nodes), max(1, n // 10)), replace=False)
    sources = rng.choice(src_pool, size=n)
    targets = rng.choice(nodes, size=n)
    same = sources == targets
    targets[same] = rng.choice(nodes, size=int(same.sum()))
    graph, ids = model._static_graph(model._freeflow)
    uniq, inverse = np.unique(sources, return_inverse=True)
    _, pred = dijkstra(graph, indices=uniq, return_predecessors=True)
    paths: list[list[int]] = []
    for i in range(n):
        row, node, src = int(inverse[i]), int(targets[i]), int(sources[i])
        edges: list[int] = []
        while node != src:
            p = int(pred[row, node])
            if p < 0:
                break
            edges.append(ids[(p, node)])
            node = p
        edges.reverse()
        paths.append(edges)
    keep = [i for i in range(n) if paths[i]]
    depart = rng.integers(0, days, size=n) * DAY_S + rng.uniform(hours[0], hours[1], size=n) * 3600
    arrival = _retime_paths(model, [paths[i] for i in keep], depart[keep])
    durations = arrival - depart[keep]
    durations *= np.exp(rng.normal(0.0, noise_sigma, size=len(keep)))
    bad = rng.random(len(keep)) < outlier_share
    durations[bad] *= rng.uniform(*outlier_factor, size=int(bad.sum()))
    return [
        ObservedLeg(
            tuple(paths[i]), epoch + dt.timedelta(seconds=float(depart[i])), float(durations[j])
        )
        for j, i in enumerate(keep)
    ]


def _retime_paths(
    model: TimeDependentModel, paths: Sequence[Sequence[int]], depart: FloatArray
) -> FloatArray:
    """Arrival times along many paths at once (one vectorised step per edge position)."""
    longest = max(len(p) for p in paths)
    table = np.full((len(paths), longest), -1, dtype=np.int64)
    for i, p in enumerate(paths):
        table[i, : len(p)] = p
    t = np.asarray(depart, dtype=np.float64).copy()
    for k in range(longest):
        live = table[:, k] >= 0
        t[live] = model.edge_exit_times(table[live, k], t[live])
    return t


def profile_error(
    fitted: TrafficProfile, truth: TrafficProfile, *, mask: npt.ArrayLike | None = None
) -> float:
    """Mean absolute difference of factors (over ``mask`` cells if given)."""
    diff = np.abs(fitted.factors - truth.factors)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        return float(diff[m].mean()) if m.any() else 0.0
    return float(diff.mean())


# -- learning from the day: fit, checked on held-out legs ---------------------------------------


def predict_durations(
    network: RoadGraph,
    profile: TrafficProfile,
    legs: Sequence[ObservedLeg],
    *,
    holidays: Iterable[dt.date] = (),
) -> FloatArray:
    """Seconds each leg's path takes under ``profile`` leaving when it left (weather
    as the leg says), the way the planner times it."""
    out = np.empty(len(legs))
    by_day: dict[tuple[dt.date, float], list[int]] = {}
    for i, leg in enumerate(legs):
        by_day.setdefault((leg.departure.date(), leg.weather_multiplier), []).append(i)
    for (day, weather), rows in by_day.items():
        epoch = dt.datetime.combine(day, dt.time(), tzinfo=legs[rows[0]].departure.tzinfo)
        model = TimeDependentModel(
            network,
            _scaled(profile, weather),
            epoch=epoch,
            holidays=holidays,
            horizon_days=2,
        )
        depart = np.array([(legs[i].departure - epoch).total_seconds() for i in rows])
        arrival = _retime_paths(model, [legs[i].edges for i in rows], depart)
        out[rows] = arrival - depart
    return out


def _scaled(profile: TrafficProfile, weather: float) -> TrafficProfile:
    if weather == 1.0:
        return profile
    factors = np.clip(profile.factors * weather, 1e-6, MAX_FACTOR)
    return TrafficProfile(
        road_classes=profile.road_classes,
        factors=factors,
        slice_s=profile.slice_s,
        day_types=profile.day_types,
    )


@dataclass(frozen=True)
class LegErrors:
    """How far predicted leg durations fall from the observed ones (seconds, share)."""

    legs: int
    median_abs_s: float
    mean_abs_s: float
    median_rel: float

    @classmethod
    def of(cls, predicted: FloatArray, observed: FloatArray) -> LegErrors:
        if not len(observed):
            return cls(0, math.nan, math.nan, math.nan)
        err = np.abs(predicted - observed)
        return cls(
            len(observed),
            float(np.median(err)),
            float(err.mean()),
            float(np.median(err / observed)),
        )


@dataclass(frozen=True)
class LearnReport:
    """A fit on observed legs, checked on legs held out of it.

    ``fit`` is the fit on every leg (the profile to use); ``before``/``after``
    compare the prior's and a fit without the held-out legs on those legs
    (None when too few legs to hold any out).
    """

    fit: FitReport
    prior: TrafficProfile
    legs_used: int
    held_out: int
    before: LegErrors | None
    after: LegErrors | None

    @property
    def profile(self) -> TrafficProfile:
        return self.fit.profile

    @property
    def improved(self) -> bool:
        """Whether the learned profile predicts the held-out legs better than the
        prior: a smaller median relative error (scale-free: long legs do not decide
        alone). True when nothing was held out (no evidence against it)."""
        if self.before is None or self.after is None:
            return self.fit.cells_with_data > 0
        return self.after.median_rel <= self.before.median_rel

    def lines(self) -> list[str]:
        """The report as text, a line per figure."""
        out = [
            f"legs used: {self.legs_used} ({self.fit.outliers} weighted down as outliers)",
            f"cells updated: {self.fit.cells_with_data} of {self.fit.profile.factors.size} "
            "(day type x road class x slice)",
        ]
        if self.before is None or self.after is None:
            out.append("held-out legs: none (too few legs to check the fit)")
        else:
            out.append(f"held-out legs: {self.held_out}")
            for name, e in (("before", self.before), ("after", self.after)):
                out.append(
                    f"error {name}: median {e.median_abs_s:.1f} s, mean {e.mean_abs_s:.1f} s, "
                    f"median {100 * e.median_rel:.1f} %"
                )
        return out


#: Fewest legs for a held-out check (below, every leg is used and nothing is checked).
MIN_LEGS_TO_HOLD_OUT = 10


def learn_traffic(
    network: RoadGraph,
    legs: Sequence[ObservedLeg],
    *,
    prior: TrafficProfile | None = None,
    holdout_share: float = 0.2,
    seed: int = 0,
    holidays: Iterable[dt.date] = (),
    prior_strength: float = 3.0,
    pool: bool = True,
) -> LearnReport:
    """Fit a profile on ``legs`` and say how much it helps.

    With ``pool`` the fit starts from :func:`pooled_prior` (the prior's rows scaled
    to the legs) rather than the prior itself. A share ``holdout_share`` of the
    legs (drawn with ``seed``) is held out: a fit on the others predicts them, as
    the prior does, and both errors are reported. The profile returned is then
    fitted on every leg.
    """
    prior = prior or TrafficProfile.default()
    if not 0 <= holdout_share < 1:
        raise InputError(f"must be in [0, 1), got {holdout_share}", where="holdout_share")
    holidays = tuple(holidays)
    legs = list(legs)
    n_out = round(holdout_share * len(legs)) if len(legs) >= MIN_LEGS_TO_HOLD_OUT else 0
    before = after = None
    if n_out:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(legs))
        test = [legs[i] for i in order[:n_out]]
        train = [legs[i] for i in order[n_out:]]
        start = pooled_prior(network, train, prior=prior, holidays=holidays) if pool else prior
        partial = fit_traffic_profile(
            network, train, prior=start, holidays=holidays, prior_strength=prior_strength
        )
        observed = np.array([leg.duration_s for leg in test])
        before = LegErrors.of(predict_durations(network, prior, test, holidays=holidays), observed)
        after = LegErrors.of(
            predict_durations(network, partial.profile, test, holidays=holidays), observed
        )
    start = pooled_prior(network, legs, prior=prior, holidays=holidays) if pool else prior
    fit = fit_traffic_profile(
        network, legs, prior=start, holidays=holidays, prior_strength=prior_strength
    )
    return LearnReport(fit, prior, len(legs), n_out, before, after)
