"""City-size road matrices: our contraction hierarchy against Dijkstra, pandana and OSRM.

On a synthetic city of about 280,000 nodes (``benchmarks/_city.py``: no
city-size OSM extract ships on a package registry reachable here; the largest,
Monaco in tests/data/osm, has 14,000 nodes), with ``--points`` road nodes drawn
at random as sources and targets:

- preprocessing: our CCH (order + contraction, then the cache read back), and
  pandana 0.8's contraction hierarchy (built by ``pandana.Network``);
- the ``points x points`` free-flow matrix three ways: ``RoadNetwork.matrix``
  through the CCH (customization + bucket many-to-many), the same through one
  Dijkstra per source (the path below ``CH_MIN_JUNCTIONS``), and pandana's
  ``Network.shortest_path_lengths`` over every pair (a CH query per pair);
- OSRM's contraction hierarchy on the same network (``_osrm_ch.py``): the city
  written as OSM XML (``highway``, ``maxspeed``, ``oneway`` per street, see
  ``_osm_xml.py``), ``osrm-extract -p car.lua`` and ``osrm-contract`` from PyPI's
  ``osrm-bindings`` wheel (cached per network under ``.cache/osrm``; the times
  shown are those of the run that built the cache, ``--osrm-fresh`` rebuilds),
  then the same points' ``table`` in-process through the wheel's Python module
  (run by a CPython >= 3.12 in a throwaway venv; load time apart, best of
  ``--osrm-repeat``; durations only, and durations + distances as lastmile's
  matrix gives) and over HTTP from ``osrm-routed --algorithm ch``. OSRM's figures
  differ from ours by its turn penalties and whole-km/h ``maxspeed``: their
  ratio is printed. ``OSRM not run: <reason>`` when it cannot run here (each
  preprocessing program may run ``--osrm-timeout`` seconds).
  ``--osrm-algorithm mld`` runs OSRM's multi-level Dijkstra instead
  (``osrm-partition`` + ``osrm-customize``): on this grid-like city
  ``osrm-contract`` is very slow (its edge-based graph, turns included, is far
  harder to contract than the node graph pandana and we contract: on 2 shared
  cores 24 s for ``--side 40``, 127 s for ``--side 80``, 730 s for
  ``--side 160``, unfinished after 30 minutes for ``--side 320``);
- results must agree: CH equals Dijkstra (durations and distances within 1e-6),
  pandana's durations within its rounding (it keeps weights in whole milliseconds,
  so 0.1 % at most);
- the time-dependent model on that network: a held-speed ``points x points``
  matrix for the 08:00 slice (snapping, one customization, the query), one more
  slice (17:30), and the exact time-dependent search on a few rows, extrapolated.

Prints a table with ratios and the process's peak memory after each phase
(OSRM's phases run in other processes: their memory is not in it).

    nice python benchmarks/roadnet_scale.py [--side 320] [--points 1000] [--seed 1]
        [--no-pandana] [--no-dijkstra] [--exact-rows 8] [--no-osrm] [--osrm-fresh]
        [--osrm-repeat 3] [--no-osrm-http] [--osrm-algorithm ch|mld]
        [--osrm-timeout 1800] [--json PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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

REPO = Path(__file__).resolve().parents[1]
Row = tuple[str, float, float | None, float | None]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(label: str, rows: list[Row], fn: Any) -> Any:
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
    parser.add_argument("--no-osrm", action="store_true", help="skip the OSRM peer")
    parser.add_argument(
        "--osrm-fresh", action="store_true", help="rebuild OSRM's data even when cached"
    )
    parser.add_argument("--osrm-repeat", type=int, default=3, help="best of N OSRM tables")
    parser.add_argument("--no-osrm-http", action="store_true", help="skip osrm-routed")
    parser.add_argument(
        "--osrm-algorithm",
        choices=("ch", "mld"),
        default="ch",
        help="OSRM's contraction hierarchy (the peer) or its multi-level Dijkstra",
    )
    parser.add_argument(
        "--osrm-timeout",
        type=float,
        default=1800.0,
        help="seconds each OSRM preprocessing program may run",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    load_before = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before}")
    rows: list[Row] = []
    osrm_figures: dict[str, Any] = {}
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
            # pandana keeps each edge in whole milliseconds: 0.5 ms per edge at most, and a
            # path has at most (its duration / the shortest edge's) + 1 edges.
            shortest = float(np.min(net.edge_freeflow_s[net.edge_freeflow_s > 0]))
            bound = 5e-4 * (ch_dur / shortest + 1.0)
            assert (diff <= bound).all(), float((diff - bound).max())
        if not args.no_osrm:
            run_osrm(args, net, nodes, ch_dur, ch_dist, rows, osrm_figures, Path(tmp))

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
        cpu_s = "-" if cpu is None else f"{cpu:8.2f}"
        mb_s = "-" if mb is None else f"{mb:8.0f}"
        print(f"{label:<60} {seconds:8.2f} {cpu_s:>8} {ratio:>7} {mb_s:>8}")
    print(f"CCH matrix with its customization: {ch_total:.2f} s (ratios above are against this)")
    for key, what in (
        ("table_both_s", "in-process, durations + distances"),
        ("table_durations_s", "in-process, durations only"),
        ("http_table_s", "osrm-routed over HTTP, durations + distances"),
    ):
        if key in osrm_figures:
            over = ch_total / osrm_figures[key]
            osrm_figures["ratio_cch_over_" + key[:-2]] = over
            print(
                f"lastmile CCH (customization + query) / OSRM "
                f"{osrm_figures['algorithm'].upper()} table ({what}): {over:.2f}"
            )
    if "osrm_not_run" in osrm_figures:
        print(f"OSRM not run: {osrm_figures['osrm_not_run']}")
    load_after = os.getloadavg()
    print(f"load average after: {load_after}")
    if args.json:
        figures = {
            "side": args.side,
            "points": n,
            "seed": args.seed,
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "network": {
                "nodes": net.n_nodes,
                "edges": net.n_edges,
                "junctions": net.n_junctions,
            },
            "phases": [
                {"phase": label, "wall_s": s_, "cpu_s": cpu, "peak_mb": mb}
                for label, s_, cpu, mb in rows
            ],
            "cch_matrix_with_customization_s": ch_total,
            "osrm": osrm_figures,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


def run_osrm(
    args: argparse.Namespace,
    net: RoadNetwork,
    nodes: np.ndarray,
    ch_dur: np.ndarray,
    ch_dist: np.ndarray,
    rows: list[Row],
    figures: dict[str, Any],
    work: Path,
) -> None:
    """OSRM on the same network and points (CH, or MLD with ``--osrm-algorithm mld``):
    its rows join ``rows``."""
    from _osrm_ch import ensure_bindings_env, prepare, table_http, table_in_process
    from lastmile.travel.osrm import OSRMUnavailable

    n = len(nodes)
    algo = args.osrm_algorithm
    name = f"OSRM {algo.upper()}"
    figures["algorithm"] = algo
    cache = REPO / ".cache" / "osrm"
    # Six decimals, as OSRM keeps coordinates: in-process and HTTP get the same points.
    lonlat = np.round(np.c_[net.node_lon[nodes], net.node_lat[nodes]], 6)

    def add(label: str, seconds: float, cpu: float | None = None) -> None:
        rows.append((label, seconds, cpu, None))
        cpu_s = "" if cpu is None else f"  cpu {cpu:8.2f} s"
        print(f"  {label:<58} {seconds:8.2f} s{cpu_s}", flush=True)

    try:
        base, prep = prepare(
            net,
            f"city-{args.side}-s0",
            cache,
            algo,
            fresh=args.osrm_fresh,
            timeout_s=args.osrm_timeout,
        )
        figures["prepare"] = prep
        when = f", cached: built {prep['built']}" if prep["cached"] else ""
        print(
            f"  OSRM data: {prep['osm']['nodes']} OSM nodes, {prep['osm']['ways']} ways "
            f"({prep['osm']['oneway_ways']} one way), {prep['threads']} threads{when}"
        )
        add("OSRM: network written as OSM XML", prep["write_osm_s"])
        add("OSRM preprocessing: osrm-extract (car.lua)", prep["extract_s"])
        if algo == "ch":
            add("OSRM preprocessing: osrm-contract (CH)", prep["contract_s"])
        else:
            add("OSRM preprocessing: osrm-partition (MLD)", prep["partition_s"])
            add("OSRM preprocessing: osrm-customize (MLD)", prep["customize_s"])
        python = ensure_bindings_env(cache)
        fig, o_dur, o_dist = table_in_process(python, base, lonlat, args.osrm_repeat, work, algo)
    except OSRMUnavailable as exc:
        figures["osrm_not_run"] = str(exc)
        print(f"  OSRM not run: {exc}")
        return
    figures.update(fig)
    print(
        f"  OSRM (osrm-bindings {fig['osrm_bindings']}, Python {fig['python']}): "
        f"snapping {fig['snap_median_m']:.2f} m median, {fig['snap_max_m']:.2f} m max; "
        f"first table call {fig['first_table_s']:.2f} s"
    )
    add(f"{name} load in-process (osrm.OSRM)", fig["load_s"], fig["load_cpu_s"])
    add(f"{n}x{n} matrix, {name} table in-process, durations", fig["table_durations_s"],
        fig["table_durations_cpu_s"])  # fmt: skip
    add(f"{n}x{n} matrix, {name} table in-process, dur + dist", fig["table_both_s"],
        fig["table_both_cpu_s"])  # fmt: skip
    off = ~np.eye(n, dtype=bool)
    missing = int((~np.isfinite(o_dur[off])).sum())
    figures["pairs_without_route"] = missing
    for key, mine, theirs in (("duration", ch_dur, o_dur), ("distance", ch_dist, o_dist)):
        ratio = theirs[off] / np.maximum(mine[off], 1.0)
        ratio = ratio[np.isfinite(ratio)]
        q = np.quantile(ratio, [0.0, 0.05, 0.5, 0.95, 1.0])
        figures[f"{key}_ratio_osrm_over_lastmile"] = dict(
            zip(("min", "p05", "median", "p95", "max"), q.tolist(), strict=True)
        )
        print(
            f"  OSRM / lastmile {key}s over {ratio.size} pairs: median {q[2]:.3f}, "
            f"5-95 % {q[1]:.3f}-{q[3]:.3f}, min {q[0]:.3f}, max {q[4]:.3f}"
        )
    if missing:
        print(f"  OSRM found no route for {missing} pairs")
    if not args.no_osrm_http:
        try:
            http, h_dur = table_http(base, lonlat, args.osrm_repeat, cache, algo)
        except OSRMUnavailable as exc:
            figures["http_not_run"] = str(exc)
            print(f"  OSRM over HTTP not run: {exc}")
            return
        figures["http_start_s"] = http["start_s"]
        figures["http_table_s"] = http["table_s"]
        same = np.isfinite(h_dur) & np.isfinite(o_dur)
        figures["http_vs_in_process_max_abs_s"] = gap = float(np.abs(h_dur - o_dur)[same].max())
        add(f"osrm-routed --algorithm {algo} start", http["start_s"])
        add(f"{n}x{n} matrix, osrm-routed {algo.upper()} table, HTTP, dur + dist", http["table_s"])
        print(f"  HTTP and in-process tables agree within {gap:.2f} s")


if __name__ == "__main__":
    main()
