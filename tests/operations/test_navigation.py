"""Navigation links for a stop (lastmile.operations.navigation)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from lastmile.exceptions import InputError
from lastmile.operations.navigation import navigation_links


def test_links_for_each_app() -> None:
    links = navigation_links(48.8566, 2.3522, "Ada Martin, 3 rue de Rivoli")
    assert (
        links.geo == "geo:48.8566,2.3522?q=48.8566,2.3522(Ada%20Martin%2C%203%20rue%20de%20Rivoli)"
    )
    assert links.osmand.startswith("https://osmand.net/map?pin=48.8566,2.3522")
    assert links.google_maps == (
        "https://www.google.com/maps/dir/?api=1&destination=48.8566,2.3522"
    )
    apple = urlsplit(links.apple_maps)
    assert (apple.scheme, apple.netloc) == ("https", "maps.apple.com")
    assert parse_qs(apple.query) == {
        "daddr": ["48.8566,2.3522"],
        "q": ["Ada Martin, 3 rue de Rivoli"],
    }


def test_without_label_and_negative_coordinates() -> None:
    links = navigation_links(-33.8688, -151.2093)
    assert links.geo == "geo:-33.8688,-151.2093"
    assert links.apple_maps == "https://maps.apple.com/?daddr=-33.8688,-151.2093"
    assert navigation_links(0.0000001, -0.0000001).geo == "geo:0,0"


@pytest.mark.parametrize(
    ("lat", "lon", "field"), [(91, 0, "lat"), (0, 181, "lon"), (float("nan"), 0, "lat")]
)
def test_bad_coordinates_name_the_field(lat: float, lon: float, field: str) -> None:
    with pytest.raises(InputError, match=field):
        navigation_links(lat, lon)
