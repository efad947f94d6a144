"""Reading an OpenStreetMap ``.osm.pbf`` extract into road network arrays.

``read_pbf_arrays`` keeps the ways a profile may use (its road classes, access
tags, and ``maxweight``/``maxheight`` against its vehicle), honours one-way streets,
turns ``maxspeed`` (else the profile's speed per road class) into free-flow
travel time, drops parallel twins (the faster one stays) and keeps the largest
strongly connected part, so every stop can reach every other.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from lastmile.exceptions import FormatError, InputError
from lastmile.travel.network.geometry import haversine_m_array
from lastmile.travel.network.profiles import (
    ROAD_CLASSES,
    Profile,
    way_directions,
    way_speeds_kph,
)

ATTRIBUTION = "Map data (c) OpenStreetMap contributors, ODbL (openstreetmap.org/copyright)"


def read_pbf_arrays(path: Path, profile: Profile) -> dict[str, Any]:
    """The keyword arguments of ``RoadNetwork`` for ``profile`` on the extract ``path``."""
    import osmium

    class_code = {name: k for k, name in enumerate(ROAD_CLASSES)}
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    way_start: list[int] = []
    way_id: list[int] = []
    way_class: list[int] = []
    way_fwd: list[float] = []  # speed forwards in km/h, 0 = not allowed
    way_bwd: list[float] = []
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {t.k: t.v for t in way.tags}
            if tags.get("highway") not in profile.speeds_kph:
                continue
            forward, backward = way_directions(tags, profile)
            if not (forward or backward):
                continue
            fwd_kph, bwd_kph = way_speeds_kph(tags, profile)
            way_start.append(len(refs))
            way_id.append(way.id)
            way_class.append(class_code[tags["highway"]])
            way_fwd.append(fwd_kph if forward else 0.0)
            way_bwd.append(bwd_kph if backward else 0.0)
            for nd in way.nodes:
                refs.append(nd.ref)
                loc = nd.location
                if loc.valid():
                    lons.append(loc.lon)
                    lats.append(loc.lat)
                else:  # node outside the extract: its edges are dropped
                    lons.append(math.nan)
                    lats.append(math.nan)
    except RuntimeError as exc:
        raise FormatError(f"cannot read as OSM PBF: {exc}", where=str(path)) from exc
    if not way_start:
        raise InputError(f"no road usable by profile {profile.name!r}", where=str(path))
    ref_a = np.asarray(refs, dtype=np.int64)
    lon_a = np.asarray(lons, dtype=np.float64)
    lat_a = np.asarray(lats, dtype=np.float64)
    starts = np.asarray(way_start, dtype=np.int64)
    ends = np.append(starts[1:], ref_a.shape[0])
    n_way = starts.shape[0]
    way_of = np.repeat(np.arange(n_way), ends - starts)
    # Consecutive node pairs inside one way.
    i = np.arange(ref_a.shape[0] - 1)
    same_way = way_of[i] == way_of[i + 1]
    i = i[same_way]
    j = i + 1
    ok = (ref_a[i] != ref_a[j]) & np.isfinite(lon_a[i]) & np.isfinite(lon_a[j])
    i, j = i[ok], j[ok]
    w = way_of[i]
    length = haversine_m_array(lon_a[i], lat_a[i], lon_a[j], lat_a[j])
    length = np.maximum(length, 0.01)  # distinct nodes on one spot: keep times positive
    fwd = np.asarray(way_fwd)[w]
    bwd = np.asarray(way_bwd)[w]
    cls = np.asarray(way_class, dtype=np.int64)[w]
    wid = np.asarray(way_id, dtype=np.int64)[w]
    f, b = fwd > 0, bwd > 0
    tail_ref = np.concatenate([ref_a[i][f], ref_a[j][b]])
    head_ref = np.concatenate([ref_a[j][f], ref_a[i][b]])
    e_len = np.concatenate([length[f], length[b]])
    e_time = np.concatenate([length[f] / (fwd[f] / 3.6), length[b] / (bwd[b] / 3.6)])
    e_cls = np.concatenate([cls[f], cls[b]])
    e_wid = np.concatenate([wid[f], wid[b]])
    # Nodes: unique OSM ids among edge ends.
    node_ids, first = np.unique(ref_a, return_index=True)
    tail = np.searchsorted(node_ids, tail_ref)
    head = np.searchsorted(node_ids, head_ref)
    # Parallel edges (two ways over the same nodes): keep the fastest.
    order = np.lexsort((e_time, head, tail))
    keep = np.ones(order.shape[0], dtype=bool)
    keep[1:] = (tail[order][1:] != tail[order][:-1]) | (head[order][1:] != head[order][:-1])
    sel = order[keep]
    tail, head = tail[sel], head[sel]
    e_len, e_time, e_cls, e_wid = e_len[sel], e_time[sel], e_cls[sel], e_wid[sel]
    # Largest strongly connected component: every stop can reach every other.
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = node_ids.shape[0]
    graph = csr_matrix((np.ones(tail.shape[0]), (tail, head)), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    counts = np.bincount(label[np.unique(np.concatenate([tail, head]))], minlength=label.max() + 1)
    biggest = int(np.argmax(counts))
    in_scc = label == biggest
    keep_e = in_scc[tail] & in_scc[head]
    new_index = np.cumsum(in_scc) - 1
    kept_nodes = np.flatnonzero(in_scc)
    return dict(
        node_id=node_ids[kept_nodes],
        node_lon=lon_a[first[kept_nodes]],
        node_lat=lat_a[first[kept_nodes]],
        edge_tail=new_index[tail[keep_e]],
        edge_head=new_index[head[keep_e]],
        edge_length_m=e_len[keep_e],
        edge_freeflow_s=e_time[keep_e],
        edge_class=e_cls[keep_e],
        edge_way_id=e_wid[keep_e],
        class_names=ROAD_CLASSES,
        profile=profile.name,
        source=str(path),
    )
