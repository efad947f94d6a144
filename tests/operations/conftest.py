"""Shared by the tracking tests (progress, position, ETAs): a small line of places,
depot 0 and customers 1..4, 100 s apart, and a route visiting them in order."""

from __future__ import annotations

import numpy as np

from lastmile.domain import TimeWindow, VisitKind
from lastmile.operations.progress import StopEventKind, StopEventRecord, TrackedStop

POS = np.arange(6)
DUR: list[list[int]] = (np.abs(POS[:, None] - POS[None, :]) * 100).tolist()
W = TimeWindow


def line_route(windows: dict[int, tuple[TimeWindow, ...]] | None = None) -> list[TrackedStop]:
    """START at 0, deliveries a..d at 1..4 (60 s service), END at 0."""
    windows = windows or {}
    stops = [TrackedStop(0, VisitKind.START, 0)]
    for k, oid in enumerate("abcd", start=1):
        stops.append(TrackedStop(k, VisitKind.JOB, k, windows.get(k, ()), 60, 0, oid))
    stops.append(TrackedStop(5, VisitKind.END, 0))
    return stops


def ev(oid: str, kind: StopEventKind, at: int, visit: VisitKind = VisitKind.JOB) -> StopEventRecord:
    return StopEventRecord(oid, visit, kind, at)
