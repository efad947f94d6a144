"""Shared helpers of the road-network tests: data paths, a tiny OSM writer, loaders."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from xml.sax.saxutils import quoteattr

DATA = Path(__file__).resolve().parents[1] / "data" / "osm"
MONACO = DATA / "monaco.osm.pbf"
HELSINKI = DATA / "helsinki.osm.pbf"
REPO = Path(__file__).resolve().parents[2]


def load_sibling(name: str) -> ModuleType:
    """Import ``tests/travel/<name>.py`` (importlib mode puts no test folder on sys.path)."""
    key = f"lastmile_tests_travel_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def write_osm(
    path: Path,
    nodes: Mapping[int, tuple[float, float]],
    ways: Sequence[tuple[int, Sequence[int], Mapping[str, str]]],
) -> Path:
    """An OSM XML file: ``nodes`` id -> (lon, lat); ways (id, node refs, tags)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in sorted(nodes.items()):
        lines.append(f'<node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        lines.append(f'<way id="{wid}" version="1">')
        lines.extend(f'<nd ref="{r}"/>' for r in refs)
        lines.extend(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        lines.append("</way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
