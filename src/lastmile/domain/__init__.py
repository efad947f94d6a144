"""Plain, typed, immutable value objects. No I/O, no solver, no ORM.

Units are in the names: integer seconds since the plan's epoch for times,
metres for distances, integer amounts per capacity dimension.
"""

from lastmile.domain.day import DayRecord as DayRecord
from lastmile.domain.day import EtaSample as EtaSample
from lastmile.domain.day import Incident as Incident
from lastmile.domain.day import Position as Position
from lastmile.domain.day import RouteOutcome as RouteOutcome
from lastmile.domain.day import StopOutcome as StopOutcome
from lastmile.domain.day import StopStatus as StopStatus
from lastmile.domain.fleet import Break as Break
from lastmile.domain.fleet import Depot as Depot
from lastmile.domain.fleet import Vehicle as Vehicle
from lastmile.domain.fleet import VehicleType as VehicleType
from lastmile.domain.geo import Location as Location
from lastmile.domain.geo import haversine_m as haversine_m
from lastmile.domain.orders import Order as Order
from lastmile.domain.orders import OrderKind as OrderKind
from lastmile.domain.orders import Stop as Stop
from lastmile.domain.plan import Plan as Plan
from lastmile.domain.plan import Route as Route
from lastmile.domain.plan import Unassigned as Unassigned
from lastmile.domain.plan import Visit as Visit
from lastmile.domain.plan import VisitKind as VisitKind
from lastmile.domain.time import HORIZON as HORIZON
from lastmile.domain.time import TimeWindow as TimeWindow

__all__ = [
    "HORIZON",
    "Break",
    "DayRecord",
    "Depot",
    "EtaSample",
    "Incident",
    "Location",
    "Order",
    "OrderKind",
    "Plan",
    "Position",
    "Route",
    "RouteOutcome",
    "Stop",
    "StopOutcome",
    "StopStatus",
    "TimeWindow",
    "Unassigned",
    "Vehicle",
    "VehicleType",
    "Visit",
    "VisitKind",
    "haversine_m",
]
