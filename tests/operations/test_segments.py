"""SMS length: GSM-7 or UCS-2, and how many segments a text takes."""

from __future__ import annotations

import pytest

from lastmile.operations.segments import sms_length


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment"),
    [
        ("", "GSM-7", 0, 0, 160),
        ("a" * 160, "GSM-7", 160, 1, 160),
        ("a" * 161, "GSM-7", 161, 2, 153),
        ("a" * 306, "GSM-7", 306, 2, 153),
        ("a" * 307, "GSM-7", 307, 3, 153),
        # Finnish and Swedish letters are in the GSM alphabet.
        ("Hyvää päivää! Lähetys on perillä klo 14.00. Åbo" * 3, "GSM-7", 141, 1, 160),
        ("ä" * 160, "GSM-7", 160, 1, 160),
        # Extension characters take two septets.
        ("€" * 80, "GSM-7", 160, 1, 160),
        ("€" * 81, "GSM-7", 162, 2, 153),
        ("[x]{y}^~|\\", "GSM-7", 18, 1, 160),
        # One emoji makes the whole text UCS-2, and takes two UTF-16 units.
        ("Delivered 😀", "UCS-2", 12, 1, 70),
        ("a" * 70, "GSM-7", 70, 1, 160),
        ("a" * 69 + "😀", "UCS-2", 71, 2, 67),
        ("ж" * 70, "UCS-2", 70, 1, 70),
        ("ж" * 71, "UCS-2", 71, 2, 67),
        ("ж" * 134, "UCS-2", 134, 2, 67),
        ("ж" * 135, "UCS-2", 135, 3, 67),
    ],
)
def test_known_lengths(
    text: str, encoding: str, units: int, segments: int, per_segment: int
) -> None:
    got = sms_length(text)
    assert (got.encoding, got.units, got.segments, got.per_segment) == (
        encoding,
        units,
        segments,
        per_segment,
    )
    assert got.characters == len(text)


def test_what_makes_a_text_ucs2_is_named_once_each() -> None:
    got = sms_length("Kiitos “Aino” 😀😀 ok")
    assert got.encoding == "UCS-2"
    assert got.non_gsm == ("“", "”", "😀")
    assert sms_length("Kiitos Aino").non_gsm == ()


def test_two_unit_characters_are_never_split_between_segments() -> None:
    # 152 septets, then an escape pair that does not fit in the first part's 153.
    got = sms_length("a" * 152 + "€" + "a" * 10)
    assert (got.units, got.segments, got.remaining) == (164, 2, 141)
    # 66 units, then an emoji (a surrogate pair) that does not fit in 67.
    got = sms_length("ж" * 66 + "😀" + "жжж")
    assert (got.encoding, got.units, got.segments, got.remaining) == ("UCS-2", 71, 2, 62)
    assert sms_length("a" * 10).remaining == 150
