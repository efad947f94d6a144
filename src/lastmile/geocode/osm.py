"""Reading addresses and named streets out of an OpenStreetMap extract.

Uses pyosmium (``osmium``). Addresses come from every object carrying
``addr:housenumber``: nodes, ways (mean of their nodes) and multipolygon
relations (mean of their outer rings). Objects with a house number but no
``addr:street`` take the street from an ``associatedStreet``/``street``
relation they are a member of, or the ``addr:place`` they name. Named
highways give street geometry (for street-level answers) and alternative
names (``name:sv``, ``alt_name``, ... become aliases of ``name``).

OSM data is (c) OpenStreetMap contributors, available under the ODbL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from lastmile.exceptions import FormatError, InputError

OSM_ATTRIBUTION = "Map data (c) OpenStreetMap contributors, ODbL"

# Tags whose values name the same street as ``name`` (Helsinki streets carry
# their Swedish name in ``name:sv``, many cities an ``old_name`` people use).
ALIAS_TAGS = (
    "name:fi",
    "name:sv",
    "name:en",
    "name:fr",
    "name:de",
    "name:it",
    "name:es",
    "alt_name",
    "old_name",
    "official_name",
    "short_name",
    "loc_name",
)


@dataclass(frozen=True, slots=True)
class RawAddress:
    """One OSM object's address tags and position."""

    street: str
    housenumber: str
    postcode: str
    city: str
    country: str
    lon: float
    lat: float
    osm_type: str  # "node", "way" or "relation"
    osm_id: int


@dataclass(slots=True)
class RawStreet:
    """One named highway way: its name, aliases and node positions."""

    name: str
    aliases: tuple[str, ...]
    points: list[tuple[float, float]] = field(default_factory=list)


def read_extract(path: str | Path) -> tuple[list[RawAddress], list[RawStreet]]:
    """All addresses and named highways in an ``.osm.pbf`` (or ``.osm``/``.osc``) file."""
    try:
        import osmium
        from osmium.osm import Area, Node, Relation, Way
    except ImportError as exc:  # pragma: no cover - osmium is a declared dependency
        raise InputError("reading OSM extracts needs the 'osmium' package") from exc

    source = Path(path)
    if not source.is_file():
        raise InputError("no such file", where=str(source))

    addresses: dict[tuple[str, int], RawAddress] = {}
    streets: list[RawStreet] = []
    member_street: dict[tuple[str, int], str] = {}

    def emit(tags: dict[str, str], lon: float, lat: float, osm_type: str, osm_id: int) -> None:
        addresses[(osm_type, osm_id)] = RawAddress(
            street=tags.get("addr:street") or tags.get("addr:place", ""),
            housenumber=tags["addr:housenumber"],
            postcode=tags.get("addr:postcode", ""),
            city=tags.get("addr:city", ""),
            country=tags.get("addr:country", ""),
            lon=lon,
            lat=lat,
            osm_type=osm_type,
            osm_id=osm_id,
        )

    processor = (
        osmium.FileProcessor(str(source))
        .with_areas()
        .with_filter(osmium.filter.KeyFilter("addr:housenumber", "highway", "type"))
    )
    try:
        for obj in processor:
            tags = {tag.k: tag.v for tag in obj.tags}
            if isinstance(obj, Node):
                if "addr:housenumber" in tags and obj.location.valid():
                    emit(tags, obj.location.lon, obj.location.lat, "node", obj.id)
            elif isinstance(obj, Way):
                points = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
                if len(points) > 1 and points[0] == points[-1]:
                    points.pop()  # a closed way repeats its first node
                if not points:
                    continue
                if "addr:housenumber" in tags:
                    emit(tags, *_mean(points), "way", obj.id)
                if "highway" in tags and tags.get("name"):
                    name = tags["name"]
                    aliases = tuple(tags[k] for k in ALIAS_TAGS if tags.get(k, name) != name)
                    streets.append(RawStreet(name=name, aliases=aliases, points=points))
            elif isinstance(obj, Relation):
                if tags.get("type") in ("associatedStreet", "street") and tags.get("name"):
                    for member in obj.members:
                        if member.role in ("house", "address", "addr"):
                            kind = {"n": "node", "w": "way", "r": "relation"}[member.type]
                            member_street.setdefault((kind, member.ref), tags["name"])
            elif isinstance(obj, Area) and not obj.from_way() and "addr:housenumber" in tags:
                ring_points = [
                    (node.lon, node.lat)
                    for ring in obj.outer_rings()
                    for node in ring
                    if node.location.valid()
                ]
                if ring_points:
                    emit(tags, *_mean(ring_points), "relation", obj.orig_id())
    except RuntimeError as exc:
        raise FormatError(f"cannot read as OpenStreetMap data: {exc}", where=str(source)) from exc

    out = [
        replace(a, street=member_street[key]) if not a.street and key in member_street else a
        for key, a in addresses.items()
    ]
    return out, streets


def _mean(points: list[tuple[float, float]]) -> tuple[float, float]:
    n = len(points)
    return sum(p[0] for p in points) / n, sum(p[1] for p in points) / n
