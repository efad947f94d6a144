"""SMS gateways: how a text leaves for a phone, and how the gateway tells back.

Every gateway is one small module behind :class:`SmsGateway`: ``send`` hands one
text to the gateway and answers what it said (:class:`GatewayAnswer`, with the
gateway's own id of the message); ``parse_status`` reads a delivery-status
callback the gateway posted, ``parse_inbound`` a text a customer sent back, and
``poll`` collects what arrived on a connection the gateway keeps open (SMPP
delivery receipts and replies). A failed ``send`` raises :class:`GatewayError`,
``permanent`` when trying again cannot help (a refused number), so the sending
loop gives up at once instead of retrying.

The operator chooses one with ``LASTMILE_SMS_GATEWAY`` (:func:`make_gateway`):
``log`` (the default: each text is written to the ``lastmile.sms`` log, which
``lastmile serve`` prints), ``http`` (:mod:`.http`: most SMS providers' REST
APIs) or ``smpp`` (:mod:`.smpp`: a bind to an SMSC).
"""

from __future__ import annotations

from lastmile.service.notifications.gateways.base import (
    CallbackFormat,
    DeliveryStatus,
    GatewayAnswer,
    GatewayError,
    InboundSms,
    Received,
    SmsGateway,
    StatusUpdate,
    at_path,
    read_fields,
)
from lastmile.service.notifications.gateways.http import HttpGateway
from lastmile.service.notifications.gateways.log import LogGateway
from lastmile.service.notifications.gateways.smpp import SmppGateway
from lastmile.service.notifications.settings import NotifySettings

__all__ = [
    "CallbackFormat",
    "DeliveryStatus",
    "GatewayAnswer",
    "GatewayError",
    "HttpGateway",
    "InboundSms",
    "LogGateway",
    "Received",
    "SmppGateway",
    "SmsGateway",
    "StatusUpdate",
    "at_path",
    "make_gateway",
    "read_fields",
]


def make_gateway(settings: NotifySettings) -> SmsGateway:
    """The gateway ``settings`` choose (``LASTMILE_SMS_GATEWAY``)."""
    if settings.sms_gateway == "http":
        return HttpGateway.of(settings)
    if settings.sms_gateway == "smpp":
        return SmppGateway.of(settings)
    return LogGateway(callbacks=CallbackFormat.of(settings))
