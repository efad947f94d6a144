"""How long and how far: travel models side by side behind one protocol."""

from lastmile.travel.base import TravelModel as TravelModel
from lastmile.travel.base import grown_matrix as grown_matrix
from lastmile.travel.haversine import HaversineModel as HaversineModel
from lastmile.travel.haversine import euclidean_matrix as euclidean_matrix
from lastmile.travel.matrix import TravelMatrix as TravelMatrix

__all__ = ["HaversineModel", "TravelMatrix", "TravelModel", "euclidean_matrix", "grown_matrix"]

# Road networks from OpenStreetMap extracts (OSM data (c) OpenStreetMap contributors, ODbL).
from lastmile.travel.network import RoadNetwork as RoadNetwork
from lastmile.travel.road import RoadTravelModel as RoadTravelModel
from lastmile.travel.road import RoutePath as RoutePath

__all__ += ["RoadNetwork", "RoadTravelModel", "RoutePath"]
