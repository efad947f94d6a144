"""What every SMS gateway answers, and reading the callbacks gateways post (see the
package's docstring)."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from lastmile.service.notifications.settings import NotifySettings

#: What a status callback or receipt can say about a message.
DeliveryStatus = Literal["sent", "delivered", "failed"]


class GatewayError(Exception):
    """The gateway did not take the message. ``permanent``: trying again cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class GatewayAnswer:
    """What the gateway said when it took a message."""

    #: The gateway's id of the message (what its status callbacks name).
    provider_id: str
    #: How many SMS the text took (long texts are sent in parts).
    segments: int = 1
    #: Ids of the other parts, when the gateway answers one per part.
    part_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery status the gateway reported for one message."""

    status: DeliveryStatus
    provider_id: str = ""
    #: Our reference of the message, when the gateway echoes it.
    reference: str = ""
    error: str = ""


@dataclass(frozen=True)
class InboundSms:
    """A text a phone sent to the organisation's number."""

    sender: str
    text: str
    #: The number it was sent to (empty when the gateway does not say).
    recipient: str = ""


@dataclass
class Received:
    """What :meth:`SmsGateway.poll` collected since the last call."""

    statuses: list[StatusUpdate] = field(default_factory=list)
    inbound: list[InboundSms] = field(default_factory=list)


class SmsGateway(Protocol):
    #: ``log``, ``http`` or ``smpp``: stored with each message.
    name: str

    def send(self, *, to: str, text: str, reference: str) -> GatewayAnswer:
        """Hand one text to the gateway; raise :class:`GatewayError` when it is not taken."""

    def parse_status(self, body: bytes, content_type: str) -> list[StatusUpdate]:
        """The statuses in a callback the gateway posted (raise ``ValueError`` when unreadable)."""

    def parse_inbound(self, body: bytes, content_type: str) -> InboundSms | None:
        """The text in an inbound-message callback (``None``: the post carries none)."""

    def poll(self) -> Received:
        """What arrived on the gateway's own connection since the last call."""

    def close(self) -> None:
        """Let go of connections."""


# -- reading callbacks (shared by the gateways) ------------------------------------------------


def read_fields(body: bytes, content_type: str) -> Any:
    """A callback body as data: JSON, or a form (``a=1&b=2``) as a dict of strings."""
    text = body.decode("utf-8", errors="replace").strip()
    if "json" in content_type or text.startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the body is not JSON ({exc.msg})") from None
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def at_path(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``messages.0.id``: keys and list indices);
    ``None`` when something on the way is missing."""
    value = data
    for key in (p for p in path.split(".") if p):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and re.fullmatch(r"-?\d+", key):
            index = int(key)
            value = value[index] if -len(value) <= index < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


def words(text: str) -> frozenset[str]:
    """``"delivered, DELIVRD"`` -> the words, case-folded."""
    return frozenset(w.casefold() for w in re.split(r"[,\s]+", text) if w)


@dataclass(frozen=True)
class CallbackFormat:
    """Where a gateway's callbacks keep what we read (dotted paths, see :func:`at_path`)."""

    status_id_path: str = "id"
    status_reference_path: str = "reference"
    status_path: str = "status"
    status_error_path: str = "error"
    delivered: frozenset[str] = words("delivered,delivrd,success,ok")
    failed: frozenset[str] = words(
        "failed,undelivered,undeliv,rejected,rejectd,expired,deleted,error"
    )
    inbound_from_path: str = "from"
    inbound_text_path: str = "text"
    inbound_to_path: str = "to"

    @classmethod
    def of(cls, settings: NotifySettings) -> CallbackFormat:
        return cls(
            status_id_path=settings.sms_status_id_path,
            status_reference_path=settings.sms_status_reference_path,
            status_path=settings.sms_status_path,
            status_error_path=settings.sms_status_error_path,
            delivered=words(settings.sms_status_delivered),
            failed=words(settings.sms_status_failed),
            inbound_from_path=settings.sms_inbound_from_path,
            inbound_text_path=settings.sms_inbound_text_path,
            inbound_to_path=settings.sms_inbound_to_path,
        )

    def statuses(self, body: bytes, content_type: str) -> list[StatusUpdate]:
        """Every status in the callback: one object, or a list of them. Statuses that
        are neither delivered nor failed (queued, accepted, ...) are left out."""
        data = read_fields(body, content_type)
        items = data if isinstance(data, list) else [data]
        found = []
        for item in items:
            word = at_path(item, self.status_path)
            if word is None:
                continue
            word = str(word).casefold()
            status: DeliveryStatus
            if word in self.delivered:
                status = "delivered"
            elif word in self.failed:
                status = "failed"
            else:
                continue
            provider_id = at_path(item, self.status_id_path)
            reference = at_path(item, self.status_reference_path)
            error = at_path(item, self.status_error_path)
            if provider_id is None and reference is None:
                continue
            found.append(
                StatusUpdate(
                    status=status,
                    provider_id="" if provider_id is None else str(provider_id),
                    reference="" if reference is None else str(reference),
                    error="" if error is None or status == "delivered" else str(error)[:500],
                )
            )
        return found

    def inbound(self, body: bytes, content_type: str) -> InboundSms | None:
        data = read_fields(body, content_type)
        sender = at_path(data, self.inbound_from_path)
        text = at_path(data, self.inbound_text_path)
        if sender is None or text is None:
            return None
        to = at_path(data, self.inbound_to_path)
        return InboundSms(
            sender=str(sender), text=str(text), recipient="" if to is None else str(to)
        )
