"""Travel matrices: what every engine consumes."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from lastmile.exceptions import InputError

IntMatrix = npt.NDArray[np.int64]


@dataclass
class _Room:
    """A growing matrix's buffers: rows and columns ``[0, used)`` are taken."""

    durations: IntMatrix
    distances: IntMatrix
    used: int
    #: the matrices grown into the buffer (views of it), while they live
    users: list[weakref.ref[TravelMatrix]] = field(default_factory=list)

    @property
    def capacity(self) -> int:
        return int(self.durations.shape[0])

    def free_from(self, n: int) -> bool:
        """Whether rows and columns from ``n`` on are read by no living matrix (a
        matrix grown past ``n`` and since dropped leaves them free again)."""
        if self.used == n:
            return True
        self.users = [u for u in self.users if u() is not None]
        return all(m.size <= n for u in self.users if (m := u()) is not None)


_GROWING = threading.Lock()


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
        # The arrays only: what it was grown from (a weak reference) and the
        # buffer it may grow in stay behind; a view arrives as a matrix of its own.
        return (type(self), (self.durations, self.distances))

    def grown_in_place(
        self, out_t: IntMatrix, out_d: IntMatrix, in_t: IntMatrix, in_d: IntMatrix
    ) -> TravelMatrix:
        """This matrix with ``k`` locations more: ``out_*`` their rows (``k x (n+k)``),
        ``in_*`` the old locations' columns to them (``n x k``), both checked by the
        caller.

        The arrays live in a buffer with room to spare: the new rows and columns
        are written into it, O(n), and the new matrix is a view (its rows not
        contiguous in memory). This matrix is unchanged (it never reads past its
        own size); when the buffer is full, or another matrix grown from this one
        is still alive, a bigger buffer is made (one O(n^2) copy).
        """
        n, k = self.size, int(out_t.shape[0])
        with _GROWING:
            room: _Room | None = getattr(self, "_room", None)
            if room is not None and room.capacity >= n + k and room.free_from(n):
                room.used = n + k
            else:
                capacity = n + k + max(32, (n + k) // 8)
                room = _Room(
                    np.empty((capacity, capacity), dtype=np.int64),
                    np.empty((capacity, capacity), dtype=np.int64),
                    n + k,
                )
                room.durations[:n, :n] = self.durations
                room.distances[:n, :n] = self.distances
        for buf, out, into in ((room.durations, out_t, in_t), (room.distances, out_d, in_d)):
            buf[n : n + k, : n + k] = out
            buf[:n, n : n + k] = into
        grown = object.__new__(type(self))
        for name, buf in (("durations", room.durations), ("distances", room.distances)):
            view = buf[: n + k, : n + k]
            view.setflags(write=False)
            object.__setattr__(grown, name, view)
        object.__setattr__(grown, "_room", room)
        with _GROWING:
            room.users.append(weakref.ref(grown))
        return grown

    def is_grown_from(self, other: TravelMatrix) -> bool:
        """Whether this matrix was made from ``other`` by adding rows and columns at
        the end (``other``'s arrays, read-only, copied into its top-left corner)."""
        parent = getattr(self, "_grown_from", None)
        return parent is not None and parent() is other

    @property
    def size(self) -> int:
        return int(self.durations.shape[0])
