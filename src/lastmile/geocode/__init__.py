"""Addresses to positions and back: an offline index over an OSM extract, and Nominatim.

OSM data is (c) OpenStreetMap contributors, available under the ODbL.
"""

from lastmile.geocode.base import Address as Address
from lastmile.geocode.base import Candidate as Candidate
from lastmile.geocode.base import Geocoder as Geocoder
from lastmile.geocode.base import GeocodeResult as GeocodeResult
from lastmile.geocode.base import GeocodeStatus as GeocodeStatus
from lastmile.geocode.base import Precision as Precision
from lastmile.geocode.base import StructuredAddress as StructuredAddress
from lastmile.geocode.nominatim import GeocoderUnavailable as GeocoderUnavailable
from lastmile.geocode.nominatim import NominatimGeocoder as NominatimGeocoder
from lastmile.geocode.offline import OfflineGeocoder as OfflineGeocoder
from lastmile.geocode.osm import OSM_ATTRIBUTION as OSM_ATTRIBUTION

__all__ = [
    "OSM_ATTRIBUTION",
    "Address",
    "Candidate",
    "GeocodeResult",
    "GeocodeStatus",
    "Geocoder",
    "GeocoderUnavailable",
    "NominatimGeocoder",
    "OfflineGeocoder",
    "Precision",
    "StructuredAddress",
]
