"""Choosing a reader by file suffix, and the errors for formats it cannot tell."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lastmile.exceptions import FormatError
from lastmile.formats.any import SUFFIXES, format_by_suffix, read_any
from lastmile.formats.solomon import read_solomon
from lastmile.formats.vroom import read_problem
from lastmile.formats.vrplib import read_vrplib
from lastmile.planning.problem import PlanningProblem

DATA = Path(__file__).resolve().parents[1] / "data"


def same(a: PlanningProblem, b: PlanningProblem) -> bool:
    """Whether two problems have the same content (matrices compared element-wise)."""
    if (a.orders, a.vehicles, a.depots, a.locations, a.time_scale) != (
        b.orders,
        b.vehicles,
        b.depots,
        b.locations,
        b.time_scale,
    ) or a.matrices.keys() != b.matrices.keys():
        return False
    return all(
        np.array_equal(a.matrices[k].durations, b.matrices[k].durations)
        and np.array_equal(a.matrices[k].distances, b.matrices[k].distances)
        for k in a.matrices
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C101.txt", "solomon"),
        ("dir/X-n101-k25.vrp", "vrplib"),
        ("problem.json", "vroom"),
        ("UPPER.TXT", "solomon"),
        ("Mixed.Vrp", "vrplib"),
        (Path("a.b/c.json"), "vroom"),
    ],
)
def test_format_by_suffix(name: str | Path, expected: str) -> None:
    assert format_by_suffix(name) == expected


@pytest.mark.parametrize(("name", "shown"), [("plan.csv", "'.csv'"), ("README", "'(none)'")])
def test_unknown_suffix_is_a_format_error_naming_it_and_the_known_ones(
    name: str, shown: str
) -> None:
    with pytest.raises(FormatError) as info:
        format_by_suffix(name)
    message = str(info.value)
    assert shown in message
    assert info.value.where == name
    for suffix, fmt in SUFFIXES.items():
        assert f"{suffix} ({fmt})" in message


def test_auto_reads_each_format_like_its_own_reader() -> None:
    solomon = read_any(DATA / "C101_10.txt")
    assert same(solomon, read_solomon(DATA / "C101_10.txt", rounding="dimacs"))
    vrplib = read_any(DATA / "C101_10.vrp")
    assert same(vrplib, read_vrplib(DATA / "C101_10.vrp"))
    vroom = read_any(DATA / "vroom" / "matrices.json")
    assert same(vroom, read_problem(DATA / "vroom" / "matrices.json"))
    # the three readers made three different problems
    assert not same(solomon, vroom)


def test_rounding_is_passed_to_the_planar_readers() -> None:
    exact = read_any(DATA / "C101_10.txt", rounding="exact")
    assert same(exact, read_solomon(DATA / "C101_10.txt", rounding="exact"))
    assert not same(exact, read_any(DATA / "C101_10.txt"))


def test_an_explicit_format_overrides_the_suffix(tmp_path: Path) -> None:
    renamed = tmp_path / "instance.dat"
    shutil.copy(DATA / "C101_10.txt", renamed)
    with pytest.raises(FormatError):
        read_any(renamed)
    problem = read_any(renamed, format="solomon")
    assert len(problem.orders) == len(read_any(DATA / "C101_10.txt").orders)


def test_an_unknown_explicit_format_is_refused() -> None:
    with pytest.raises(FormatError, match="unknown format 'csv'"):
        read_any(DATA / "C101_10.txt", format="csv")  # type: ignore[arg-type]
