"""Write a ``RoadNetwork`` as OpenStreetMap XML, so OSRM can route on the same roads.

``write_osm_xml(net, path)`` writes one ``<node>`` per road node (its ``node_id``,
lon, lat with 7 decimals, as OSM stores them) and one ``<way>`` per street
(``edge_way_id``): its nodes in order along the street, and the tags

- ``highway``: the street's class (``class_names[edge_class]``);
- ``maxspeed``: the street's free-flow speed (length / time of its edges), in whole
  km/h as OSM has it, times ``maxspeed_factor``: OSRM's car profile drives at 0.8 x
  ``maxspeed`` (its ``speed_reduction``), so ``maxspeed_factor=1 / 0.8`` gives OSRM
  the speeds lastmile uses, to rounding;
- ``oneway=yes`` when the street has no edge against its direction (the way's
  nodes then run in the direction of travel), ``oneway=no`` otherwise (OSRM
  would take an untagged ``highway=motorway`` as one way).

A street whose edges do not form a single path with one direction (not made by
``benchmarks/_city.py``, but possible in a network read from an extract) is
written as one way per segment, each with its own ``oneway``.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import quoteattr

import numpy as np

#: Bump when the output changes, so caches keyed by it are rebuilt.
WRITER_VERSION = 1


def _street_paths(tail: np.ndarray, head: np.ndarray) -> list[tuple[list[int], bool]] | None:
    """The node sequence of one street and whether it is one way, or ``None``
    when its edges are not one simple path with a single direction rule."""
    pairs = set(zip(tail.tolist(), head.tolist(), strict=True))
    undirected = {(min(u, v), max(u, v)) for u, v in pairs}
    two_way = [(u, v) in pairs and (v, u) in pairs for u, v in undirected]
    if any(two_way) and not all(two_way):
        return None
    oneway = not any(two_way)
    adj: dict[int, list[int]] = {}
    for u, v in undirected:
        adj.setdefault(u, []).append(v)
        adj.setdefault(v, []).append(u)
    if any(len(n) > 2 for n in adj.values()):
        return None
    if oneway:
        heads = {v for _, v in pairs}
        starts = [u for u, _ in pairs if u not in heads]
        nxt = dict(pairs)
        if len(starts) != 1 or len(nxt) != len(pairs):
            return None
        seq = [starts[0]]
        while seq[-1] in nxt:
            seq.append(nxt[seq[-1]])
    else:
        ends = sorted(u for u, n in adj.items() if len(n) == 1)
        if len(ends) != 2:
            return None
        seq = [ends[0]]
        prev = -1
        while True:
            options = [v for v in adj[seq[-1]] if v != prev]
            if not options:
                break
            prev = seq[-1]
            seq.append(options[0])
    if len(seq) != len(undirected) + 1:
        return None
    return [(seq, oneway)]


def osm_ways(net: Any) -> list[tuple[list[int], bool, int, float]]:
    """``(node indices in order, one way, class code, speed km/h)`` per OSM way."""
    tail = np.asarray(net.edge_tail)
    head = np.asarray(net.edge_head)
    way = np.asarray(net.edge_way_id)
    speed = 3.6 * np.asarray(net.edge_length_m) / np.asarray(net.edge_freeflow_s)
    cls = np.asarray(net.edge_class)
    order = np.argsort(way, kind="stable")
    bounds = np.flatnonzero(np.diff(way[order])) + 1
    ways: list[tuple[list[int], bool, int, float]] = []
    for group in np.split(order, bounds):
        if group.size == 0:
            continue
        t, h = tail[group], head[group]
        kph = float(np.median(speed[group]))
        classes = np.unique(cls[group])
        paths = _street_paths(t, h) if classes.size == 1 else None
        if paths is None:
            by_pair = {(int(tail[e]), int(head[e])): int(e) for e in group}
            for (u, v), e in by_pair.items():
                if (v, u) not in by_pair:
                    ways.append(([u, v], True, int(cls[e]), float(speed[e])))
                elif u < v:
                    ways.append(([u, v], False, int(cls[e]), float(speed[e])))
            continue
        for seq, oneway in paths:
            ways.append((seq, oneway, int(classes[0]), kph))
    return ways


def write_osm_xml(net: Any, path: str | Path, *, maxspeed_factor: float = 1.0) -> dict[str, int]:
    """Write ``net`` as OSM XML at ``path``; returns the counts of nodes and ways."""
    ways = osm_ways(net)
    node_id = np.asarray(net.node_id, dtype=np.int64)
    lon = np.asarray(net.node_lon)
    lat = np.asarray(net.node_lat)
    n_oneway = 0
    with open(path, "w", encoding="utf-8") as out:
        _write(out, '<?xml version="1.0" encoding="UTF-8"?>\n')
        _write(out, '<osm version="0.6" generator="lastmile benchmarks/_osm_xml.py">\n')
        _write(
            out,
            f'  <bounds minlat="{lat.min():.7f}" minlon="{lon.min():.7f}" '
            f'maxlat="{lat.max():.7f}" maxlon="{lon.max():.7f}"/>\n',
        )
        out.writelines(
            f'  <node id="{i}" version="1" lat="{y:.7f}" lon="{x:.7f}"/>\n'
            for i, x, y in zip(node_id.tolist(), lon.tolist(), lat.tolist(), strict=True)
        )
        for k, (seq, oneway, code, kph) in enumerate(ways, start=1):
            n_oneway += oneway
            maxspeed = max(1, round(kph * maxspeed_factor))
            refs = "".join(f'    <nd ref="{node_id[n]}"/>\n' for n in seq)
            _write(
                out,
                f'  <way id="{k}" version="1">\n{refs}'
                f'    <tag k="highway" v={quoteattr(net.class_names[code])}/>\n'
                f'    <tag k="maxspeed" v="{maxspeed}"/>\n'
                f'    <tag k="oneway" v="{"yes" if oneway else "no"}"/>\n'
                "  </way>\n",
            )
        _write(out, "</osm>\n")
    return {"nodes": int(node_id.size), "ways": len(ways), "oneway_ways": int(n_oneway)}


def _write(out: IO[str], text: str) -> None:
    out.write(text)
