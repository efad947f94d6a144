"""Every text a page shows exists in every language, and placeholders agree."""

from __future__ import annotations

import re

import pytest

from lastmile.service.web import texts


def test_there_is_a_second_language() -> None:
    assert {"en", "fi"} <= set(texts.languages())


@pytest.mark.parametrize("language", [lang for lang in texts.languages() if lang != "en"])
def test_no_text_is_missing_and_placeholders_match(language: str) -> None:
    assert texts.missing(language) == []
    english, other = texts.catalogue("en"), texts.catalogue(language)
    for name, text in english.items():
        wanted = set(re.findall(r"{(\w+)}", text))
        assert set(re.findall(r"{(\w+)}", other[name])) == wanted, name


def test_texts_fill_placeholders_and_fall_back_to_english() -> None:
    fi = texts.Texts("fi")
    assert fi("common.too_many_attempts", seconds=30).endswith("30 sekunnin kuluttua.")
    assert texts.Texts("xx").language == "en"
    with pytest.raises(KeyError):
        fi("common.no_such_text")


def test_accept_language_picks_a_known_language_by_weight() -> None:
    assert texts.preferred_language("fi") == "fi"
    assert texts.preferred_language("sv;q=1, fi;q=0.4, en;q=0.8") == "en"
    assert texts.preferred_language("fi;q=0") == "en"
    assert texts.preferred_language(None) == "en"
    assert texts.preferred_language("garbage;q=x") == "en"
