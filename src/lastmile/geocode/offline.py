"""An offline geocoder built from the addresses in an OpenStreetMap extract.

How a query is answered:

1. **Parse.** Free text is split into street line, postcode and city
   ("Mikonkatu 18 A, 00100 Helsinki", "18 rue Grimaldi 98000 Monaco",
   "Mikonkatu 18 00100 Helsinki"); the street line is read every plausible
   way (number after or before the street, apartment tails dropped).
2. **Block.** The streets searched are those seen with the query's postcode
   or city; when nothing there matches well, all streets are searched (above
   a few thousand names, a trigram pre-filter picks the few hundred worth
   comparing).
3. **Match.** Street names are compared as normalised keys (case, accents,
   abbreviations in several languages, see :mod:`.normalize`) with
   rapidfuzz's ratio, so small typos cost a little confidence, not the answer.
4. **Place the house.** The exact house number (1.0); the same number with
   another letter ("18" vs "18 A", 0.9); between the two nearest numbers on
   the same side of the same street when they are close (interpolated,
   0.85); else a point on the street (0.5).
5. **Decide.** confidence = street similarity x house factor x postcode and
   city agreement (a mismatch costs 15 %, an unknown 3 %). Below
   ``min_confidence``, or rivalled by an equally good candidate elsewhere,
   the result is "ambiguous" and carries candidates but no position.

Streets are entities: one name in one place. The same name far apart (two
towns in one extract) gives two entities, found by joining the ~1 km grid
cells its houses and highway nodes occupy.

The parsed index is cached (gzip JSON, keyed by the extract's path, size
and modification time) so a second load skips reading the extract.

OSM data is (c) OpenStreetMap contributors, available under the ODbL.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import math
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

from lastmile.domain.geo import EARTH_RADIUS_M
from lastmile.exceptions import InputError
from lastmile.geocode.base import (
    Address,
    Candidate,
    GeocodeResult,
    Precision,
    StructuredAddress,
    decide,
    distance_m,
    format_label,
    query_text,
)
from lastmile.geocode.normalize import (
    HouseNumber,
    expand_housenumbers,
    fold,
    housenumber,
    is_housenumber,
    place_key,
    postcode_key,
    split_street_number,
    street_key,
)
from lastmile.geocode.osm import OSM_ATTRIBUTION, RawAddress, RawStreet, read_extract

INDEX_FORMAT = 1

# Confidence factors (see the module docstring).
HOUSE_SUFFIX_FACTOR = 0.9
INTERPOLATED_FACTOR = 0.85
STREET_FACTOR = 0.5
MISMATCH_FACTOR = 0.85
UNKNOWN_FACTOR = 0.97
DIGIT_MISMATCH_FACTOR = 0.8  # query street and street name carry different numbers

# Interpolate only between neighbours this close, in numbers and in metres.
INTERPOLATE_MAX_GAP = 10
INTERPOLATE_MAX_M = 300.0

STREET_CUTOFF = 60.0  # rapidfuzz score below which a street is not a candidate
WIDEN_BELOW = 85.0  # search all streets when the block's best is below this
PREFILTER_ABOVE = 4000  # street keys beyond which the trigram pre-filter is used
PREFILTER_KEEP = 300
CELL_DEG = 0.01  # ~1.1 km: one street name in cells that touch is one street

_DIGITS = re.compile(r"\d+")
_POSTCODE_SHAPE = re.compile(r"^(?:[a-z]{1,3}-?)?\d{4,6}$")


@dataclass(slots=True)
class _Street:
    name: str
    keys: tuple[str, ...]
    lon: float
    lat: float
    exact: dict[str, list[int]] = field(default_factory=dict)  # hn key -> address ids
    derived: dict[str, list[int]] = field(default_factory=dict)  # from ranges "12-16"
    numbers: list[tuple[int, int]] = field(default_factory=list)  # (number, address id)
    postcodes: set[str] = field(default_factory=set)
    cities: set[str] = field(default_factory=set)
    label: str = ""  # name and most common city of its addresses


@dataclass(frozen=True, slots=True)
class _Query:
    readings: tuple[tuple[str, str], ...]  # (street text, house number text)
    postcode: str  # key
    city: str  # key


class OfflineGeocoder:
    """Geocoder over an in-memory address index; see the module docstring.

    Build it with :meth:`from_pbf` (an OSM extract) or :meth:`from_addresses`
    (any list of known addresses). ``min_confidence`` is the threshold below
    which a result is "ambiguous" rather than "ok".
    """

    attribution = OSM_ATTRIBUTION

    def __init__(
        self,
        addresses: Sequence[Address],
        address_street: Sequence[int],
        streets: Sequence[tuple[str, tuple[str, ...], float, float]],
        *,
        min_confidence: float = 0.8,
    ) -> None:
        if not 0.0 < min_confidence <= 1.0:
            raise InputError(f"must be in (0, 1], got {min_confidence}", where="min_confidence")
        if len(addresses) != len(address_street):
            raise InputError("one street id per address is needed", where="address_street")
        self.min_confidence = min_confidence
        self._addresses = list(addresses)
        self._address_street = list(address_street)
        self._streets = [
            _Street(name=name, keys=keys, lon=lon, lat=lat) for name, keys, lon, lat in streets
        ]
        self._build_lookups()

    # ----------------------------------------------------------------- building

    @classmethod
    def from_pbf(
        cls,
        path: str | Path,
        *,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        min_confidence: float = 0.8,
    ) -> OfflineGeocoder:
        """Index the addresses of an OSM extract (``.osm.pbf``).

        The parsed index is cached in ``cache_dir`` (default: the directory
        named by ``$LASTMILE_CACHE_DIR``, else ``~/.cache/lastmile``) under a
        name derived from the extract's absolute path, size and mtime.
        """
        source = Path(path)
        if not source.is_file():
            raise InputError("no such OpenStreetMap extract", where=str(source))
        cache_file = _cache_path(source, cache_dir) if use_cache else None
        if cache_file is not None and cache_file.is_file():
            try:
                return cls._from_cache(cache_file, min_confidence=min_confidence)
            except (OSError, EOFError, ValueError, KeyError, TypeError):
                pass  # a stale or damaged cache is rebuilt below
        raw_addresses, raw_streets = read_extract(source)
        addresses, address_street, streets = _build(raw_addresses, raw_streets)
        geocoder = cls(addresses, address_street, streets, min_confidence=min_confidence)
        if cache_file is not None:
            geocoder._write_cache(cache_file)
        return geocoder

    @classmethod
    def from_addresses(
        cls, addresses: Iterable[Address], *, min_confidence: float = 0.8
    ) -> OfflineGeocoder:
        """Index a list of known addresses (no street geometry)."""
        raw = [
            RawAddress(
                street=a.street,
                housenumber=a.housenumber,
                postcode=a.postcode,
                city=a.city,
                country=a.country,
                lon=a.lon,
                lat=a.lat,
                osm_type="node",
                osm_id=i,
            )
            for i, a in enumerate(addresses)
        ]
        built, address_street, streets = _build(raw, [])
        return cls(built, address_street, streets, min_confidence=min_confidence)

    def _build_lookups(self) -> None:
        for i, (address, sid) in enumerate(zip(self._addresses, self._address_street, strict=True)):
            street = self._streets[sid]
            for j, number in enumerate(expand_housenumbers(address.housenumber)):
                # The first entry is the value as written; the others come from
                # a range and only answer when no house carries that number itself.
                target = street.exact if j == 0 else street.derived
                target.setdefault(number.key, []).append(i)
                if j == 0 and number.number >= 0:
                    street.numbers.append((number.number, i))
            if address.postcode:
                street.postcodes.add(postcode_key(address.postcode))
            if address.city:
                street.cities.add(place_key(address.city))
        for street in self._streets:
            street.numbers.sort()
            city = _most_common(self._addresses[i].city for _, i in street.numbers)
            street.label = format_label(street=street.name, housenumber="", postcode="", city=city)
        self._labels = [a.label for a in self._addresses]
        # Postcode and city keys per address, compared on every query.
        self._address_keys = [
            (postcode_key(a.postcode), place_key(a.city)) for a in self._addresses
        ]

        # Streets without addresses get the postcode and city of the nearest
        # address (within 1.5 km), so blocking finds them and street-level
        # answers can be checked against the query's postcode and city.
        from scipy.spatial import cKDTree  # imported here: scipy is slow to import

        self._tree = cKDTree(_xyz([(a.lon, a.lat) for a in self._addresses]).reshape(-1, 3))
        if self._addresses:
            bare = [s for s in self._streets if not s.exact]
            if bare:
                dist, idx = self._tree.query(_xyz([(s.lon, s.lat) for s in bare]).reshape(-1, 3))
                for street, d, i in zip(bare, np.atleast_1d(dist), np.atleast_1d(idx), strict=True):
                    if d <= 1500.0:
                        near = self._addresses[int(i)]
                        if near.postcode:
                            street.postcodes.add(postcode_key(near.postcode))
                        if near.city:
                            street.cities.add(place_key(near.city))

        self._keys: list[str] = []
        self._key_street: list[int] = []
        for sid, street in enumerate(self._streets):
            for key in street.keys:
                self._keys.append(key)
                self._key_street.append(sid)
        by_postcode: dict[str, list[int]] = defaultdict(list)
        by_city: dict[str, list[int]] = defaultdict(list)
        for k, sid in enumerate(self._key_street):
            for pc in self._streets[sid].postcodes:
                by_postcode[pc].append(k)
            for city in self._streets[sid].cities:
                by_city[city].append(k)
        self._by_postcode = dict(by_postcode)
        self._by_city = dict(by_city)
        self._city_keys = sorted(by_city)
        self._block_cache: dict[tuple[str, str], tuple[list[str], list[int]]] = {}
        self._trigrams: dict[str, np.ndarray] | None = None
        if len(self._keys) > PREFILTER_ABOVE:
            grams: dict[str, list[int]] = defaultdict(list)
            for k, key in enumerate(self._keys):
                for gram in set(_trigrams(key)):
                    grams[gram].append(k)
            self._trigrams = {g: np.asarray(ids, dtype=np.int64) for g, ids in grams.items()}

    # ----------------------------------------------------------------- caching

    def _write_cache(self, cache_file: Path) -> None:
        payload = {
            "format": INDEX_FORMAT,
            "addresses": [
                [a.street, a.housenumber, a.postcode, a.city, a.country, a.lon, a.lat]
                for a in self._addresses
            ],
            "address_street": self._address_street,
            "streets": [[s.name, list(s.keys), s.lon, s.lat] for s in self._streets],
        }
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                json.dump(payload, fh, separators=(",", ":"))
            tmp.replace(cache_file)
        except OSError:
            pass  # a cache that cannot be written only costs time next load

    @classmethod
    def _from_cache(cls, cache_file: Path, *, min_confidence: float) -> OfflineGeocoder:
        with gzip.open(cache_file, "rt", encoding="utf-8") as fh:
            payload: dict[str, Any] = json.load(fh)
        if payload.get("format") != INDEX_FORMAT:
            raise ValueError("cache written by another index format")
        addresses = [
            Address(street=s, housenumber=h, postcode=p, city=c, country=k, lon=x, lat=y)
            for s, h, p, c, k, x, y in payload["addresses"]
        ]
        streets = [(n, tuple(keys), x, y) for n, keys, x, y in payload["streets"]]
        return cls(addresses, payload["address_street"], streets, min_confidence=min_confidence)

    # ----------------------------------------------------------------- queries

    @property
    def addresses(self) -> tuple[Address, ...]:
        """Every address in the index (duplicates in the extract merged)."""
        return tuple(self._addresses)

    def geocode(self, query: str | StructuredAddress, *, limit: int = 5) -> GeocodeResult:
        """Resolve one address. See the module docstring for how."""
        text = query_text(query)
        parsed = self._parse(query)
        candidates = self._candidates(parsed, limit=limit) if parsed is not None else []
        return decide(text, candidates, min_confidence=self.min_confidence, limit=limit)

    def geocode_many(
        self, queries: Sequence[str | StructuredAddress], *, limit: int = 5
    ) -> list[GeocodeResult]:
        """Resolve many addresses, in order; repeated queries are resolved once."""
        seen: dict[str | StructuredAddress, GeocodeResult] = {}
        out: list[GeocodeResult] = []
        for query in queries:
            result = seen.get(query)
            if result is None:
                result = seen[query] = self.geocode(query, limit=limit)
            out.append(result)
        return out

    def reverse(self, lon: float, lat: float, *, max_distance_m: float = 100.0) -> Address | None:
        """The nearest indexed address within ``max_distance_m`` metres, or ``None``."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InputError("lon and lat must be finite numbers", where="reverse")
        if not self._addresses:
            return None
        dist, idx = self._tree.query(_xyz([(lon, lat)])[0], distance_upper_bound=max_distance_m)
        if not math.isfinite(float(dist)):
            return None
        return self._addresses[int(idx)]

    # ----------------------------------------------------------------- parsing

    def _parse(self, query: str | StructuredAddress) -> _Query | None:
        if isinstance(query, StructuredAddress):
            if query.housenumber:
                readings: list[tuple[str, str]] = [(fold(query.street), fold(query.housenumber))]
            else:
                readings = split_street_number(query.street)
            city = self._known_city(query.city) or place_key(query.city)
            return _Query(tuple(readings), postcode_key(query.postcode), city)
        parts = [p.strip() for p in fold(query).split(",") if p.strip()]
        if not parts:
            return None
        lines: list[str] = []
        if len(parts) >= 2:
            lines, rest = [parts[0]], parts[1:]
            if is_housenumber(parts[0]):  # "18, Mikonkatu, Helsinki"
                lines, rest = [f"{parts[0]} {parts[1]}"], parts[2:]
            elif not _DIGITS.search(parts[0]):
                # "Kaivopiha, Mannerheimintie 5, Helsinki": a building or
                # company name first; the street line is a later part.
                lines += [p for p in rest[:-1] if _DIGITS.search(p)]
            postcode, city = self._postcode_city(rest)
        else:
            line, postcode, city = self._split_one_line(parts[0].split())
            lines = [line] if line else []
        readings = [reading for line in lines for reading in split_street_number(line)]
        return _Query(tuple(readings), postcode, city)

    def _postcode_city(self, parts: list[str]) -> tuple[str, str]:
        postcode, cities = "", []
        for part in parts:
            words = []
            for token in part.split():
                if not postcode and self._looks_like_postcode(token):
                    postcode = postcode_key(token)
                else:
                    words.append(token)
            if words:
                cities.append(" ".join(words))
        for name in cities:
            known = self._known_city(name)
            if known:
                return postcode, known
        return postcode, place_key(cities[0]) if cities else ""

    def _split_one_line(self, tokens: list[str]) -> tuple[str, str, str]:
        """Street line, postcode key and city key of a comma-less line."""
        for i in range(len(tokens) - 1, 0, -1):
            token = tokens[i]
            known = postcode_key(token) in self._by_postcode
            if known or (_POSTCODE_SHAPE.match(token) and i < len(tokens) - 1):
                city = " ".join(tokens[i + 1 :])
                return (
                    " ".join(tokens[:i]),
                    postcode_key(token),
                    self._known_city(city) or place_key(city),
                )
        for n in (3, 2, 1):
            if len(tokens) > n + 1 and not any(_DIGITS.search(t) for t in tokens[-n:]):
                known_city = self._known_city(" ".join(tokens[-n:]), cutoff=90.0)
                if known_city:
                    return " ".join(tokens[:-n]), "", known_city
        return " ".join(tokens), "", ""

    def _looks_like_postcode(self, token: str) -> bool:
        return bool(_POSTCODE_SHAPE.match(token)) or postcode_key(token) in self._by_postcode

    def _known_city(self, text: str, *, cutoff: float = 80.0) -> str:
        key = place_key(text)
        if not key or not self._city_keys:
            return ""
        if key in self._by_city:
            return key
        best = process.extractOne(key, self._city_keys, scorer=fuzz.ratio, score_cutoff=cutoff)
        return str(best[0]) if best else ""

    # ----------------------------------------------------------------- matching

    def _block(self, postcode: str, city: str) -> tuple[list[str], list[int]] | None:
        """Street keys seen with this postcode or city; None when neither is known."""
        if postcode not in self._by_postcode and city not in self._by_city:
            return None
        cached = self._block_cache.get((postcode, city))
        if cached is None:
            ids = sorted(
                set(self._by_postcode.get(postcode, ())) | set(self._by_city.get(city, ()))
            )
            cached = ([self._keys[k] for k in ids], ids)
            self._block_cache[(postcode, city)] = cached
        return cached

    def _match_streets(self, parsed: _Query, which: Sequence[int]) -> dict[tuple[int, int], float]:
        """(reading index, street id) -> similarity in [0, 1], for streets worth scoring.

        The block (postcode/city) is searched first; all streets only when no
        reading finds a good match there (a typo in the postcode or city, or
        a street the block does not know).
        """
        found: dict[tuple[int, int], float] = {}
        keyed = [(r, street_key(parsed.readings[r][0])) for r in which]
        keyed = [(r, key) for r, key in keyed if key]

        def take(
            keys: Sequence[str], ids: Sequence[int] | None, readings: list[tuple[int, str]]
        ) -> float:
            best = 0.0
            for r, key in readings:
                digits = _DIGITS.findall(key)
                for matched, score, pos in process.extract(
                    key, keys, scorer=fuzz.ratio, limit=6, score_cutoff=STREET_CUTOFF
                ):
                    sid = self._key_street[pos if ids is None else ids[pos]]
                    similarity = score / 100.0
                    if _DIGITS.findall(matched) != digits:
                        # "Mikonkatu 18 A 5" read as street "Mikonkatu 18 A": the
                        # number belongs to the house, not to the street.
                        similarity *= DIGIT_MISMATCH_FACTOR
                    if similarity > found.get((r, sid), 0.0):
                        found[(r, sid)] = similarity
                    best = max(best, float(score))
            return best

        block = self._block(parsed.postcode, parsed.city)
        best = take(block[0], block[1], keyed) if block is not None else 0.0
        if best < WIDEN_BELOW:
            if self._trigrams is None:
                take(self._keys, None, keyed)
            else:
                for r, key in keyed:
                    ids = self._prefilter(key)
                    take([self._keys[k] for k in ids], ids, [(r, key)])
        return found

    def _prefilter(self, key: str) -> list[int]:
        assert self._trigrams is not None
        arrays = [self._trigrams[g] for g in set(_trigrams(key)) if g in self._trigrams]
        if not arrays:
            return []
        counts = np.bincount(np.concatenate(arrays), minlength=len(self._keys))
        keep = min(PREFILTER_KEEP, int(np.count_nonzero(counts)))
        top = np.argpartition(-counts, keep - 1)[:keep]
        return [int(k) for k in top if counts[k] > 0]

    def _candidates(self, parsed: _Query, *, limit: int) -> list[Candidate]:
        """Scored candidates, enough of them to fill ``limit`` and judge rivals.

        Readings with a house number are tried first; the readings without
        one (whose answers are at best street-level) only when those found
        nothing good enough. Streets are placed best similarity first; since
        every factor is at most 1, a street whose similarity is below the
        ``keep``-th confidence found so far cannot enter the top and is not
        placed at all.
        """
        keep = max(limit, 2)
        wanted = [housenumber(hn) if hn else None for _, hn in parsed.readings]
        out: list[Candidate] = []
        top: list[float] = []  # min-heap of the best `keep` confidences
        numbered = [r for r, w in enumerate(wanted) if w is not None]
        bare = [r for r, w in enumerate(wanted) if w is None]
        for which in (numbered, bare):
            if not which or (out and max(top) >= self.min_confidence):
                continue
            ranked = sorted(self._match_streets(parsed, which).items(), key=lambda kv: -kv[1])
            for (r, sid), similarity in ranked:
                if len(top) >= keep and similarity < top[0]:
                    break
                for cand in self._place(sid, similarity, wanted[r], parsed):
                    out.append(cand)
                    if len(top) < keep:
                        heapq.heappush(top, cand.confidence)
                    elif cand.confidence > top[0]:
                        heapq.heapreplace(top, cand.confidence)
        return out

    def _place(
        self, sid: int, similarity: float, wanted: HouseNumber | None, parsed: _Query
    ) -> list[Candidate]:
        """Candidates for one street: the house, a neighbour-interpolated point or the street."""
        street = self._streets[sid]
        if wanted is not None:
            hits = street.exact.get(wanted.key) or street.derived.get(wanted.key)
            factor = 1.0
            if not hits and wanted.number >= 0:
                hits = [i for n, i in street.numbers if n == wanted.number]
                factor = HOUSE_SUFFIX_FACTOR
            if hits:
                return [self._address_candidate(i, similarity * factor, parsed) for i in hits[:3]]
            interpolated = self._interpolate(street, wanted, similarity, parsed)
            if interpolated is not None:
                return [interpolated]
        city_factor = _set_factor(parsed.city, street.cities, fuzzy=True)
        pc_factor = _set_factor(parsed.postcode, street.postcodes, fuzzy=False)
        return [
            Candidate(
                label=street.label,
                lon=street.lon,
                lat=street.lat,
                confidence=_clip(similarity * STREET_FACTOR * city_factor * pc_factor),
                precision=Precision.STREET,
            )
        ]

    def _address_candidate(self, i: int, score: float, parsed: _Query) -> Candidate:
        address = self._addresses[i]
        pc, city = self._address_keys[i]
        factor = _set_factor(parsed.postcode, {pc} if pc else set(), fuzzy=False)
        factor *= _set_factor(parsed.city, {city} if city else set(), fuzzy=True)
        return Candidate(
            label=self._labels[i],
            lon=address.lon,
            lat=address.lat,
            confidence=_clip(score * factor),
            precision=Precision.HOUSE,
        )

    def _interpolate(
        self, street: _Street, wanted: HouseNumber, similarity: float, parsed: _Query
    ) -> Candidate | None:
        number = wanted.number
        if number < 0 or not street.numbers:
            return None
        for same_side in (True, False):
            lower = upper = None
            for n, i in street.numbers:
                if same_side and (n - number) % 2:
                    continue
                if n < number:
                    lower = (n, i)
                elif n > number and upper is None:
                    upper = (n, i)
            if lower is None or upper is None or upper[0] - lower[0] > INTERPOLATE_MAX_GAP:
                continue
            a, b = self._addresses[lower[1]], self._addresses[upper[1]]
            if distance_m(a.lon, a.lat, b.lon, b.lat) > INTERPOLATE_MAX_M:
                continue
            t = (number - lower[0]) / (upper[0] - lower[0])
            pc = a.postcode if a.postcode == b.postcode else ""
            city = a.city if a.city == b.city else ""
            factor = INTERPOLATED_FACTOR * (1.0 if same_side else 0.95)
            factor *= _set_factor(parsed.postcode, {postcode_key(pc)} if pc else set(), fuzzy=False)
            factor *= _set_factor(parsed.city, {place_key(city)} if city else set(), fuzzy=True)
            return Candidate(
                label=format_label(
                    street=street.name,
                    housenumber=_display_number(wanted),
                    postcode=pc,
                    city=city,
                ),
                lon=a.lon + t * (b.lon - a.lon),
                lat=a.lat + t * (b.lat - a.lat),
                confidence=_clip(similarity * factor),
                precision=Precision.INTERPOLATED,
            )
        return None


