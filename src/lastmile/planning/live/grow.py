"""Growing a live view by locations without building it again.

The residual problem's locations are the problem's followed by the
vehicles' private "now" rows; new locations go between the two. Growing
copies matrices (or writes into their spare room) and moves every reference
to a private row up, instead of forecasting and validating every route again.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from lastmile.domain import Location, Order
from lastmile.exceptions import InputError
from lastmile.planning.live.routes import clone, with_orders
from lastmile.planning.live.view import LiveView
from lastmile.planning.problem import PlanningProblem, TravelMatrix

_T = TypeVar("_T")
#: ``(origins, destinations) -> (durations, distances)``, each ``len(origins) x len(destinations)``.
Between = Callable[[Sequence[Location], Sequence[Location]], tuple[np.ndarray, np.ndarray]]


def only_adds_locations(old: PlanningProblem, new: PlanningProblem) -> bool:
    """Whether ``new`` is ``old`` with locations added at the end and nothing else
    changed (the same matrices on the rows already there)."""
    n = len(old.locations)
    if (
        len(new.locations) < n
        or new.locations[:n] != old.locations
        or new.orders != old.orders
        or new.vehicles != old.vehicles
        or new.depots != old.depots
        or new.dimensions != old.dimensions
        or new.time_scale != old.time_scale
        or set(new.matrices) != set(old.matrices)
    ):
        return False
    for profile, m in old.matrices.items():
        g = new.matrices[profile]
        if (g.durations is m.durations and g.distances is m.distances) or g.is_grown_from(m):
            continue  # the same arrays, or grown from them (their block copied)
        if not (
            np.array_equal(g.durations[:n, :n], m.durations)
            and np.array_equal(g.distances[:n, :n], m.distances)
        ):
            return False
    return True


def grown(live: LiveView, problem: PlanningProblem) -> LiveView:
    """``live`` over ``problem``, which has locations more at the end (checked by
    :func:`only_adds_locations`)."""
    n = len(live.problem.locations)
    k = len(problem.locations) - n
    if k == 0:
        return dataclasses.replace(live, problem=problem)
    blocks = {
        profile: (g.durations[n:, :], g.distances[n:, :], g.durations[:n, n:], g.distances[:n, n:])
        for profile, g in problem.matrices.items()
    }
    return grown_by(live, problem.locations[n:], blocks, problem)


Blocks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def grown_by(
    live: LiveView,
    extra: Sequence[Location],
    blocks: Mapping[str, Blocks],
    problem: PlanningProblem,
) -> LiveView:
    """``live`` with ``extra`` locations added at the end of its problem.

    ``blocks[profile]`` are the new rows and columns: durations and distances
    from each new location to every location (``k x (n+k)``), and from every
    old location to each new one (``n x k``). ``problem`` is the grown problem.

    The residual problem's locations are the problem's followed by the
    vehicles' private "now" rows (:func:`with_private_rows`); the new
    locations go between the two, so every reference to a private row moves
    up by ``k``: depots where started vehicles stand, goods on board, the
    residual routes' visits and the tracks.
    """
    n = len(live.problem.locations)
    k = len(extra)
    residual = live.residual
    p = len(residual.locations) - n  # private rows

    def shift(i: int) -> int:
        return i + k if i >= n else i

    # Which problem row each private row copies.
    underlying = {t.now_row: t.here for t in live.tracks.values() if t.now_row is not None}
    rows = np.asarray([underlying[n + j] for j in range(p)], dtype=np.intp)
    matrices: dict[str, TravelMatrix] = {}
    done: dict[int, TravelMatrix] = {}
    for profile, m in residual.matrices.items():
        if p == 0 and problem is not None:
            matrices[profile] = problem.matrices[profile]  # the residual's are the problem's
            continue
        same = done.get(id(m))
        if same is not None:  # profiles sharing one matrix share its growth
            matrices[profile] = same
            continue
        out_t, out_d, in_t, in_d = blocks[profile]
        grown = []
        for a, out_rows, in_cols in ((m.durations, out_t, in_t), (m.distances, out_d, in_d)):
            out = np.empty((n + k + p, n + k + p), dtype=np.int64)
            out[:n, :n] = a[:n, :n]
            out[:n, n : n + k] = in_cols
            out[n : n + k, : n + k] = out_rows
            if p:
                out[:n, n + k :] = a[:n, n:]  # into a private row: never
                out[n : n + k, n + k :] = a[0:1, n:] if n else 0
                out[n + k :, :n] = a[n:, :n]
                out[n + k :, n : n + k] = in_cols[rows, :]  # from where the vehicle is
                out[n + k :, n + k :] = a[n:, n:]
            grown.append(out)
        # Every block comes from a checked matrix or was checked by the caller.
        matrices[profile] = done[id(m)] = TravelMatrix.of_checked(grown[0], grown[1])
    if p == 0:
        new_residual = copy.copy(residual)
        object.__setattr__(new_residual, "locations", problem.locations)
        object.__setattr__(new_residual, "matrices", matrices)
        return dataclasses.replace(
            live, problem=problem, residual=new_residual, index=dict(live.index)
        )

    # Copies with the location moved: the objects were checked when made, and
    # hundreds of them (everything on board) change at each growth.
    def moved(obj: _T) -> _T:
        return clone(obj, location=obj.location + k)  # type: ignore[attr-defined]

    def moved_order(o: Order) -> Order:
        pickup, delivery = o.pickup, o.delivery
        if (pickup is None or pickup.location < n) and (delivery is None or delivery.location < n):
            return o
        if pickup is not None and pickup.location >= n:
            pickup = moved(pickup)
        if delivery is not None and delivery.location >= n:
            delivery = moved(delivery)
        return clone(o, pickup=pickup, delivery=delivery)

    orders = tuple(moved_order(o) for o in residual.orders)
    depots = tuple(d if d.location < n else moved(d) for d in residual.depots)
    new_residual = copy.copy(residual)
    object.__setattr__(new_residual, "locations", (*problem.locations, *residual.locations[n:]))
    object.__setattr__(new_residual, "matrices", matrices)
    object.__setattr__(new_residual, "depots", depots)
    new_residual = with_orders(new_residual, orders)
    routes = tuple(
        dataclasses.replace(
            r,
            visits=tuple(v if v.location < n else moved(v) for v in r.visits),
        )
        for r in live.residual_plan.routes
    )
    tracks = {
        vid: t if t.now_row is None else dataclasses.replace(t, now_row=shift(t.now_row))
        for vid, t in live.tracks.items()
    }
    return dataclasses.replace(
        live,
        problem=problem,
        residual=new_residual,
        residual_plan=dataclasses.replace(live.residual_plan, routes=routes),
        tracks=tracks,
        index={
            vid: dataclasses.replace(ix, loc=[shift(i) if i >= 0 else i for i in ix.loc])
            for vid, ix in live.index.items()
        },
    )


def with_locations(
    live: LiveView, locations: Sequence[Location], between: Mapping[str, Between]
) -> LiveView:
    """The same live view with ``locations`` added (say, the address of an order
    about to be inserted), at rows ``len(live.residual.locations)`` onwards.

    ``between[profile](origins, destinations)`` gives the durations and
    distances from each origin to each destination for every profile of
    the problem; only the new rows and columns are asked for. The new rows
    come after the vehicles' private rows, which the problem then lists
    too (copies of where the vehicles are, used by none of its stops), so
    the problem and the residual problem share one matrix per profile.
    Matrices keep room to grow: adding a location writes its row and
    column in place, O(rows), and copies the matrix only when the room is
    used up (or when another view grown from the same one took it first).
    """
    if not locations:
        return live
    k = len(locations)
    here = live.residual.locations
    size = len(here)
    everything = [*here, *locations]
    private = sorted({t.now_row for t in live.tracks.values() if t.now_row is not None})
    matrices: dict[str, TravelMatrix] = {}
    done: dict[int, TravelMatrix] = {}
    for profile, m in live.residual.matrices.items():
        same = done.get(id(m))
        if same is not None:
            matrices[profile] = same
            continue
        out_t, out_d = between[profile](locations, everything)
        in_t, in_d = between[profile](here, locations)
        parts = (out_t, out_d, in_t, in_d)
        shapes = ((k, size + k),) * 2 + ((size, k),) * 2
        for part, shape in zip(parts, shapes, strict=True):
            if part.shape != shape:
                raise InputError(
                    f"expected a {shape[0]} x {shape[1]} block, got {part.shape}",
                    where=f"between[{profile!r}]",
                )
            if (part < 0).any():
                raise InputError("negative travel value", where=f"between[{profile!r}]")
        if private:
            # No new stop enters a vehicle's private row.
            out_t = np.array(out_t, dtype=np.int64)
            out_d = np.array(out_d, dtype=np.int64)
            out_t[:, private] = m.durations[0, private]
            out_d[:, private] = m.distances[0, private]
        matrices[profile] = done[id(m)] = m.grown_in_place(out_t, out_d, in_t, in_d)
    locs = (*here, *locations)
    problem = copy.copy(live.problem)
    object.__setattr__(problem, "locations", locs)
    object.__setattr__(problem, "matrices", {p: matrices[p] for p in live.problem.matrices})
    residual = copy.copy(live.residual)
    object.__setattr__(residual, "locations", locs)
    object.__setattr__(residual, "matrices", matrices)
    return dataclasses.replace(live, problem=problem, residual=residual, index=dict(live.index))
