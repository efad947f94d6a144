"""A synthetic city-size road network (no large OSM extract ships on a package registry).

``synthetic_city(side)`` lays out a ``side x side`` street grid and makes it
look like a city's roads rather than a lattice:

- irregular blocks: row and column spacings drawn between 60 and 200 m, every
  junction moved by up to 12 m;
- road classes: a primary arterial every 10th row/column, a secondary one every
  5th, a tertiary one every 15th (offset), residential streets elsewhere, and
  two motorways crossing the city (a row and a column) that other roads cross
  on bridges without meeting, except at an interchange every 12 blocks;
- one-way streets: a third of the residential rows and columns alternate
  directions (a one-way grid), plus 4 % of residential blocks one way;
- missing streets: 7 % of residential blocks removed (parks, rivers, dead ends);
- irregular links: 2 % of blocks get a diagonal street;
- shape nodes: 45 % of the blocks bend (1 to 3 nodes in the middle, as OSM ways
  have), so nodes outnumber junctions as in a real extract;
- free-flow speeds per class (motorway 100, primary 50, secondary 45,
  tertiary 40, residential 30 km/h) with +-10 % per street.

Only the largest strongly connected part is kept (as ``RoadNetwork.from_pbf``
does). ``side=320`` gives 277,513 nodes (100,658 junctions) and 661,489 edges.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from lastmile.travel.network import ROAD_CLASSES, RoadNetwork

_SPEED_KPH = {
    "motorway": 100.0,
    "primary": 50.0,
    "secondary": 45.0,
    "tertiary": 40.0,
    "residential": 30.0,
}
_M_PER_DEG_LAT = 111_320.0


def synthetic_city(side: int = 320, *, seed: int = 0, lat0: float = 48.0) -> RoadNetwork:
    """A city-like road network (see the module docstring)."""
    rng = np.random.default_rng(seed)
    gaps_x = np.concatenate([[0.0], np.cumsum(rng.uniform(60, 200, side - 1))])
    gaps_y = np.concatenate([[0.0], np.cumsum(rng.uniform(60, 200, side - 1))])
    ix, iy = np.meshgrid(np.arange(side), np.arange(side), indexing="xy")
    ix, iy = ix.ravel(), iy.ravel()
    px = gaps_x[ix] + rng.uniform(-12, 12, ix.size)
    py = gaps_y[iy] + rng.uniform(-12, 12, iy.size)

    def node(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        return cy * side + cx

    def line_class(k: np.ndarray) -> np.ndarray:
        cls = np.full(k.shape, "residential", dtype=object)
        cls[k % 15 == 7] = "tertiary"
        cls[k % 5 == 0] = "secondary"
        cls[k % 10 == 0] = "primary"
        return cls

    motor_row, motor_col = side // 3, (2 * side) // 3
    # Horizontal blocks (along a row y) and vertical blocks (along a column x).
    hx, hy = np.meshgrid(np.arange(side - 1), np.arange(side), indexing="xy")
    hx, hy = hx.ravel(), hy.ravel()
    vx, vy = np.meshgrid(np.arange(side), np.arange(side - 1), indexing="xy")
    vx, vy = vx.ravel(), vy.ravel()
    a = np.concatenate([node(hx, hy), node(vx, vy)])
    b = np.concatenate([node(hx + 1, hy), node(vx, vy + 1)])
    cls = np.concatenate([line_class(hy), line_class(vx)])
    along = np.concatenate([hy, vx])  # the row or column a block lies on
    horizontal = np.concatenate([np.ones(hx.size, bool), np.zeros(vx.size, bool)])
    cls[horizontal & (along == motor_row)] = "motorway"
    cls[~horizontal & (along == motor_col)] = "motorway"
    # Roads crossing a motorway meet it only at interchanges: elsewhere they pass
    # over or under, which on a plane graph means the block touching it is gone.
    bx = np.concatenate([hx, vx])
    by = np.concatenate([hy, vy])
    touches_row = ~horizontal & ((by == motor_row) | (by + 1 == motor_row))
    touches_col = horizontal & ((bx == motor_col) | (bx + 1 == motor_col))
    keep = ~((touches_row & (bx % 12 != 0)) | (touches_col & (by % 12 != 0)))
    residential = cls == "residential"
    keep &= ~(residential & (rng.random(cls.size) < 0.07))
    a, b, cls, along = (arr[keep] for arr in (a, b, cls, along))
    residential = cls == "residential"
    # One-way grid: a third of the residential lines, alternating direction.
    line_oneway = (along % 3 == 1) & residential
    flip = line_oneway & ((along // 3) % 2 == 1)
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    oneway = line_oneway | (residential & (rng.random(cls.size) < 0.04))
    # Diagonal streets across 2 % of the blocks.
    n_diag = int(0.02 * side * side)
    dx = rng.integers(0, side - 1, n_diag)
    dy = rng.integers(0, side - 1, n_diag)
    up = rng.random(n_diag) < 0.5
    da = node(dx, np.where(up, dy, dy + 1))
    db = node(dx + 1, np.where(up, dy + 1, dy))
    # Bridges: the roads that cross a motorway without meeting it.
    cols = np.array([x for x in range(side) if x % 12 != 0 and x != motor_col])
    rows = np.array([y for y in range(side) if y % 12 != 0 and y != motor_row])
    ba = np.concatenate(
        [
            node(cols, np.full(cols.size, motor_row - 1)),
            node(np.full(rows.size, motor_col - 1), rows),
        ]
    )
    bb = np.concatenate(
        [
            node(cols, np.full(cols.size, motor_row + 1)),
            node(np.full(rows.size, motor_col + 1), rows),
        ]
    )
    b_cls = np.concatenate([line_class(cols), line_class(rows)])
    a = np.concatenate([a, da, ba])
    b = np.concatenate([b, db, bb])
    cls = np.concatenate([cls, np.full(n_diag, "residential", dtype=object), b_cls])
    oneway = np.concatenate([oneway, np.zeros(n_diag + ba.size, bool)])
    # No two streets between the same pair of junctions.
    key = np.minimum(a, b) * side * side + np.maximum(a, b)
    _, first = np.unique(key, return_index=True)
    a, b, cls, oneway = a[first], b[first], cls[first], oneway[first]

    # Shape nodes: a bending street is 2-4 OSM segments.
    n_street = a.size
    bends = np.where(rng.random(n_street) < 0.45, rng.integers(1, 4, n_street), 0)
    n_junction = side * side
    n_shape = int(bends.sum())
    street_of_shape = np.repeat(np.arange(n_street), bends)
    k_in_street = np.arange(n_shape) - np.repeat(np.cumsum(bends) - bends, bends)
    frac = (k_in_street + 1) / (bends[street_of_shape] + 1)
    sx = px[a[street_of_shape]] + frac * (px[b[street_of_shape]] - px[a[street_of_shape]])
    sy = py[a[street_of_shape]] + frac * (py[b[street_of_shape]] - py[a[street_of_shape]])
    sx += rng.uniform(-8, 8, n_shape)
    sy += rng.uniform(-8, 8, n_shape)
    all_x = np.concatenate([px, sx])
    all_y = np.concatenate([py, sy])
    shape_id = n_junction + np.arange(n_shape)
    # Segments: junction a -> shape 1 -> ... -> shape k -> junction b.
    seg_from, seg_to, seg_street = [], [], []
    plain = bends == 0
    seg_from.append(a[plain])
    seg_to.append(b[plain])
    seg_street.append(np.flatnonzero(plain))
    first_shape = np.cumsum(bends) - bends
    bent = np.flatnonzero(~plain)
    seg_from.append(a[bent])
    seg_to.append(shape_id[first_shape[bent]])
    seg_street.append(bent)
    inner = k_in_street < bends[street_of_shape] - 1
    seg_from.append(shape_id[inner])
    seg_to.append(shape_id[inner] + 1)
    seg_street.append(street_of_shape[inner])
    last = k_in_street == bends[street_of_shape] - 1
    seg_from.append(shape_id[last])
    seg_to.append(b[street_of_shape[last]])
    seg_street.append(street_of_shape[last])
    f = np.concatenate(seg_from)
    t = np.concatenate(seg_to)
    street = np.concatenate(seg_street)
    two_way = ~oneway[street]
    tail = np.concatenate([f, t[two_way]])
    head = np.concatenate([t, f[two_way]])
    street = np.concatenate([street, street[two_way]])
    length = np.hypot(all_x[tail] - all_x[head], all_y[tail] - all_y[head])
    length = np.maximum(length, 1.0)
    speed = np.array([_SPEED_KPH[c] for c in cls])
    street_speed = speed * rng.uniform(0.9, 1.1, n_street)
    freeflow = length / (street_speed[street] / 3.6)
    class_index = {name: i for i, name in enumerate(ROAD_CLASSES)}
    edge_class = np.array([class_index[c] for c in cls])[street]

    # Largest strongly connected part, renumbered.
    n_all = all_x.size
    graph = csr_matrix((np.ones(tail.size), (tail, head)), shape=(n_all, n_all))
    _, labels = connected_components(graph, directed=True, connection="strong")
    big = labels == np.bincount(labels).argmax()
    new_id = np.full(n_all, -1)
    new_id[big] = np.arange(int(big.sum()))
    e_keep = big[tail] & big[head]
    lon0 = 11.0
    cos0 = np.cos(np.radians(lat0))
    return RoadNetwork(
        node_id=np.flatnonzero(big) + 1,
        node_lon=lon0 + all_x[big] / (_M_PER_DEG_LAT * cos0),
        node_lat=lat0 + all_y[big] / _M_PER_DEG_LAT,
        edge_tail=new_id[tail[e_keep]],
        edge_head=new_id[head[e_keep]],
        edge_length_m=length[e_keep],
        edge_freeflow_s=freeflow[e_keep],
        edge_class=edge_class[e_keep],
        edge_way_id=street[e_keep] + 1,
        profile="car",
        source=f"synthetic city {side}x{side} seed {seed}",
    )
