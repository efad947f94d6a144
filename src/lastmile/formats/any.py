"""Read a problem from any supported file, choosing the reader by suffix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lastmile.exceptions import FormatError
from lastmile.formats.solomon import Rounding
from lastmile.planning.problem import PlanningProblem

Format = Literal["solomon", "vrplib", "vroom"]

#: File suffix -> format.
SUFFIXES: dict[str, Format] = {".txt": "solomon", ".vrp": "vrplib", ".json": "vroom"}


def format_by_suffix(path: str | Path) -> Format:
    """The format a file's suffix names: ``.txt`` Solomon, ``.vrp`` VRPLIB, ``.json`` VROOM."""
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIXES[suffix]
    except KeyError:
        known = ", ".join(f"{s} ({f})" for s, f in SUFFIXES.items())
        raise FormatError(
            f"cannot tell the format from suffix {suffix or '(none)'!r}; known: {known}",
            where=str(path),
        ) from None


def read_any(
    path: str | Path,
    *,
    format: Format | Literal["auto"] = "auto",
    rounding: Rounding | None = None,
    lazy_above: int | None = None,
) -> PlanningProblem:
    """Read ``path`` as ``format`` (``"auto"``: by suffix).

    ``rounding`` applies to the planar benchmark formats only (see
    :mod:`lastmile.formats.solomon`); ``None`` takes each format's default
    ("dimacs" for Solomon; for VRPLIB, the convention of the problem type).
    VROOM JSON carries its own integer matrices or coordinates and ignores it.
    ``lazy_above`` (VROOM JSON by coordinates): from this many stops on, travel
    is computed leg by leg instead of as a dense matrix (see
    :func:`lastmile.formats.vroom.read_problem`).
    """
    fmt = format_by_suffix(path) if format == "auto" else format
    if fmt == "solomon":
        from lastmile.formats.solomon import read_solomon

        return read_solomon(path, rounding=rounding or "dimacs")
    if fmt == "vrplib":
        from lastmile.formats.vrplib import read_vrplib

        return read_vrplib(path, rounding=rounding)
    if fmt == "vroom":
        from lastmile.formats.vroom import read_problem

        problem: PlanningProblem = read_problem(path, lazy_above=lazy_above)
        return problem
    raise FormatError(
        f"unknown format {fmt!r}; use auto, solomon, vrplib or vroom", where=str(path)
    )
