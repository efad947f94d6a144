"""The instance readers fuzzed: Solomon, VRPLIB and VROOM JSON.

Inputs are valid instances with a few tokens replaced (by separators, quotes,
huge or non-finite numbers, NUL, other text) or values swapped for arbitrary
JSON, and plain random text. A reader either reads the input or raises
:class:`InputError` (a :class:`FormatError` for text) naming the file and the
line or field at fault; nothing else escapes.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lastmile.exceptions import InputError
from lastmile.formats.solomon import parse_solomon
from lastmile.formats.vroom import read_problem
from lastmile.formats.vrplib import read_vrplib

DATA = Path(__file__).resolve().parents[1] / "data"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TOKENS = [
    "", "-", "-1", "0", "1e309", "-1e309", "nan", "inf", "9" * 25, "1.5", ",", ";", ":", '"',
    "\n", "\r", "\t", "\x00", "é", " ", "[", "{", "null", "EOF", "-1\n", "SECTION",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """``text`` with one to four of its tokens (runs between separators) replaced."""
    pieces = re.split(r"([\s,;:]+)", text)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(pieces) - 1))
        pieces[i] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
    return "".join(pieces)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def json_mutated(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with one to three of its values replaced by arbitrary JSON (or deleted)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        if not path:
            return draw(JSON)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return doc


def _names_where(exc: InputError, source: str) -> None:
    assert exc.where.startswith(source), f"{exc!r} does not name {source}"
    assert str(exc).strip() != exc.where


@FUZZ
@given(text=mutated((DATA / "C101_10.txt").read_text()) | st.text(max_size=200))
def test_solomon_reads_or_says_where(text: str) -> None:
    try:
        parse_solomon(text, source="fuzz.txt")
    except InputError as exc:
        _names_where(exc, "fuzz.txt")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(text=mutated((DATA / "C101_10.vrp").read_text()) | st.text(max_size=200))
def test_vrplib_reads_or_says_where(workdir: Path, text: str) -> None:
    path = workdir / "fuzz.vrp"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        read_vrplib(path)
    except InputError as exc:
        _names_where(exc, str(path))


VROOM = [
    json.loads((DATA / "vroom" / name).read_text())
    for name in ("coordinates.json", "matrices.json")
]


@FUZZ
@given(doc=st.sampled_from(VROOM).flatmap(json_mutated))
def test_vroom_reads_or_says_where(workdir: Path, doc: Any) -> None:
    path = workdir / "fuzz.json"
    path.write_text(json.dumps(doc), encoding="utf-8", errors="surrogatepass")
    try:
        read_problem(path)
    except InputError as exc:
        _names_where(exc, str(path))