# --------------------------------------------------------------------- helpers


def _set_factor(wanted: str, known: set[str], *, fuzzy: bool) -> float:
    """How far a postcode/city the query gives agrees with what the data says."""
    if not wanted:
        return 1.0
    if not known:
        return UNKNOWN_FACTOR
    if wanted in known:
        return 1.0
    if fuzzy and any(fuzz.ratio(wanted, k) >= 85.0 for k in known):
        return 1.0
    return MISMATCH_FACTOR


def _display_number(number: HouseNumber) -> str:
    """How a house number is usually written: 12a as "12 A", 12bis as "12 bis"."""
    suffix = number.suffix
    if number.number < 0 or not suffix:
        return number.key
    return f"{number.number} {suffix.upper() if len(suffix) == 1 else suffix}"


def _clip(x: float) -> float:
    return round(min(1.0, max(0.0, x)), 4)


def _most_common(values: Iterable[str]) -> str:
    counts = Counter(v for v in values if v)
    return counts.most_common(1)[0][0] if counts else ""


def _trigrams(key: str) -> list[str]:
    padded = f"  {key} "
    return [padded[i : i + 3] for i in range(len(padded) - 2)]


def _xyz(points: Sequence[tuple[float, float]]) -> np.ndarray:
    """Points on a sphere of the Earth's radius: chord distance ~ metres at city scale."""
    arr = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lon, lat = arr[:, 0], arr[:, 1]
    return EARTH_RADIUS_M * np.column_stack(
        (np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat))
    )


