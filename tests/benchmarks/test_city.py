"""The synthetic city of the road-matrix benchmark: a connected, city-like network."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    name = "lastmile_bench_city"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "_city.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_small_city_is_strongly_connected_with_classes_one_ways_and_shape_nodes() -> None:
    net = _load().synthetic_city(40, seed=3)
    n = net.n_nodes
    graph = csr_matrix((np.ones(net.n_edges), (net.edge_tail, net.edge_head)), shape=(n, n))
    assert connected_components(graph, directed=True, connection="strong")[0] == 1
    classes = {net.class_names[c] for c in np.unique(net.edge_class)}
    assert {"motorway", "primary", "secondary", "tertiary", "residential"} <= classes
    # One-way streets: edges without their reverse.
    assert (net.edge_indices(net.edge_head, net.edge_tail) < 0).sum() > 100
    # Shape nodes: more nodes than junctions.
    assert n > 1.3 * net.n_junctions
    # Its matrices: the hierarchy and Dijkstra agree on it.
    rng = np.random.default_rng(0)
    points = net.node_points(rng.choice(n, 40, replace=False))
    ch = net.matrix(points, method="ch")
    dj = net.matrix(points, method="dijkstra")
    np.testing.assert_allclose(ch[0], dj[0], rtol=0, atol=1e-6)
    np.testing.assert_allclose(ch[1], dj[1], rtol=0, atol=1e-6)
