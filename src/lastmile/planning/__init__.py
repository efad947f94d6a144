"""From a problem to a checked plan: engines, scheduling, validation, reasons.

``PlanningProblem`` describes; ``solve`` plans; ``validate`` checks any plan
independently of the engine that made it.
"""

from lastmile.planning.problem import Feature as Feature
from lastmile.planning.problem import PlanningProblem as PlanningProblem
from lastmile.planning.problem import TravelMatrix as TravelMatrix
from lastmile.planning.problem import route_cost as route_cost
from lastmile.planning.schedule import Step as Step
from lastmile.planning.schedule import build_route as build_route
from lastmile.planning.solve import solve as solve

__all__ = [
    "Feature",
    "PlanningProblem",
    "Step",
    "TravelMatrix",
    "build_route",
    "route_cost",
    "solve",
]
