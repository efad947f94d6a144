"""City-size road matrices: our contraction hierarchy against Dijkstra and pandana.

On a synthetic city of about 210,000 nodes (``benchmarks/_city.py``: no
city-size OSM extract ships on a package registry reachable here; the largest,
Monaco in tests/data/osm, has 14,000 nodes), with ``--points`` road nodes drawn
at random as sources and targets:

- preprocessing: our CCH (order + contraction, then the cache read back), and
  pandana 0.8's contraction hierarchy (built by ``pandana.Network``);
- the ``points x points`` free-flow matrix three ways: ``RoadNetwork.matrix``
  through the CCH (customization + bucket many-to-many), the same through one
  Dijkstra per source (the path below ``CH_MIN_JUNCTIONS``), and pandana's
  ``Network.shortest_path_lengths`` over every pair (a CH query per pair; the OSRM
  Python bindings on PyPI are source-only and need a C++ toolchain with Boost
  that the registries here do not provide, so pandana is the CH peer);
- results must agree: CH equals Dijkstra (durations and distances within 1e-6),
  pandana's durations within its rounding (it keeps weights in whole milliseconds,
  so 0.1 % at most);
- the time-dependent model on that network: a held-speed ``points x points``
  matrix for the 08:00 slice (snapping, one customization, the query), one more
  slice (17:30), and the exact time-dependent search on a few rows, extrapolated.

Prints a table with ratios and the process's peak memory after each phase.

    nice python benchmarks/roadnet_scale.py [--side 320] [--points 1000] [--seed 1]
        [--no-pandana] [--no-dijkstra] [--exact-rows 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _city import synthetic_city
from lastmile.domain import Location
from lastmile.travel.network import RoadNetwork
from lastmile.travel.network.ch import ContractionHierarchy
from lastmile.travel.time_dependent import TimeDependentModel


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(label: str, rows: list[tuple[str, float, float, float]], fn: Any) -> Any:
    """Run ``fn``, recording wall seconds, CPU seconds (all threads) and peak memory."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows.append((label, seconds, cpu, peak_mb()))
    print(f"  {label:<58} {seconds:8.2f} s  cpu {cpu:8.2f} s  peak {peak_mb():6.0f} MB", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=320, help="grid side of the synthetic city")
    parser.add_argument("--points", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-pandana", action="store_true")
    parser.add_argument("--no-dijkstra", action="store_true")
    parser.add_argument("--exact-rows", type=int, default=8, help="rows of the exact TD search")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    rows: list[tuple[str, float, float, float]] = []
    built = timed("generate synthetic city", rows, lambda: synthetic_city(args.side, seed=0))
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "city.car.lastmile.npz"
        built.save(cache)
        net = RoadNetwork.load(cache)
        print(f"network: {net.n_nodes} nodes, {net.n_edges} edges, {net.n_junctions} junctions")
        g = net._searcher()
        ch = timed(
            "CCH preprocessing (order + contraction)",
            rows,
            lambda: ContractionHierarchy.build(
                g.indptr,
                g.slot_head,
                np.asarray(net.node_lon[g.junction_nodes]),
                np.asarray(net.node_lat[g.junction_nodes]),
            ),
        )
        assert net.ch_file is not None
        ch.save(net.ch_file)
        timed("CCH read back from the network's cache", rows, net.hierarchy)
        print(f"  hierarchy: {ch.n_arcs} upward arcs, {ch.n_nodes} junctions")
        w = g.weights(net.edge_freeflow_s)
        timed("CCH customization (free flow)", rows, w.metric)

        rng = np.random.default_rng(args.seed)
        nodes = rng.choice(net.n_nodes, args.points, replace=False)
        points = net.node_points(nodes)
        n = args.points
        ch_dur, ch_dist = timed(
            f"{n}x{n} matrix, CCH (customized: query only)",
            rows,
            lambda: net.matrix(points, method="ch"),
        )
        assert np.isfinite(ch_dur).all()
        if not args.no_dijkstra:
            dj_dur, dj_dist = timed(
                f"{n}x{n} matrix, Dijkstra per source",
                rows,
                lambda: net.matrix(points, method="dijkstra"),
            )
            assert np.abs(dj_dur - ch_dur).max() < 1e-6, np.abs(dj_dur - ch_dur).max()
            assert np.abs(dj_dist - ch_dist).max() < 1e-6, np.abs(dj_dist - ch_dist).max()
            print("  CH and Dijkstra agree (durations and distances within 1e-6)")
        if not args.no_pandana:
            import pandana
            import pandas as pd

            pnet = timed(
                "pandana 0.8 preprocessing (its CH)",
                rows,
                lambda: pandana.Network(
                    pd.Series(net.node_lon),
                    pd.Series(net.node_lat),
                    pd.Series(net.edge_tail),
                    pd.Series(net.edge_head),
                    pd.DataFrame({"time": net.edge_freeflow_s}),
                    twoway=False,
                ),
            )
            a = np.repeat(nodes, n)
            b = np.tile(nodes, n)
            lens = timed(
                f"{n}x{n} matrix, pandana shortest_path_lengths",
                rows,
                lambda: np.asarray(pnet.shortest_path_lengths(a, b, imp_name="time")),
            )
            diff = np.abs(lens.reshape(n, n) - ch_dur)
            rel = diff / np.maximum(ch_dur, 1.0)
            print(
                f"  pandana vs CH: |duration difference| median {np.median(diff):.4f} s, "
                f"max {diff.max():.4f} s, max relative {rel.max():.2e}"
            )
            # pandana keeps each edge in whole milliseconds: 0.5 ms per edge at most.
            assert rel.max() < 1e-3

        # -- the time-dependent model on the same network --------------------------
        model = TimeDependentModel(net, epoch=dt.datetime(2026, 3, 3))  # a Tuesday
        locs = [Location(float(net.node_lon[k]), float(net.node_lat[k])) for k in nodes]
        bound = timed("TD: snap the locations (bind)", rows, lambda: model.bind(locs))
        held = timed(
            f"TD: {n}x{n} held-speed matrix, 08:00 slice (customize + query)",
            rows,
            lambda: bound.frozen_matrix(8 * 3600),
        )
        timed(
            f"TD: {n}x{n} held-speed matrix, 17:30 slice",
            rows,
            lambda: bound.frozen_matrix(17 * 3600 + 1800),
        )
        assert (held.durations >= np.rint(ch_dur) - 1).all()
        k = min(args.exact_rows, n)
        if k:
            bound.matrix_rows([n - 1], [0])  # compile the search before timing it
            exact = timed(
                f"TD: exact search, {k} of {n} rows (08:00)",
                rows,
                lambda: bound.matrix_rows(list(range(k)), [8 * 3600] * k),
            )
            per_row = rows[-1][1] / k
            gap = np.abs(exact[0] - held.durations[:k])
            print(
                f"  exact TD rows: {per_row:.3f} s per row, about {per_row * n:.0f} s for "
                f"{n} rows; held-speed vs exact: median {np.median(gap):.0f} s, "
                f"max {gap.max():.0f} s"
            )

    by = {label: seconds for label, seconds, _, _ in rows}
    ch_q = by[f"{n}x{n} matrix, CCH (customized: query only)"]
    ch_total = ch_q + by["CCH customization (free flow)"]
    print()
    print(f"{'phase':<60} {'wall s':>8} {'cpu s':>8} {'x CCH':>7} {'peak MB':>8}")
    for label, seconds, cpu, mb in rows:
        ratio = ""
        if "matrix," in label and "TD" not in label:
            ratio = f"{seconds / ch_total:7.2f}"
        print(f"{label:<60} {seconds:8.2f} {cpu:8.2f} {ratio:>7} {mb:8.0f}")
    print(f"CCH matrix with its customization: {ch_total:.2f} s (ratios above are against this)")


if __name__ == "__main__":
    main()
