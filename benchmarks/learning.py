"""Speed learning on simulated trips: fitted factors converge on a known truth.

Ground truth: the default traffic profile with a 20 % worse weekday morning rush
(07:00-10:00) on primary roads and residential streets 10 % slower all day.
Legs between random nodes of a 25x25 synthetic grid, departures uniform over
06:00-20:00 of one Tuesday, timed exactly under the truth, then given a
lognormal noise of 10 % and, in the outlier rows, 10 % of legs 2-4 times too
long. The prior is the default profile. Printed: the mean absolute factor error
over the cells the data touch, for the prior, the robust fit (Huber) and a
plain least-squares fit.

    python benchmarks/learning.py [--seed 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from lastmile.travel.learning import fit_traffic_profile, profile_error, simulate_observations
from lastmile.travel.synthetic import grid_network
from lastmile.travel.traffic import TrafficProfile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    net = grid_network(rows=25, cols=25)
    prior = TrafficProfile.default()
    f = np.array(prior.factors)
    f[0, prior.class_index("primary"), 28:40] *= 0.8
    f[0, prior.class_index("residential"), :] *= 0.9
    truth = TrafficProfile(road_classes=prior.road_classes, factors=f)
    print("legs    outliers  prior   robust  plain LS  cells  fit s")
    for n in (200, 1000, 5000, 20000):
        for outliers in (0.0, 0.1):
            legs = simulate_observations(
                net, truth, n=n, start=dt.date(2024, 3, 5), outlier_share=outliers, seed=args.seed
            )
            began = time.perf_counter()
            robust = fit_traffic_profile(net, legs, prior=prior)
            took = time.perf_counter() - began
            plain = fit_traffic_profile(net, legs, prior=prior, huber_k=1e9)
            mask = robust.weight > 0
            print(
                f"{n:6d}  {outliers:7.0%}  {profile_error(prior, truth, mask=mask):.4f}  "
                f"{profile_error(robust.profile, truth, mask=mask):.4f}  "
                f"{profile_error(plain.profile, truth, mask=mask):.4f}    "
                f"{robust.cells_with_data:4d}  {took:5.2f}"
            )


if __name__ == "__main__":
    main()
