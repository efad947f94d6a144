"""The log gateway (the default): each text is written to the ``lastmile.sms`` log.

Nothing reaches a phone; the text shows in ``lastmile serve``'s output (the
service's log configuration prints ``lastmile.sms`` at INFO), which is enough
to try the service out and to see what customers would receive. The last texts
are also kept in ``sent`` (tests read them).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from lastmile.service.notifications.gateways.base import (
    CallbackFormat,
    GatewayAnswer,
    InboundSms,
    Received,
    StatusUpdate,
)

logger = logging.getLogger("lastmile.sms")


@dataclass
class LogGateway:
    name: str = "log"
    callbacks: CallbackFormat = field(default_factory=CallbackFormat)
    #: (to, text, reference) of the last texts.
    sent: deque[tuple[str, str, str]] = field(default_factory=lambda: deque(maxlen=1000))
    #: Where the texts are logged: ``lastmile.sms``, or a child of it for one
    #: service among several in a process (a private service's own file).
    log: logging.Logger = field(default=logger, repr=False)

    def send(self, *, to: str, text: str, reference: str) -> GatewayAnswer:
        self.log.info("SMS to %s [%s]: %s", to, reference, text)
        self.sent.append((to, text, reference))
        return GatewayAnswer(provider_id=f"log-{reference}")

    def parse_status(self, body: bytes, content_type: str) -> list[StatusUpdate]:
        return self.callbacks.statuses(body, content_type)

    def parse_inbound(self, body: bytes, content_type: str) -> InboundSms | None:
        return self.callbacks.inbound(body, content_type)

    def poll(self) -> Received:
        return Received()

    def close(self) -> None:
        pass
