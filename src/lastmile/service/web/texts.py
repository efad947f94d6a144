"""The texts the pages show, in one place per language.

``texts/<language>/<page>.json`` holds one page's texts (``common`` for what
every page shares) as ``{"key": "text"}``; a text is named ``<page>.<key>``.
Texts may hold ``{name}`` placeholders. English is complete by definition: a
text missing in another language falls back to English (the tests check that
none is missing).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "texts"
DEFAULT_LANGUAGE = "en"


def languages() -> tuple[str, ...]:
    """The languages texts exist in."""
    return tuple(sorted(p.name for p in ROOT.iterdir() if p.is_dir()))


@functools.cache
def _own(language: str) -> dict[str, str]:
    found: dict[str, str] = {}
    folder = ROOT / language
    for path in sorted(folder.glob("*.json")):
        entries: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for key, text in entries.items():
            if not isinstance(text, str):
                raise ValueError(f"{path}: text {key!r} is not a string")
            found[f"{path.stem}.{key}"] = text
    return found


@functools.cache
def catalogue(language: str) -> Mapping[str, str]:
    """Every text in ``language`` (English where it has none)."""
    if language not in languages():
        language = DEFAULT_LANGUAGE
    return {**_own(DEFAULT_LANGUAGE), **_own(language)}


def missing(language: str) -> list[str]:
    """Texts English has and ``language`` lacks."""
    own = _own(language)
    return sorted(k for k in _own(DEFAULT_LANGUAGE) if k not in own)


def preferred_language(accept_language: str | None) -> str:
    """The first language of an ``Accept-Language`` header that texts exist in
    (by weight), English otherwise."""
    known = languages()
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in known and weight > 0:
            ranked.append((-weight, index, base))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


class Texts:
    """The texts of one language; ``texts("common.sign_in")`` or with placeholders
    ``texts("track.eta", start="10:05")``. An unknown name is a KeyError."""

    def __init__(self, language: str) -> None:
        self.language = language if language in languages() else DEFAULT_LANGUAGE
        self._texts = catalogue(self.language)

    def __call__(self, name: str, **values: object) -> str:
        text = self._texts[name]
        return text.format(**values) if values else text

    def page(self, *pages: str) -> dict[str, str]:
        """The texts of ``pages`` (and ``common``), for a page's scripts."""
        prefixes = tuple(f"{p}." for p in ("common", *pages))
        return {k: v for k, v in self._texts.items() if k.startswith(prefixes)}
