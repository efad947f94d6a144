"""The OSM XML the road-matrix benchmark gives OSRM: the same roads as the network."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _load(module: str) -> ModuleType:
    name = f"lastmile_bench{module}"
    if name not in sys.modules:
        path = ROOT / "benchmarks" / f"{module}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


def test_city_as_osm_xml_has_every_node_and_directed_edge_with_class_and_speed(
    tmp_path: Path,
) -> None:
    net = _load("_city").synthetic_city(24, seed=5)
    path = tmp_path / "city.osm"
    counts = _load("_osm_xml").write_osm_xml(net, path, maxspeed_factor=1 / 0.8)

    root = ET.parse(path).getroot()
    nodes = root.findall("node")
    ways = root.findall("way")
    assert counts == {
        "nodes": net.n_nodes,
        "ways": len(ways),
        "oneway_ways": sum(w.find("tag[@k='oneway']").get("v") == "yes" for w in ways),
    }
    # Every road node once, at its coordinates.
    index = {int(n.get("id")): k for k, n in enumerate(nodes)}
    assert len(index) == net.n_nodes
    assert [int(n.get("id")) for n in nodes] == net.node_id.tolist()
    lon = np.array([float(n.get("lon")) for n in nodes])
    np.testing.assert_allclose(lon, net.node_lon, atol=1e-7)
    # One way per street here (each street of the city is one path).
    assert len(ways) == np.unique(net.edge_way_id).size

    # The directed edges the ways allow are exactly the network's, with its class
    # and (to whole km/h) its speed / 0.8.
    kph = 3.6 * net.edge_length_m / net.edge_freeflow_s
    edge = {
        (int(u), int(v)): k
        for k, (u, v) in enumerate(zip(net.edge_tail, net.edge_head, strict=True))
    }
    seen: set[tuple[int, int]] = set()
    oneway_ways = 0
    for way in ways:
        tags = {t.get("k"): t.get("v") for t in way.findall("tag")}
        seq = [index[int(nd.get("ref"))] for nd in way.findall("nd")]
        oneway = tags["oneway"] == "yes"
        oneway_ways += oneway
        pairs = list(itertools.pairwise(seq))
        directed = pairs if oneway else pairs + [(v, u) for u, v in pairs]
        for pair in directed:
            k = edge[pair]
            seen.add(pair)
            assert tags["highway"] == net.class_names[net.edge_class[k]]
            assert abs(int(tags["maxspeed"]) - kph[k] / 0.8) <= 0.5 + 1e-9
        if tags["highway"] == "motorway":
            assert not oneway  # the city's motorways run both ways
    assert seen == set(edge)
    assert oneway_ways > 20
