"""Road networks from OpenStreetMap extracts, snapped to and searched exactly.

The parts, from the bottom up:

- ``results``: the array types and what queries return (``SnapResult``, ``PathResult``);
- ``geometry``: great-circle distances over arrays;
- ``profiles``: routing profiles (car, van, truck, cargo bike, bicycle, foot) and the OSM
  tag rules (access, one-way, ``maxspeed``, ``maxweight``/``maxheight``);
- ``pbf``: reading an ``.osm.pbf`` extract into network arrays;
- ``snapping``: the nearest point on any road segment;
- ``ch`` (with the compiled ``_ch_kernels``): a customizable contraction hierarchy,
  the matrices of city-size networks;
- ``chains`` (with the compiled ``_kernels``): exact matrix and path queries;
- ``road_network``: ``RoadNetwork``, the arrays together with their disk cache;
- ``drawing``: the roads as polylines for a map, and paths through points along them.

OSM data is (c) OpenStreetMap contributors, ODbL; see ``ATTRIBUTION``.
"""

from lastmile.travel.network.geometry import haversine_m_array as haversine_m_array
from lastmile.travel.network.pbf import ATTRIBUTION as ATTRIBUTION
from lastmile.travel.network.profiles import ALIASES as ALIASES
from lastmile.travel.network.profiles import PROFILE_NAMES as PROFILE_NAMES
from lastmile.travel.network.profiles import PROFILES as PROFILES
from lastmile.travel.network.profiles import ROAD_CLASSES as ROAD_CLASSES
from lastmile.travel.network.profiles import RULES_VERSION as RULES_VERSION
from lastmile.travel.network.profiles import Profile as Profile
from lastmile.travel.network.profiles import get_profile as get_profile
from lastmile.travel.network.profiles import parse_height_m as parse_height_m
from lastmile.travel.network.profiles import parse_maxspeed_kph as parse_maxspeed_kph
from lastmile.travel.network.profiles import parse_weight_t as parse_weight_t
from lastmile.travel.network.profiles import way_directions as way_directions
from lastmile.travel.network.profiles import way_speeds_kph as way_speeds_kph
from lastmile.travel.network.results import Bools as Bools
from lastmile.travel.network.results import Floats as Floats
from lastmile.travel.network.results import Ints as Ints
from lastmile.travel.network.results import PathResult as PathResult
from lastmile.travel.network.results import SnapResult as SnapResult
from lastmile.travel.network.road_network import RoadNetwork as RoadNetwork
from lastmile.travel.network.snapping import DEFAULT_MAX_SNAP_M as DEFAULT_MAX_SNAP_M

__all__ = [
    "ALIASES",
    "ATTRIBUTION",
    "DEFAULT_MAX_SNAP_M",
    "PROFILES",
    "PROFILE_NAMES",
    "ROAD_CLASSES",
    "RULES_VERSION",
    "Bools",
    "Floats",
    "Ints",
    "PathResult",
    "Profile",
    "RoadNetwork",
    "SnapResult",
    "get_profile",
    "haversine_m_array",
    "parse_height_m",
    "parse_maxspeed_kph",
    "parse_weight_t",
    "way_directions",
    "way_speeds_kph",
]
