"""Address normalisation: the same street written many ways gives one key.

Everything here is pure and language-agnostic by design: case is folded,
accents are stripped, punctuation becomes spaces, and common street-type
words and their abbreviations in several languages (English, French,
German, Finnish, Swedish, Italian, Spanish) are mapped to one canonical
token, both when the index is built and when a query is read. The canonical
token is what counts, not the language: "Av." and "Avenida" and "Avenue"
all become ``avenue``, which is harmless because a street name never
contrasts them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Letters that NFKD does not decompose into a base letter plus a mark.
_SPECIAL_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)

# Abbreviations glued to a word and marked by a dot ("Mikonk." = Mikonkatu,
# "Hauptstr." = Hauptstrasse, "Storg." = Storgatan). Applied before dots go.
_GLUED_SUFFIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=[a-z]{3})k\.(?=\s|,|$)"), "katu"),  # Finnish
    (re.compile(r"(?<=[a-z]{3})t\.(?=\s|,|$)"), "tie"),  # Finnish
    (re.compile(r"(?<=[a-z]{3})g\.(?=\s|,|$)"), "gatan"),  # Swedish
    (re.compile(r"(?<=[a-z]{3})v\.(?=\s|,|$)"), "vagen"),  # Swedish (vägen)
    (re.compile(r"(?<=[a-z]{3})str\b\.?"), "strasse"),  # German
)
# Italian dotted contractions.
_DOTTED_WORDS = (
    (re.compile(r"\bc\.so\b"), "corso"),
    (re.compile(r"\bp\.(?:z)?za\b"), "piazza"),
    (re.compile(r"\bv\.le\b"), "viale"),
)

# Canonical token for every spelling of a street-type (or title) word.
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "avenue": ("av", "ave", "avn", "avda", "avenida", "avinguda", "avenu"),
    "boulevard": ("bd", "bld", "blvd", "boul", "bvd", "bl"),
    "street": (),  # "st" is handled by position (street or saint)
    "strasse": ("str", "strase"),
    "road": ("rd",),
    "route": ("rte",),
    "rue": (),
    "place": ("pl",),
    "square": ("sq", "sqr"),
    "lane": ("ln",),
    "court": ("ct",),
    "terrace": ("terr", "tce"),
    "highway": ("hwy",),
    "parkway": ("pkwy", "pky"),
    "crescent": ("cres", "cresc"),
    "chemin": ("ch", "chem"),
    "impasse": ("imp",),
    "allee": ("all",),
    "faubourg": ("fg", "fbg"),
    "quai": ("qu",),
    "esplanade": ("esp", "espl"),
    "corso": (),
    "piazza": ("pza", "pzza"),
    "plaza": ("plz",),
    "viale": (),
    "mount": ("mt",),
    "general": ("gal", "gen"),
    "marechal": ("mal",),
    "president": ("pdt",),
    "professor": ("prof",),
    "saint": (),
    "sainte": ("ste",),
    "north": (),
    "south": (),
}
_CANONICAL: dict[str, str] = {}
for _canon, _spellings in _SYNONYMS.items():
    _CANONICAL[_canon] = _canon
    for _spelling in _spellings:
        _CANONICAL[_spelling] = _canon
del _canon, _spellings, _spelling

# Tokens whose meaning depends on being the first word of the street.
_LEADING = {"st": "saint", "ste": "sainte", "r": "rue", "dr": "doctor", "v": "via", "c": "calle"}
_TRAILING = {"st": "street", "dr": "drive", "r": "rue", "v": "via", "c": "calle"}

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Casefold, strip accents and collapse whitespace; punctuation is kept."""
    text = text.casefold().translate(_SPECIAL_LETTERS)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped).strip()


def street_tokens(text: str) -> list[str]:
    """Canonical tokens of a street name (see the module docstring)."""
    text = fold(text)
    for pattern, replacement in _DOTTED_WORDS:
        text = pattern.sub(replacement, text)
    for pattern, replacement in _GLUED_SUFFIXES:
        text = pattern.sub(replacement, text)
    raw = _NON_ALNUM.sub(" ", text).split()
    tokens: list[str] = []
    for i, token in enumerate(raw):
        if i == 0 and len(raw) > 1 and token in _LEADING:
            tokens.append(_LEADING[token])
        elif i > 0 and token in _TRAILING:
            tokens.append(_TRAILING[token])
        else:
            tokens.append(_CANONICAL.get(token, token))
    return tokens


