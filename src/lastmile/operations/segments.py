"""How many SMS a text takes: the GSM 03.38 alphabet or UCS-2, and the segment sizes.

A text whose every character is in the GSM 7-bit default alphabet (its basic set,
which holds Finnish ä, ö and å, or its extension table) is sent in septets: one
message holds 160, and a longer text is split into parts of 153 (the rest carries
the header that joins them). A character of the extension table (``€ [ ] { } ^ ~
\\ |`` and form feed) takes two septets, and its pair is never split between parts.
Any other character (an emoji, a curly quote, a Cyrillic letter) makes the whole
text UCS-2: 70 UTF-16 units in one message, 67 per part, a character outside the
Basic Multilingual Plane (most emoji) taking two units that stay together.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GSM7_BASIC", "GSM7_EXTENSION", "SmsLength", "sms_length"]

#: The GSM 03.38 default alphabet (one septet each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: Its extension table (an escape and the character: two septets each).
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_PART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True, slots=True)
class SmsLength:
    """How a text travels as SMS.

    ``units`` are septets (GSM-7) or UTF-16 units (UCS-2); ``per_segment`` is 160 or
    70 for a text that fits one message, 153 or 67 for a longer one;
    ``remaining`` is what the last segment still holds; ``non_gsm`` the
    characters that made the text UCS-2 (each once, in order of appearance).
    """

    encoding: str
    characters: int
    units: int
    segments: int
    per_segment: int
    remaining: int
    non_gsm: tuple[str, ...]


def _cost(char: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def sms_length(text: str) -> SmsLength:
    """The encoding, size and number of segments of ``text`` sent as SMS."""
    non_gsm = tuple(
        dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION)
    )
    encoding = "UCS-2" if non_gsm else "GSM-7"
    costs = [_cost(c, encoding) for c in text]
    units = sum(costs)
    if units <= _SINGLE[encoding]:
        size = _SINGLE[encoding]
        return SmsLength(encoding, len(text), units, 1 if units else 0, size, size - units, non_gsm)
    size = _PART[encoding]
    segments, used = 1, 0
    for cost in costs:  # a two-unit character never straddles two parts
        if used + cost > size:
            segments, used = segments + 1, 0
        used += cost
    return SmsLength(encoding, len(text), units, segments, size, size - used, non_gsm)
