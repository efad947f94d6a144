"""How long and how far: travel models side by side behind one protocol."""

from lastmile.travel.base import TravelModel as TravelModel
from lastmile.travel.haversine import HaversineModel as HaversineModel
from lastmile.travel.haversine import euclidean_matrix as euclidean_matrix
from lastmile.travel.matrix import TravelMatrix as TravelMatrix

__all__ = ["HaversineModel", "TravelMatrix", "TravelModel", "euclidean_matrix"]
