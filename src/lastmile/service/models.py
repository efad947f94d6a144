"""Every table of the service, imported once so the metadata knows them all."""

from lastmile.service.auth.models import ApiKey as ApiKey
from lastmile.service.auth.models import Role as Role
from lastmile.service.auth.models import SessionToken as SessionToken
from lastmile.service.auth.models import User as User
from lastmile.service.automation.models import AutomationEntry as AutomationEntry
from lastmile.service.automation.models import AutomationRun as AutomationRun
from lastmile.service.db import Base as Base
from lastmile.service.depots.models import Depot as Depot
from lastmile.service.fleet.models import Driver as Driver
from lastmile.service.fleet.models import Shift as Shift
from lastmile.service.fleet.models import Vehicle as Vehicle
from lastmile.service.fleet.models import VehicleType as VehicleType
from lastmile.service.learning.models import LearnedTraffic as LearnedTraffic
from lastmile.service.notifications.models import CustomerNotification as CustomerNotification
from lastmile.service.notifications.models import CustomerReply as CustomerReply
from lastmile.service.notifications.models import InboundMessage as InboundMessage
from lastmile.service.notifications.models import InboundSecret as InboundSecret
from lastmile.service.notifications.models import OutboundMessage as OutboundMessage
from lastmile.service.notifications.models import WebhookDelivery as WebhookDelivery
from lastmile.service.notifications.models import WebhookEndpoint as WebhookEndpoint
from lastmile.service.orders.models import Order as Order
from lastmile.service.orders.models import OrderItem as OrderItem
from lastmile.service.orders.models import TrackingLink as TrackingLink
from lastmile.service.orgs.models import Organisation as Organisation
from lastmile.service.plans.models import Plan as Plan
from lastmile.service.plans.models import PlanningJob as PlanningJob
from lastmile.service.plans.models import Route as Route
from lastmile.service.plans.models import UnassignedOrder as UnassignedOrder
from lastmile.service.plans.models import Visit as Visit
from lastmile.service.pod.models import PodFile as PodFile
from lastmile.service.pod.models import Proof as Proof
from lastmile.service.replan.models import PlanChange as PlanChange
from lastmile.service.tracking.models import PositionPing as PositionPing
from lastmile.service.tracking.models import RouteProgress as RouteProgress
from lastmile.service.tracking.models import StopEvent as StopEvent
from lastmile.service.tracking.models import TrackerDevice as TrackerDevice

__all__ = [
    "ApiKey",
    "AutomationEntry",
    "AutomationRun",
    "Base",
    "CustomerNotification",
    "CustomerReply",
    "Depot",
    "Driver",
    "LearnedTraffic",
    "Order",
    "OrderItem",
    "Organisation",
    "Plan",
    "PlanChange",
    "PlanningJob",
    "PodFile",
    "PositionPing",
    "Proof",
    "Role",
    "Route",
    "RouteProgress",
    "SessionToken",
    "Shift",
    "StopEvent",
    "TrackerDevice",
    "TrackingLink",
    "UnassignedOrder",
    "User",
    "Vehicle",
    "VehicleType",
    "Visit",
    "WebhookDelivery",
    "WebhookEndpoint",
]
