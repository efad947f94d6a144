"""Travel matrices: what every engine consumes."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lastmile.exceptions import InputError

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TravelMatrix:
    """Travel durations (seconds) and distances (metres) between all locations."""

    durations: IntMatrix
    distances: IntMatrix

    def __post_init__(self) -> None:
        for name in ("durations", "distances"):
            m = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            if m.ndim != 2 or m.shape[0] != m.shape[1]:
                raise InputError(f"must be a square matrix, got shape {m.shape}", where=name)
            if (m < 0).any():
                i, j = np.argwhere(m < 0)[0]
                raise InputError(f"negative value {m[i, j]} at [{i}][{j}]", where=name)
            m.setflags(write=False)
            object.__setattr__(self, name, m)
        if self.durations.shape != self.distances.shape:
            raise InputError(
                f"durations {self.durations.shape} and distances {self.distances.shape} differ",
                where="matrix",
            )

    @classmethod
    def of_checked(
        cls, durations: IntMatrix, distances: IntMatrix, *, grown_from: TravelMatrix | None = None
    ) -> TravelMatrix:
        """A matrix of arrays the caller has already checked (square, same shape,
        int64, C-contiguous, no negative value), without checking them again:
        for matrices grown from checked ones, where the check would cost more
        than the growth. ``grown_from`` names the matrix whose arrays fill the
        top-left corner (kept as a weak reference)."""
        out = object.__new__(cls)
        for name, m in (("durations", durations), ("distances", distances)):
            assert m.dtype == np.int64 and m.flags.c_contiguous and m.ndim == 2
            m.setflags(write=False)
            object.__setattr__(out, name, m)
        assert durations.shape == distances.shape and durations.shape[0] == durations.shape[1]
        if grown_from is not None:
            object.__setattr__(out, "_grown_from", weakref.ref(grown_from))
        return out

    def __reduce__(self) -> tuple[type[TravelMatrix], tuple[IntMatrix, IntMatrix]]:
        # The arrays only: what it was grown from (a weak reference) stays behind,
        # and a corner view arrives as a matrix of its own.
        return (type(self), (self.durations, self.distances))

    @classmethod
    def corner(cls, matrix: TravelMatrix, size: int) -> TravelMatrix:
        """The first ``size`` rows and columns of ``matrix``, sharing its memory (a
        view: its rows are not contiguous in memory)."""
        out = object.__new__(cls)
        object.__setattr__(out, "durations", matrix.durations[:size, :size])
        object.__setattr__(out, "distances", matrix.distances[:size, :size])
        return out

    def is_grown_from(self, other: TravelMatrix) -> bool:
        """Whether this matrix was made from ``other`` by adding rows and columns at
        the end (``other``'s arrays, read-only, copied into its top-left corner)."""
        parent = getattr(self, "_grown_from", None)
        return parent is not None and parent() is other

    @property
    def size(self) -> int:
        return int(self.durations.shape[0])
