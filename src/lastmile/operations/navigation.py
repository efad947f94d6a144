"""Links that open a stop in the driver's navigation app.

Drivers navigate with the app they know; the driver's view hands each stop over
as links every common app understands: a ``geo:`` URI (RFC 5870, with the
label Android apps show; any installed map app answers it), OsmAnd, Google
Maps and Apple Maps (each opens the app when installed, the web map
otherwise). Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from lastmile.exceptions import InputError


@dataclass(frozen=True, slots=True)
class NavigationLinks:
    """One stop's links, by app."""

    geo: str
    osmand: str
    google_maps: str
    apple_maps: str


def _coord(value: float) -> str:
    """Degrees with 6 decimals (about 10 cm), no trailing zeros, never ``-0``."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def navigation_links(lat: float, lon: float, label: str = "") -> NavigationLinks:
    """The links opening ``(lat, lon)`` (WGS 84 degrees) in navigation apps.

    ``label`` (e.g. the customer and address) is shown by the apps that take
    one (geo:, Apple Maps). A bad coordinate is an :class:`InputError` naming it.
    """
    if not (isinstance(lat, int | float) and math.isfinite(lat) and -90 <= lat <= 90):
        raise InputError(f"{lat!r} is not a latitude between -90 and 90", where="lat")
    if not (isinstance(lon, int | float) and math.isfinite(lon) and -180 <= lon <= 180):
        raise InputError(f"{lon!r} is not a longitude between -180 and 180", where="lon")
    la, lo = _coord(lat), _coord(lon)
    name = " ".join(label.split())
    # RFC 5870: geo:lat,lon; the "?q=lat,lon(label)" query is the Android
    # convention for a labelled pin (the coordinates repeated, so apps that
    # read only q still find the place).
    geo = f"geo:{la},{lo}"
    if name:
        geo += f"?q={la},{lo}(" + quote(name, safe="") + ")"
    apple = {"daddr": f"{la},{lo}"}
    if name:
        apple["q"] = name
    return NavigationLinks(
        geo=geo,
        osmand=f"https://osmand.net/map?pin={la},{lo}#17/{la}/{lo}",
        google_maps="https://www.google.com/maps/dir/?"
        + urlencode({"api": "1", "destination": f"{la},{lo}"}, safe=","),
        apple_maps="https://maps.apple.com/?" + urlencode(apple, safe=",", quote_via=quote),
    )
