"""Growing a travel matrix by a few locations: the same figures as computing it whole."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lastmile.domain import Location
from lastmile.travel import HaversineModel, TravelMatrix, grown_matrix

LYON = [Location(4.80 + 0.011 * i, 45.70 + 0.007 * (i % 5), name=f"p{i}") for i in range(12)]


class WholeOnly:
    """A model without rectangular queries (the fallback path)."""

    description = "whole matrices only"

    def __init__(self) -> None:
        self.inner = HaversineModel(speed_kph=20)
        self.calls = 0

    def matrix(
        self, locations: Sequence[Location], *, departure: int | None = None
    ) -> TravelMatrix:
        self.calls += 1
        return self.inner.matrix(locations, departure=departure)


def test_rectangular_growth_equals_the_whole_matrix() -> None:
    model = HaversineModel(speed_kph=25, detour_factor=1.3)
    base, extra = LYON[:9], LYON[9:]
    grown = grown_matrix(model, base, model.matrix(base), extra)
    whole = model.matrix(LYON)
    assert np.array_equal(grown.durations, whole.durations)
    assert np.array_equal(grown.distances, whole.distances)
    # The rows already there are kept as given (not recomputed).
    given = model.matrix(base)
    bumped = TravelMatrix(given.durations + 1, given.distances)
    kept = grown_matrix(model, base, bumped, extra)
    assert np.array_equal(kept.durations[:9, :9], given.durations + 1)
    assert np.array_equal(kept.durations[9:, :], whole.durations[9:, :])


def test_models_without_rectangular_queries_compute_the_whole_matrix() -> None:
    model = WholeOnly()
    base = LYON[:10]
    m = model.matrix(base)
    assert grown_matrix(model, base, m, []) is m
    grown = grown_matrix(model, base, m, LYON[10:])
    assert model.calls == 2
    assert np.array_equal(grown.distances, model.inner.matrix(LYON).distances)


def test_a_grown_matrix_knows_its_source_without_keeping_it_alive() -> None:
    import gc
    import weakref

    model = HaversineModel(speed_kph=25)
    base = model.matrix(LYON[:6])
    grown = grown_matrix(model, LYON[:6], base, LYON[6:8])
    assert grown.is_grown_from(base) and not grown.is_grown_from(grown)
    again = grown_matrix(model, LYON[:8], grown, LYON[8:])
    assert again.is_grown_from(grown) and not again.is_grown_from(base)
    # Only ``again`` is still referenced here: neither matrix it grew from may be kept alive.
    base_ref, grown_ref = weakref.ref(base), weakref.ref(grown)
    del base, grown
    gc.collect()
    assert base_ref() is None and grown_ref() is None
    assert again.size == len(LYON)


def test_grown_matrices_and_views_travel_to_worker_processes() -> None:
    import pickle

    model = HaversineModel(speed_kph=25)
    base = model.matrix(LYON[:6])
    grown = grown_matrix(model, LYON[:6], base, LYON[6:])
    out_t, out_d = model.between(LYON[6:8], LYON[:8])
    in_t, in_d = model.between(LYON[:6], LYON[6:8])
    view = base.grown_in_place(out_t, out_d, in_t, in_d)
    assert not view.durations.flags.c_contiguous  # rows inside a larger buffer
    for m in (grown, view):
        back = pickle.loads(pickle.dumps(m))
        assert np.array_equal(back.durations, m.durations)
        assert np.array_equal(back.distances, m.distances)
        assert back.durations.flags.c_contiguous


def test_growing_in_place_leaves_every_earlier_matrix_as_it_was() -> None:
    model = HaversineModel(speed_kph=25)
    whole = model.matrix(LYON)

    def grow(m: TravelMatrix, upto: int, new: int) -> TravelMatrix:
        out_t, out_d = model.between(LYON[upto : upto + new], LYON[: upto + new])
        in_t, in_d = model.between(LYON[:upto], LYON[upto : upto + new])
        return m.grown_in_place(out_t, out_d, in_t, in_d)

    base = model.matrix(LYON[:4])
    first = grow(base, 4, 2)  # a buffer with room
    second = grow(first, 6, 2)  # written in place
    assert second.durations.base is first.durations.base
    sibling = grow(first, 6, 3)  # the room past `first` is taken: a new buffer
    assert sibling.durations.base is not first.durations.base
    for m, size in ((base, 4), (first, 6), (second, 8), (sibling, 9)):
        assert np.array_equal(m.durations, whole.durations[:size, :size])
        assert np.array_equal(m.distances, whole.distances[:size, :size])
    with_room = grow(second, 8, 4)
    assert np.array_equal(with_room.durations, whole.durations)


def test_room_taken_by_a_dropped_matrix_is_used_again() -> None:
    """A view grown and then dropped (an order that fit nowhere) leaves its rows
    free: growing again from the same matrix writes into the same buffer, and
    every matrix still alive reads what it read before."""
    model = HaversineModel(speed_kph=25)
    whole = model.matrix(LYON)
    shuffled = model.matrix([*LYON[:6], *LYON[8:10]])

    def grow(m: TravelMatrix, new: Sequence[Location]) -> TravelMatrix:
        here = LYON[: m.size]
        out_t, out_d = model.between(new, [*here, *new])
        in_t, in_d = model.between(here, new)
        return m.grown_in_place(out_t, out_d, in_t, in_d)

    first = grow(model.matrix(LYON[:4]), LYON[4:6])
    dropped = grow(first, LYON[8:10])  # other addresses in rows 6 and 7
    assert np.array_equal(dropped.durations, shuffled.durations)
    buffer = dropped.durations.base
    del dropped
    again = grow(first, LYON[6:8])
    assert again.durations.base is buffer  # no copy
    assert np.array_equal(again.durations, whole.durations[:8, :8])
    assert np.array_equal(first.durations, whole.durations[:6, :6])
    # While the later one lives, growing from `first` again must copy.
    other = grow(first, LYON[8:10])
    assert other.durations.base is not buffer
    assert np.array_equal(other.durations, shuffled.durations)
    assert np.array_equal(again.durations, whole.durations[:8, :8])