def street_key(text: str) -> str:
    """The matching key of a street name: canonical tokens with no spaces.

    Spaces are dropped so that "John Stenbergin ranta" and
    "John Stenberginranta" (compounds written apart or together) agree.
    """
    return "".join(street_tokens(text))


def place_key(text: str) -> str:
    """Matching key of a city or other place name."""
    return _NON_ALNUM.sub("", fold(text))


_POSTCODE_PREFIX = re.compile(r"^[a-z]{1,3}[- ]?(?=\d{4})")


def postcode_key(text: str) -> str:
    """Postcodes compare without case, spaces or a country prefix ("FI-00100")."""
    return _NON_ALNUM.sub("", _POSTCODE_PREFIX.sub("", fold(text)))


# A house number: digits, an optional letter or bis/ter/quater suffix, an
# optional range or second part ("12-14", "12/3").
HOUSENUMBER_PATTERN = (
    r"\d+(?:\s?[a-z](?![a-z]))?(?:\s?(?:bis|ter|quater)\b)?"
    r"(?:\s?[-/]\s?\d+(?:\s?[a-z](?![a-z]))?)?"
)
_HOUSENUMBER = re.compile(rf"^{HOUSENUMBER_PATTERN}$")
_LEADING_INT = re.compile(r"\d+")
_NOT_HOUSENUMBER = re.compile(r"[^0-9a-z/-]+")
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})


@dataclass(frozen=True, slots=True)
class HouseNumber:
    """A normalised house number: ``key`` compares exactly, ``number`` orders."""

    key: str  # "12a", "12bis", "12-14"
    number: int  # the leading integer, -1 if none

    @property
    def suffix(self) -> str:
        """What follows the leading integer ("a" for 12a, "" for 12)."""
        return self.key[len(str(self.number)) :] if self.number >= 0 else self.key


def housenumber(text: str) -> HouseNumber:
    """Normalise a house number: "12 A" and "12a" give key "12a", number 12."""
    key = _NOT_HOUSENUMBER.sub("", fold(text.translate(_DASHES)))
    match = _LEADING_INT.match(key)
    return HouseNumber(key=key, number=int(match.group()) if match else -1)


def expand_housenumbers(text: str) -> list[HouseNumber]:
    """The numbers an OSM ``addr:housenumber`` value stands for.

    ``"12;14"`` and ``"12, 14"`` are lists. A range ``"12-16"`` is the range
    itself plus every number of the same parity within it (at most 20 wide),
    since buildings tagged with a range are found by any number in it.
    """
    out: list[HouseNumber] = []
    for part in re.split(r"[;,]", text):
        if not part.strip():
            continue
        number = housenumber(part)
        out.append(number)
        bounds = re.fullmatch(r"(\d+)-(\d+)", number.key)
        if bounds:
            low, high = int(bounds.group(1)), int(bounds.group(2))
            if low < high <= low + 20:
                out.extend(HouseNumber(key=str(n), number=n) for n in range(low, high + 1, 2))
                if (high - low) % 2:
                    out.append(HouseNumber(key=str(high), number=high))
    return out


def is_housenumber(text: str) -> bool:
    """Whether a folded fragment looks like a house number."""
    return bool(_HOUSENUMBER.match(text))


_END = re.compile(rf"^(?P<street>.*?[^\d\s].*?)\s*,?\s+(?P<hn>{HOUSENUMBER_PATTERN})$")
_START = re.compile(rf"^(?P<hn>{HOUSENUMBER_PATTERN})\s*,?\s+(?P<street>.*[^\d\s].*)$")
# Atomic: the house number takes its letter ("18 a 5" is 18 A, flat 5).
_MIDDLE = re.compile(
    rf"^(?P<street>[^\d]*[^\d\s])\s+(?P<hn>(?>{HOUSENUMBER_PATTERN}))\s+(?P<rest>.+)$"
)


def split_street_number(text: str) -> list[tuple[str, str]]:
    """Every plausible ``(street, housenumber)`` reading of a street line.

    The caller scores the readings against its street names and keeps the
    best. Readings, most expected first: number after the street
    ("Mikonkatu 18 A"), number first ("18 Rue Foch"), number followed by
    an apartment or staircase ("Mikonkatu 18 A 5", the tail is dropped),
    and the whole line as a street without number.
    """
    line = fold(text).strip(" ,")
    readings: list[tuple[str, str]] = []
    for pattern in (_END, _START, _MIDDLE):
        match = pattern.match(line)
        if match:
            readings.append((match.group("street").strip(" ,"), match.group("hn")))
    readings.append((line, ""))
    return readings