def default_cache_dir() -> Path:
    """``$LASTMILE_CACHE_DIR``, else ``$XDG_CACHE_HOME/lastmile``, else ``~/.cache/lastmile``."""
    explicit = os.environ.get("LASTMILE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lastmile"


def _cache_path(source: Path, cache_dir: str | Path | None) -> Path:
    stat = source.stat()
    ident = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{INDEX_FORMAT}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = source.name.split(".")[0] or "extract"
    return folder / "geocode" / f"{stem}-{digest}.json.gz"


# --------------------------------------------------------------------- index build


def _build(
    raw_addresses: Sequence[RawAddress], raw_streets: Sequence[RawStreet]
) -> tuple[list[Address], list[int], list[tuple[str, tuple[str, ...], float, float]]]:
    """Merge an extract's objects into addresses on street entities.

    Returns the addresses, each address's street id, and per street its
    display name, matching keys, and a representative point.
    """
    # Points per street key, each tagged with where it came from.
    per_key: dict[str, list[tuple[float, float, str, int]]] = defaultdict(list)
    for i, a in enumerate(raw_addresses):
        key = street_key(a.street)
        if key and a.housenumber.strip():
            per_key[key].append((a.lon, a.lat, "a", i))
    for j, s in enumerate(raw_streets):
        key = street_key(s.name)
        if key:
            for lon, lat in s.points:
                per_key[key].append((lon, lat, "s", j))

    addresses: list[Address] = []
    address_street: list[int] = []
    streets: list[tuple[str, tuple[str, ...], float, float]] = []
    for key, points in per_key.items():
        for component in _components(points):
            sid = len(streets)
            address_ids = sorted({i for _, _, kind, i in component if kind == "a"})
            street_ids = sorted({j for _, _, kind, j in component if kind == "s"})
            members = [raw_addresses[i] for i in address_ids]
            names = Counter(a.street for a in members) or Counter(
                raw_streets[j].name for j in street_ids
            )
            aliases = {street_key(alias) for j in street_ids for alias in raw_streets[j].aliases}
            keys = (key, *sorted(k for k in aliases if k and k != key))
            geometry = [(lon, lat) for lon, lat, kind, _ in component if kind == "s"]
            lon, lat = _central(geometry or [(a.lon, a.lat) for a in members])
            streets.append((names.most_common(1)[0][0], keys, lon, lat))
            for merged in _merge_houses(members):
                addresses.append(merged)
                address_street.append(sid)
    return addresses, address_street, streets


def _components(
    points: list[tuple[float, float, str, int]],
) -> list[list[tuple[float, float, str, int]]]:
    """Split points into groups whose ~1 km grid cells touch (8-neighbourhood)."""
    cells: dict[tuple[int, int], list[tuple[float, float, str, int]]] = defaultdict(list)
    for p in points:
        scale = max(0.2, math.cos(math.radians(p[1])))
        cells[(math.floor(p[1] / CELL_DEG), math.floor(p[0] * scale / CELL_DEG))].append(p)
    parent = {c: c for c in cells}

    def find(c: tuple[int, int]) -> tuple[int, int]:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return c

    for r, q in cells:
        for dr in (-1, 0, 1):
            for dq in (-1, 0, 1):
                other = (r + dr, q + dq)
                if other in parent:
                    parent[find(other)] = find((r, q))
    groups: dict[tuple[int, int], list[tuple[float, float, str, int]]] = defaultdict(list)
    for c, members in cells.items():
        groups[find(c)].extend(members)
    # A way with nodes more than a cell apart may land in two components;
    # both then carry its name and aliases, which is what a search needs.
    return list(groups.values())


def _central(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The point of ``points`` nearest their mean (always an actual point)."""
    mlon = sum(p[0] for p in points) / len(points)
    mlat = sum(p[1] for p in points) / len(points)
    scale = math.cos(math.radians(mlat)) ** 2
    return min(points, key=lambda p: (p[0] - mlon) ** 2 * scale + (p[1] - mlat) ** 2)


def _merge_houses(members: Sequence[RawAddress]) -> list[Address]:
    """One address per house number on a street, however many objects carry it.

    Shops in one building each carry its address; the merged position is a
    building's (way or relation) if one carries the address, else the node
    most central among them. Postcode and city are the most common given.
    """
    by_number: dict[str, list[tuple[str, RawAddress]]] = defaultdict(list)
    for a in members:
        for part in re.split(r"[;,]", a.housenumber):
            if part.strip():
                by_number[housenumber(part).key].append((part.strip(), a))
    merged: list[Address] = []
    for _, group in sorted(by_number.items()):
        objects = [a for _, a in group]
        buildings = [a for a in objects if a.osm_type != "node"]
        lon, lat = _medoid([(a.lon, a.lat) for a in (buildings or objects)])
        merged.append(
            Address(
                street=Counter(a.street for a in objects).most_common(1)[0][0],
                housenumber=Counter(text for text, _ in group).most_common(1)[0][0],
                postcode=_most_common(a.postcode for a in objects),
                city=_most_common(a.city for a in objects),
                country=_most_common(a.country for a in objects),
                lon=lon,
                lat=lat,
            )
        )
    return merged


def _medoid(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    if len(points) <= 2:
        return points[0]
    scale = math.cos(math.radians(points[0][1])) ** 2
    return min(
        points,
        key=lambda p: sum(
            math.sqrt((p[0] - q[0]) ** 2 * scale + (p[1] - q[1]) ** 2) for q in points
        ),
    )
