"""An SMPP 3.4 client (through smpplib): one transceiver bind to the operator's SMSC.

The gateway binds as a transceiver on first use and keeps the connection: texts
go out as ``submit_sm`` with a delivery receipt requested, and the same
connection brings back delivery receipts and customers' replies
(``deliver_sm``), which :meth:`SmppGateway.poll` collects (the notifier calls it
every round; it also answers the SMSC's keep-alives). A text longer than one SMS
is split by smpplib into parts joined by a user data header (UDH), in GSM 7-bit
when every character has one, UCS-2 otherwise; the message keeps the first
part's id (receipts for the other parts name their own ids, kept in
``part_ids``).

One connection serves the process, so sends are serialised under a lock; a
lost connection is made again (once at once, later by the retry). ``submit_sm``
answers that the SMSC is busy (throttled, queue full, system error) are worth
another try; others (a bad number) are not.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.exceptions
import smpplib.gsm

from lastmile.exceptions import InputError
from lastmile.service.notifications.gateways.base import (
    CallbackFormat,
    DeliveryStatus,
    GatewayAnswer,
    GatewayError,
    InboundSms,
    Received,
    StatusUpdate,
)
from lastmile.service.notifications.settings import NotifySettings

logger = logging.getLogger("lastmile.sms")

#: submit_sm answers worth trying again later.
_TRANSIENT = {
    smpplib.consts.SMPP_ESME_RTHROTTLED,
    smpplib.consts.SMPP_ESME_RMSGQFUL,
    smpplib.consts.SMPP_ESME_RSYSERR,
}
#: The receipt's ``stat:`` word -> what it means for the message (others: still on the way).
_RECEIPT_STATUS: dict[str, DeliveryStatus] = {
    "DELIVRD": "delivered",
    "UNDELIV": "failed",
    "EXPIRED": "failed",
    "REJECTD": "failed",
    "DELETED": "failed",
    "UNKNOWN": "failed",
}
#: esm_class bits of a deliver_sm that carries a delivery receipt.
_RECEIPT_BITS = 0x04 | 0x08 | 0x20
_UCS2 = smpplib.consts.SMPP_ENCODING_ISO10646
_OK: int = smpplib.consts.SMPP_ESME_ROK


def parse_receipt(text: str) -> StatusUpdate | None:
    """``id:123 sub:001 dlvr:001 ... stat:DELIVRD err:000 text:...`` -> its status
    (``None`` when the receipt says the message is still on the way)."""
    found = dict(re.findall(r"(\w+):(\S*)", text))
    provider_id = found.get("id", "")
    status = _RECEIPT_STATUS.get(found.get("stat", "").upper())
    if not provider_id or status is None:
        return None
    err = found.get("err", "")
    error = f"{found['stat']} (err {err})" if status == "failed" else ""
    return StatusUpdate(status=status, provider_id=provider_id, error=error)


def _text_of(pdu: Any) -> str:
    raw = pdu.short_message or getattr(pdu, "message_payload", None) or b""
    if isinstance(raw, str):
        return raw
    if int(getattr(pdu, "esm_class", 0) or 0) & 0x40 and raw:  # a UDH before the text
        raw = raw[raw[0] + 1 :]
    if int(getattr(pdu, "data_coding", 0) or 0) == _UCS2:
        return bytes(raw).decode("utf-16-be", errors="replace")
    return bytes(raw).decode("latin-1", errors="replace")


def _address(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")


@dataclass
class SmppGateway:
    host: str
    port: int = 2775
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    source_addr: str = ""
    source_ton: int = smpplib.consts.SMPP_TON_ALNUM
    source_npi: int = smpplib.consts.SMPP_NPI_UNK
    dest_ton: int = smpplib.consts.SMPP_TON_INTL
    dest_npi: int = smpplib.consts.SMPP_NPI_ISDN
    timeout_s: float = 10.0
    callbacks: CallbackFormat = field(default_factory=CallbackFormat)
    name: str = "smpp"
    _client: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _received: Received = field(default_factory=Received)
    #: submit_sm sequence -> (message id, or None and the error status).
    _answers: dict[int, tuple[str | None, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: NotifySettings) -> SmppGateway:
        if not settings.smpp_host:
            raise InputError(
                "LASTMILE_SMS_GATEWAY=smpp needs LASTMILE_SMPP_HOST", where="smpp_host"
            )
        return cls(
            host=settings.smpp_host,
            port=settings.smpp_port,
            system_id=settings.smpp_system_id,
            password=settings.smpp_password,
            system_type=settings.smpp_system_type,
            source_addr=settings.sms_from,
            source_ton=settings.smpp_source_ton,
            source_npi=settings.smpp_source_npi,
            dest_ton=settings.smpp_dest_ton,
            dest_npi=settings.smpp_dest_npi,
            timeout_s=settings.sms_timeout_s,
            callbacks=CallbackFormat.of(settings),
        )

    # -- the connection ------------------------------------------------------------------------

    def _on_sent(self, pdu: Any, **kwargs: Any) -> None:
        del kwargs
        if int(pdu.status or 0):  # an error answer (smpplib calls both handlers)
            self._answers[int(pdu.sequence)] = (None, int(pdu.status))
            return
        message_id = _address(pdu.message_id) if pdu.message_id is not None else ""
        self._answers[int(pdu.sequence)] = (message_id, 0)

    def _on_error(self, pdu: Any) -> None:
        self._answers[int(pdu.sequence)] = (None, int(pdu.status))

    def _on_received(self, pdu: Any, **kwargs: Any) -> int:
        del kwargs
        if pdu.command != "deliver_sm":
            return _OK
        text = _text_of(pdu)
        receipted = getattr(pdu, "receipted_message_id", None)
        if int(pdu.esm_class or 0) & _RECEIPT_BITS:
            update = parse_receipt(text)
            if update is not None and receipted:
                update = StatusUpdate(
                    status=update.status, provider_id=_address(receipted), error=update.error
                )
            if update is not None:
                self._received.statuses.append(update)
        else:
            self._received.inbound.append(
                InboundSms(
                    sender=_address(pdu.source_addr),
                    text=text,
                    recipient=_address(pdu.destination_addr),
                )
            )
        return _OK

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        client = smpplib.client.Client(
            self.host, self.port, timeout=self.timeout_s, allow_unknown_opt_params=True
        )
        client.set_message_sent_handler(self._on_sent)
        client.set_message_received_handler(self._on_received)
        client.set_error_pdu_handler(self._on_error)
        try:
            client.connect()
            client.bind_transceiver(
                system_id=self.system_id, password=self.password, system_type=self.system_type
            )
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError, OSError) as exc:
            self._drop(client)
            raise GatewayError(f"cannot bind to the SMSC {self.host}:{self.port}: {exc}") from None
        logger.info("bound to the SMSC %s:%s as %s", self.host, self.port, self.system_id)
        self._client = client
        return client

    def _drop(self, client: Any) -> None:
        with contextlib.suppress(Exception):  # already gone
            client.disconnect()
        if client is self._client:
            self._client = None

    # -- sending ----------------------------------------------------------------------------------

    def _submit(self, client: Any, to: str, text: str) -> list[int]:
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        sequences = []
        for part in parts:
            pdu = client.send_message(
                source_addr_ton=self.source_ton,
                source_addr_npi=self.source_npi,
                source_addr=self.source_addr,
                dest_addr_ton=self.dest_ton,
                dest_addr_npi=self.dest_npi,
                destination_addr=to.lstrip("+"),
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
                registered_delivery=smpplib.consts.SMPP_SMSC_DELIVERY_RECEIPT_BOTH,
            )
            sequences.append(int(pdu.sequence))
        return sequences

    def _await(self, client: Any, sequences: list[int]) -> list[tuple[str | None, int]]:
        deadline = 4 + len(sequences)  # reads (each up to timeout_s) before giving up
        while any(s not in self._answers for s in sequences):
            if deadline == 0:
                raise GatewayError("the SMSC did not answer submit_sm in time")
            deadline -= 1
            try:
                client.read_once(auto_send_enquire_link=True)
            except TimeoutError:
                continue
        return [self._answers.pop(s) for s in sequences]

    def send(self, *, to: str, text: str, reference: str) -> GatewayAnswer:
        del reference  # SMPP has no field for it: receipts name the SMSC's id
        with self._lock:
            for attempt in (1, 2):
                client = self._connect()
                try:
                    answers = self._await(client, self._submit(client, to, text))
                    break
                except (smpplib.exceptions.ConnectionError, OSError) as exc:
                    self._drop(client)
                    if attempt == 2:
                        raise GatewayError(f"the SMSC connection was lost: {exc}") from None
                except smpplib.exceptions.MessageTooLong:
                    raise GatewayError("the text is too long for SMS", permanent=True) from None
            failed = [status for message_id, status in answers if message_id is None]
            if failed:
                status = failed[0]
                description = smpplib.consts.DESCRIPTIONS.get(status, "unknown error")
                raise GatewayError(
                    f"the SMSC refused the message: {description} (0x{status:08x})",
                    permanent=status not in _TRANSIENT,
                )
            ids = [message_id or "" for message_id, _ in answers]
            return GatewayAnswer(provider_id=ids[0], segments=len(ids), part_ids=tuple(ids[1:]))

    # -- what comes back -------------------------------------------------------------------------

    def poll(self) -> Received:
        with self._lock:
            if self._client is not None:
                try:
                    self._client.poll()
                except (smpplib.exceptions.ConnectionError, OSError):
                    self._drop(self._client)
            received, self._received = self._received, Received()
            return received

    def parse_status(self, body: bytes, content_type: str) -> list[StatusUpdate]:
        return self.callbacks.statuses(body, content_type)

    def parse_inbound(self, body: bytes, content_type: str) -> InboundSms | None:
        return self.callbacks.inbound(body, content_type)

    def close(self) -> None:
        with self._lock:
            client = self._client
            if client is None:
                return
            with contextlib.suppress(Exception):  # closing anyway
                client.unbind()
            self._drop(client)
