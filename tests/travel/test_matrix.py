"""TravelMatrix: the checks on construction, read-only arrays, growth and pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lastmile.exceptions import InputError
from lastmile.travel.matrix import TravelMatrix


def square(n: int, scale: int = 1) -> np.ndarray:
    xs = np.arange(n)
    return (np.abs(xs[:, None] - xs[None]) * scale).astype(np.int64)


def test_arrays_become_read_only_contiguous_int64() -> None:
    durations = np.asfortranarray(square(4).astype(np.int32))
    m = TravelMatrix(durations=durations, distances=square(4, 10).tolist())  # type: ignore[arg-type]
    for a in (m.durations, m.distances):
        assert a.dtype == np.int64 and a.flags.c_contiguous and not a.flags.writeable
    assert m.size == 4
    assert m.distances[1, 3] == 20
    with pytest.raises(ValueError):
        m.durations[0, 1] = 5


@pytest.mark.parametrize(
    "bad", [np.zeros((2, 3), dtype=np.int64), np.zeros(4, dtype=np.int64), np.zeros((2, 2, 2))]
)
def test_a_matrix_that_is_not_square_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="must be a square matrix") as info:
        TravelMatrix(durations=bad, distances=square(2))
    assert info.value.where == "durations"


def test_a_negative_value_is_refused_with_its_position() -> None:
    distances = square(3)
    distances[2, 1] = -7
    with pytest.raises(InputError, match=r"negative value -7 at \[2\]\[1\]") as info:
        TravelMatrix(durations=square(3), distances=distances)
    assert info.value.where == "distances"


def test_durations_and_distances_of_different_sizes_are_refused() -> None:
    with pytest.raises(InputError, match="differ"):
        TravelMatrix(durations=square(3), distances=square(4))


def test_the_callers_array_is_not_frozen_when_copied() -> None:
    mine = square(3).astype(np.int32)
    TravelMatrix(durations=mine, distances=square(3))
    mine[0, 1] = 9  # an int32 array was converted, so the caller's copy stays writable
    assert mine[0, 1] == 9


def test_growing_keeps_the_old_block_and_adds_rows_and_columns() -> None:
    base = TravelMatrix(square(3), square(3, 10))
    full_t, full_d = square(5), square(5, 10)
    grown = base.grown_in_place(full_t[3:, :], full_d[3:, :], full_t[:3, 3:], full_d[:3, 3:])
    assert grown.size == 5
    assert np.array_equal(grown.durations, full_t)
    assert np.array_equal(grown.distances, full_d)
    assert not grown.durations.flags.writeable
    # the original is unchanged and still 3 x 3
    assert base.size == 3 and np.array_equal(base.durations, square(3))
    # growing again from the grown matrix extends it further
    bigger_t, bigger_d = square(6), square(6, 10)
    again = grown.grown_in_place(
        bigger_t[5:, :], bigger_d[5:, :], bigger_t[:5, 5:], bigger_d[:5, 5:]
    )
    assert np.array_equal(again.durations, bigger_t)
    assert np.array_equal(grown.durations, full_t)


def test_two_matrices_grown_from_one_do_not_overwrite_each_other() -> None:
    # ``parent`` lives in a buffer with room to spare: its first child is grown into
    # it, and the second, grown while the first is alive, must not reuse those cells.
    parent = TravelMatrix(square(2), square(2)).grown_in_place(
        np.array([[2, 1, 0]]), np.array([[2, 1, 0]]), np.array([[2], [1]]), np.array([[2], [1]])
    )

    def child(v: int) -> TravelMatrix:
        row, col = np.array([[v, v, v, 0]]), np.array([[v], [v], [v]])
        return parent.grown_in_place(row, row, col, col)

    one = child(1)
    two = child(9)
    assert one.durations[3].tolist() == [1, 1, 1, 0]
    assert one.durations[:, 3].tolist() == [1, 1, 1, 0]
    assert two.durations[3].tolist() == [9, 9, 9, 0]
    assert parent.size == 3


def test_of_checked_records_what_it_was_grown_from() -> None:
    base = TravelMatrix(square(2), square(2))
    other = TravelMatrix(square(2), square(2))
    grown = TravelMatrix.of_checked(square(3), square(3), grown_from=base)
    assert grown.is_grown_from(base)
    assert not grown.is_grown_from(other)
    assert not base.is_grown_from(grown)
    assert not grown.durations.flags.writeable


def test_pickling_keeps_the_values_only() -> None:
    base = TravelMatrix(square(3), square(3, 10))
    grown = TravelMatrix.of_checked(square(4), square(4, 10), grown_from=base)
    back = pickle.loads(pickle.dumps(grown))
    assert np.array_equal(back.durations, grown.durations)
    assert np.array_equal(back.distances, grown.distances)
    assert not back.is_grown_from(base)
