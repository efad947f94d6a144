"""docs/engines.md shows the capabilities the engines actually declare."""

from __future__ import annotations

from pathlib import Path

from lastmile.planning.engines import REGISTRY, capability_table, get_engine
from lastmile.planning.problem import Feature

DOC = Path(__file__).resolve().parents[2] / "docs" / "engines.md"


def test_capability_table_in_docs_is_current() -> None:
    assert capability_table() in DOC.read_text()


def test_every_feature_is_honoured_by_some_engine() -> None:
    covered = frozenset().union(*(get_engine(n).capabilities for n in REGISTRY))
    assert covered == frozenset(Feature)
